/**
 * `npm run bench`: FinCore side by side with what the database can do (see bench/README.md).
 *
 *   npm run bench                       PostgreSQL server (DATABASE_URL), its own database
 *   npm run bench -- --embedded         embedded PGlite in a temporary data dir
 *   npm run bench -- --scale            + 200,000 charges and 1,000,000 refunds of history
 *   npm run bench -- --quick            shorter runs, smaller backlog (iterating)
 *   npm run bench -- --fairness         one merchant's flood vs another's p99 (bench/fairness.ts)
 *   npm run bench -- --help             every flag
 *
 * Everything it starts (FinCore processes, the PSP simulator, pgbench) is stopped at the end,
 * on failure and on Ctrl-C; its database (or data dir) is dropped. Progress goes to stderr; the
 * table and the summary go to stdout, and the last line printed is the summary line.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../src/config.ts';
import { startFinCore, type RunningFinCore } from '../src/main.ts';
import { call, createCharges, createMerchant, createRefunds, statusesOf, type Merchant, type SeededCharge } from './lib/api.ts';
import { apiUrlOf, Child, killAllNow, stopAll, type StoppedInfo } from './lib/children.ts';
import {
  backlogProgress,
  bulkLoad,
  countSucceeded,
  createBenchTables,
  insertBenchCharges,
  insertRefundBacklog,
  neutraliseAuditBacklog,
  neutraliseQueuedJobs,
  queueIsEmpty,
  settleLatency,
  tableRows,
  type BacklogProgress,
  type SettleLatency,
} from './lib/data.ts';
import { formatExplained, QueryCapture, type ExplainedStatement } from './lib/explain.ts';
import { closedLoop, openLoop, type ClosedLoopResult, type OpenLoopResult, type PreparedRequest } from './lib/load.ts';
import { killPgbench, PGBENCH, requiredFunction, runPgbench, type PgbenchResult } from './lib/pgbench.ts';
import { createBenchDatabase, embeddedSql, serverSql, type Sql } from './lib/sql.ts';
import { cpuBusyShare, fmt, log, machineCpu, round, sleep, table } from './lib/util.ts';

const BENCH_DIR = new URL('./', import.meta.url).pathname;
const REFERENCE_SQL = join(BENCH_DIR, 'reference_refund.sql');
const FINCORE_SQL = join(BENCH_DIR, 'fincore_refund.sql');
const CHARGE_AMOUNT = 99_999_999; // the largest amount FinCore takes: refunds of 1..500 never exhaust it
const HISTORY_REFUND_AMOUNT = 100; // the one settled refund each seeded charge starts with

// ---------------------------------------------------------------------------------- options

interface Options {
  embedded: boolean;
  scale: boolean;
  quick: boolean;
  durationS: number;
  warmupS: number;
  connections: number[];
  merchants: number;
  charges: number;
  backlog: number;
  workers: number[];
  settleRate: number;
  settleS: number;
  drainTimeoutS: number;
  scaleCharges: number;
  scaleRefunds: number;
  skip: Set<string>;
  explain: boolean;
}

const PHASES = ['refunds', 'charges', 'pgbench', 'settle', 'worker'] as const;

const HELP = `usage: npm run bench -- [flags]
  --embedded            against embedded PGlite (DATABASE_URL unset, temporary FINCORE_DATA_DIR); no pgbench
  --scale               load 200,000 charges + 1,000,000 refunds of history after the small-table
                        POST runs, then run everything again on it and compare (EXPLAIN in the results)
  --quick               short runs for iterating (duration 5 s, warm-up 2 s, 400 charges, backlog 5,000)
  --duration <s>        seconds per measured closed-loop and pgbench run (default 10)
  --warmup <s>          warm-up seconds before the POST runs (default 3)
  --connections <list>  closed-loop connections / pgbench clients (default 16,64; the first is the headline)
  --merchants <n>       merchants seeded (default 4)
  --charges <n>         succeeded charges seeded per charge set (default 1000)
  --backlog <n>         REFUND jobs in each worker backlog (default 20000; embedded 3000)
  --workers <list>      worker process counts to drain a backlog with (default 1,2; embedded: 1, in-process)
  --settle-rate <n>     refunds/s offered in the settle run (default 200; embedded 100)
  --settle-duration <s> seconds of the settle run (default 10)
  --drain-timeout <s>   stop draining a backlog after this; jobs/s is then over the jobs done (default 75)
  --scale-charges <n>   --scale history charges (default 200000)
  --scale-refunds <n>   --scale history refunds (default 1000000)
  --skip <list>         phases to leave out: ${PHASES.join(',')}
  --no-explain          do not capture EXPLAIN (ANALYZE, BUFFERS) of the hot statements
  --fairness            only the fairness scenario (bench/fairness.ts): merchant B's p99 quiet and
                        while merchant A floods, and their ratio; --duration, --b-rate (50), --flood-rate (2000)
Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres: the bench creates
fincore_bench_<pid> there and drops it), PGBENCH (default /usr/bin/pgbench); FINCORE_* variables
you set (e.g. FINCORE_DB_POOL_SIZE, FINCORE_WORKER_BATCH) reach the FinCore processes, except those
the bench fixes (ports, admin key, rate limit off, settle delay 0, reconciliation out of the run).`;

const KNOWN_FLAGS = ['duration', 'warmup', 'connections', 'merchants', 'charges', 'backlog', 'workers', 'settle-rate', 'settle-duration', 'drain-timeout', 'scale-charges', 'scale-refunds', 'skip'];

function parseOptions(argv: string[]): Options {
  const flags = new Map<string, string>();
  const bools = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}\n${HELP}`);
    const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    if (['embedded', 'scale', 'quick', 'help', 'no-explain'].includes(name)) {
      bools.add(name);
      continue;
    }
    if (!KNOWN_FLAGS.includes(name)) throw new Error(`unknown flag --${name}\n${HELP}`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`--${name} needs a value\n${HELP}`);
    flags.set(name, value);
  }
  if (bools.has('help')) {
    process.stdout.write(`${HELP}\n`);
    process.exit(0);
  }
  const embedded = bools.has('embedded');
  const quick = bools.has('quick');
  const num = (name: string, fallback: number, min: number, max: number): number => {
    const raw = flags.get(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min || value > max) throw new Error(`--${name} must be a number between ${min} and ${max}`);
    return value;
  };
  const list = (name: string, fallback: number[], min: number, max: number): number[] => {
    const raw = flags.get(name);
    if (raw === undefined) return fallback;
    const values = raw.split(',').map(Number);
    if (values.length === 0 || values.some((v) => !Number.isInteger(v) || v < min || v > max)) throw new Error(`--${name}: comma-separated integers between ${min} and ${max}`);
    return values;
  };
  const skip = new Set((flags.get('skip') ?? '').split(',').filter(Boolean));
  for (const phase of skip) if (!(PHASES as readonly string[]).includes(phase)) throw new Error(`--skip: unknown phase ${phase} (${PHASES.join(', ')})`);
  if (embedded) skip.add('pgbench');
  return {
    embedded,
    scale: bools.has('scale'),
    quick,
    durationS: num('duration', quick ? 5 : 10, 1, 600),
    warmupS: num('warmup', quick ? 2 : 3, 0, 120),
    connections: list('connections', [16, 64], 1, 90),
    merchants: num('merchants', 4, 1, 100),
    charges: num('charges', quick ? 400 : 1000, 10, 100_000),
    backlog: num('backlog', embedded ? (quick ? 1000 : 3000) : quick ? 5000 : 20_000, 10, 1_000_000),
    workers: embedded ? [1] : list('workers', [1, 2], 1, 8),
    settleRate: num('settle-rate', embedded ? 100 : 200, 1, 10_000),
    settleS: num('settle-duration', quick ? 5 : 10, 1, 600),
    drainTimeoutS: num('drain-timeout', 75, 5, 3600),
    scaleCharges: num('scale-charges', 200_000, 1000, 10_000_000),
    scaleRefunds: num('scale-refunds', 1_000_000, 1000, 50_000_000),
    skip,
    explain: !bools.has('no-explain') && !embedded,
  };
}

// ---------------------------------------------------------------------------------- cleanup

const cleanups: Array<{ what: string; run: () => Promise<void> }> = [];
let cleaning: Promise<void> | undefined;

function onCleanup(what: string, run: () => Promise<void>): void {
  cleanups.push({ what, run });
}

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    killPgbench();
    await stopAll(8000);
    for (const step of cleanups.reverse()) {
      await step.run().catch((error: unknown) => log(`cleanup: ${step.what} failed: ${error instanceof Error ? error.message : String(error)}`));
    }
  })();
  return cleaning;
}

process.on('exit', () => {
  killPgbench();
  killAllNow();
});
let interrupted = false;

/** Phases call this between runs: after Ctrl-C nothing new starts. */
function checkInterrupted(): void {
  if (interrupted) throw new Error('interrupted');
}

for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: stopping everything the bench started`);
    const force = setTimeout(() => process.exit(code), 30_000);
    force.unref();
    void cleanup().finally(() => {
      writePartial(`interrupted by ${signal}`);
      process.exit(code);
    });
  });
}

/** What was measured so far: written to bench/results/ even when a later phase fails. */
let partial: Results | undefined;

function writePartial(reason: string): void {
  if (!partial) return;
  try {
    const dir = join(BENCH_DIR, 'results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-incomplete.json`);
    partial.notes.push(`INCOMPLETE: ${reason}`);
    writeFileSync(file, `${JSON.stringify(partial, null, 2)}\n`);
    log(`partial results: ${file}`);
  } catch {
    // nothing more to do
  }
}

// ---------------------------------------------------------------------------------- helpers

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function pick<T>(items: readonly T[]): T {
  const item = items[Math.floor(Math.random() * items.length)];
  if (item === undefined) throw new Error('nothing to pick from');
  return item;
}

function refundRequest(charges: readonly SeededCharge[]): () => PreparedRequest {
  return () => {
    const charge = pick(charges);
    return {
      headers: { 'content-type': 'application/json', authorization: `Bearer ${charge.merchant.apiKey}`, 'idempotency-key': randomUUID() },
      body: JSON.stringify({ charge_id: charge.id, amount: 1 + Math.floor(Math.random() * 500), reason: 'requested_by_customer' }),
    };
  };
}

function chargeRequest(merchants: readonly Merchant[]): () => PreparedRequest {
  return () => {
    const merchant = pick(merchants);
    return {
      headers: { 'content-type': 'application/json', authorization: `Bearer ${merchant.apiKey}`, 'idempotency-key': randomUUID() },
      body: JSON.stringify({ amount: 100 + Math.floor(Math.random() * 100_000), currency: 'usd', payment_method: 'pm_card_visa', description: 'bench charge' }),
    };
  };
}

function machine(): Record<string, unknown> {
  let nproc: number | null = null;
  try {
    nproc = Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  } catch {
    nproc = cpus().length;
  }
  return { nproc, cpu: cpus()[0]?.model ?? 'unknown', memory_gb: round(totalmem() / 2 ** 30, 1), node: process.version, platform: `${process.platform} ${process.arch}`, loadavg_at_start: loadavg().map((l) => round(l, 2)) };
}

// ---------------------------------------------------------------------------------- results

interface HttpRun {
  endpoint: string;
  data: 'small' | 'scaled';
  process: string;
  connections: number;
  requests_per_s: number | null;
  p50_ms: number | null;
  p99_ms: number | null;
  ok: number;
  non_2xx: number;
  status_counts: Record<string, number>;
  socket_errors: number;
  timeouts: number;
  api_cpu_ms_per_request: number | null;
  /** CPU of the bench process itself (autocannon) per request: the load generator's share. */
  loadgen_cpu_ms_per_request: number | null;
  machine_cpu_busy: number | null;
  /** pg_stat_wal over the run, per 2xx answer (cluster-wide: anything else writing counts too). */
  wal: WalPer | null;
  autocannon: ClosedLoopResult['autocannon'];
}

interface WalPer {
  bytes: number | null;
  records: number | null;
  full_page_images: number | null;
}

interface PgbenchRun {
  script: string;
  data: 'small' | 'scaled';
  clients: number;
  threads: number;
  tps: number | null;
  p50_ms: number | null;
  p99_ms: number | null;
  transactions: number;
  failed: number;
  exit_code: number | null;
  machine_cpu_busy: number | null;
  wal: WalPer | null;
  /** Refund rows the run inserted: a transaction that wrote nothing shows here. */
  refunds_inserted: number | null;
  /** tps x refunds_inserted / transactions: refunds actually written per second. */
  refunds_per_s: number | null;
  output: string;
}

interface SettleRun {
  data: 'small' | 'scaled';
  process: string;
  offered_per_s: number;
  duration_s: number;
  sent: number;
  skipped: number;
  ok: number;
  status_counts: Record<string, number>;
  socket_errors: number;
  post_p50_ms: number | null;
  post_p99_ms: number | null;
  settle: SettleLatency;
  settle_p50_ms: number | null;
  settle_p99_ms: number | null;
  /** CPU per refund (POST, job, webhook) of the FinCore process and of the simulator, ms. */
  fincore_cpu_ms_per_refund: number | null;
  simulator_cpu_ms_per_refund: number | null;
  machine_cpu_busy: number | null;
}

interface WorkerRun {
  data: 'small' | 'scaled';
  workers: number;
  processes: string;
  backlog: number;
  jobs_per_s: number | null;
  wall_clock_jobs_per_s: number | null;
  drained: boolean;
  progress: BacklogProgress;
  worker_peak_rss_mb: Array<number | null>;
  worker_cpu_ms_per_job: number | null;
  /** The webhook intake's and the simulator's CPU per job over the drain, ms. */
  api_cpu_ms_per_job: number | null;
  simulator_cpu_ms_per_job: number | null;
  machine_cpu_busy: number | null;
  drain_timeout_s: number;
}

interface Results {
  started_at: string;
  finished_at?: string;
  command: string;
  mode: 'server' | 'embedded';
  options: Record<string, unknown>;
  machine: Record<string, unknown>;
  database: Record<string, unknown>;
  fincore_env: Record<string, string>;
  seed: Record<string, unknown>;
  http: HttpRun[];
  pgbench: PgbenchRun[];
  settle: SettleRun[];
  worker: WorkerRun[];
  processes: StoppedInfo[];
  table_rows: Record<string, Record<string, number>>;
  scale?: Record<string, unknown>;
  explain?: { data: 'small' | 'scaled'; round_trips: Record<string, string[]>; statements: ExplainedStatement[] };
  notes: string[];
  summary?: Record<string, number | null>;
  summary_line?: string;
}

// ---------------------------------------------------------------------------------- main

async function main(): Promise<{ results: Results; options: Options }> {
  const options = parseOptions(process.argv.slice(2));
  const serverUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
  const adminKey = `adm_bench_${randomBytes(12).toString('hex')}`;
  const results: Results = (partial = {
    started_at: new Date().toISOString(),
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    mode: options.embedded ? 'embedded' : 'server',
    options: { ...options, skip: [...options.skip] },
    machine: machine(),
    database: {},
    fincore_env: Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('FINCORE_') && e[1] !== undefined)),
    seed: {},
    http: [],
    pgbench: [],
    settle: [],
    worker: [],
    processes: [],
    table_rows: {},
    notes: [],
  });
  const has = (phase: (typeof PHASES)[number]) => !options.skip.has(phase);
  const [load1] = loadavg();
  if ((load1 ?? 0) > 0.5 * cpus().length) {
    const note = `the machine was busy when the bench started (1-minute load average ${fmt(load1, 2)} on ${cpus().length} cores): figures are noisy; ratios measured in this one run stay comparable`;
    results.notes.push(note);
    log(`warning: ${note}`);
  }

  // --- the database: our own, dropped at the end -----------------------------------------
  let dbUrl = '';
  let dataDir = '';
  let admin: (Sql & { client: import('pg').Client }) | undefined;
  if (options.embedded) {
    dataDir = mkdtempSync(join(tmpdir(), 'fincore-bench-'));
    onCleanup('remove the embedded data dir', async () => rmSync(dataDir, { recursive: true, force: true }));
    results.database = { kind: 'embedded PGlite', data_dir: dataDir };
    log(`embedded PGlite in ${dataDir}`);
  } else {
    const db = await createBenchDatabase(serverUrl);
    onCleanup(`drop database ${db.name}`, () => db.drop());
    dbUrl = db.url;
    admin = await serverSql(dbUrl);
    onCleanup('close the bench connection', () => admin?.close() ?? Promise.resolve());
    const settings = await admin.query<{ name: string; setting: string }>(
      `SELECT name, setting FROM pg_settings WHERE name IN ('server_version', 'max_connections', 'shared_buffers', 'synchronous_commit', 'fsync', 'wal_level', 'autovacuum', 'max_wal_size', 'checkpoint_timeout')`,
    );
    results.database = { kind: 'PostgreSQL server', name: db.name, ...Object.fromEntries(settings.map((s) => [s.name, s.setting])) };
    log(`database ${db.name} on ${new URL(serverUrl).host} (PostgreSQL ${String(results.database.server_version)})`);
  }

  // --- processes ------------------------------------------------------------------------------
  const apiPort = await freePort();
  const baseEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['PGHOST', 'PGPORT', 'PGDATABASE', 'PGUSER', 'PGPASSWORD', 'PGSSLMODE']) delete baseEnv[name];
  const simulator = new Child('psp-simulator', ['psp-simulator'], {
    ...baseEnv,
    DATABASE_URL: dbUrl,
    FINCORE_SIM_HOST: '127.0.0.1',
    FINCORE_SIM_PORT: '0',
    FINCORE_SIM_SETTLE_MS: '0',
    FINCORE_SIM_WEBHOOK_URL: `http://127.0.0.1:${apiPort}/v1/webhooks/psp`,
    LOG_LEVEL: 'warn',
  });
  const simUrl = (await simulator.waitFor(/PSP simulator listening on (http:\/\/[^\s,]+)/))[1] ?? '';
  log(`PSP simulator at ${simUrl} (settle delay 0), webhooks to the API port ${apiPort}`);
  const fincoreEnv: NodeJS.ProcessEnv = {
    ...baseEnv,
    DATABASE_URL: dbUrl,
    ...(options.embedded ? { FINCORE_DATA_DIR: dataDir } : {}),
    HOST: '127.0.0.1',
    PORT: String(apiPort),
    FINCORE_ADMIN_KEY: adminKey,
    // Throughput runs: every limit off (the simulator's webhooks alone exceed the webhook limit
    // in the worker run). The fairness scenario (--fairness) measures the limits.
    FINCORE_RATE_LIMIT_PER_S: '0',
    FINCORE_RATE_LIMIT_ADMIN_PER_S: '0',
    FINCORE_RATE_LIMIT_WEBHOOK_PER_S: '0',
    FINCORE_RATE_LIMIT_ADDRESS_PER_S: '0',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
    FINCORE_SIM_URL: simUrl,
    FINCORE_SIM_SETTLE_MS: '0',
    FINCORE_PSP: 'simulator',
    FINCORE_QUEUE: 'postgres',
    FINCORE_FAILPOINTS: '',
    // Reconciliation would ask the PSP about the refunds the POST runs leave pending on purpose.
    FINCORE_RECONCILE_AFTER_MS: '86400000',
    FINCORE_RECONCILE_INTERVAL_MS: '86400000',
    // Nor the start-up sweep: the POST runs' refunds have their jobs marked done without a PSP
    // call, which the sweep takes for "sent, webhook lost" and would resubmit during the settle run.
    FINCORE_RECONCILE_AT_START_MS: '600000',
  };
  const stopped = async (child: Child, grace?: number) => {
    const info = await child.stop(grace);
    results.processes.push(info);
    if (info.logs.warn + info.logs.error > 0) log(`${child.name}: ${info.logs.error} error and ${info.logs.warn} warn log lines, e.g. ${info.logs.samples.join(' | ')}`);
    return info;
  };
  const startFinCoreProcess = async (name: string, command: 'start' | 'api' | 'worker'): Promise<{ child: Child; url: string }> => {
    checkInterrupted();
    const child = new Child(name, [command], fincoreEnv);
    if (command === 'worker') {
      await child.waitFor(/FinCore is running/);
      return { child, url: '' };
    }
    return { child, url: await apiUrlOf(child) };
  };
  const withSql = async <T>(work: (sql: Sql) => Promise<T>): Promise<T> => {
    if (admin) return work(admin);
    const sql = await embeddedSql(dataDir);
    try {
      return await work(sql);
    } finally {
      await sql.close();
    }
  };
  const checkpoint = async () => {
    if (admin) await admin.exec('CHECKPOINT');
  };
  const walNow = async () => (admin ? (await admin.query<{ records: number; fpi: number; bytes: number }>('SELECT wal_records::float8 AS records, wal_fpi::float8 AS fpi, wal_bytes::float8 AS bytes FROM pg_stat_wal'))[0] : undefined);
  const walPer = (before: Awaited<ReturnType<typeof walNow>>, after: Awaited<ReturnType<typeof walNow>>, count: number): WalPer | null =>
    before && after && count > 0
      ? { bytes: round((after.bytes - before.bytes) / count, 0), records: round((after.records - before.records) / count, 1), full_page_images: round((after.fpi - before.fpi) / count, 2) }
      : null;

  // --- seed: merchants and succeeded charges, through the API, settled by a worker ------------
  const seedStart = Date.now();
  const seeder = await startFinCoreProcess('seed (start: API + worker)', 'start');
  const merchants: Merchant[] = [];
  for (let i = 0; i < options.merchants; i++) merchants.push(await createMerchant(seeder.url, adminKey, `Bench merchant ${i + 1}`));
  const setA = await createCharges(seeder.url, merchants, options.charges, CHARGE_AMOUNT);
  const setB = options.scale ? await createCharges(seeder.url, merchants, options.charges, CHARGE_AMOUNT) : [];
  const allCharges = [...setA, ...setB];
  log(`seeded ${merchants.length} merchants and ${allCharges.length} charges of ${CHARGE_AMOUNT}; waiting for them to succeed`);
  const waitUntilSucceeded = async (kind: 'charges' | 'refunds', objects: Array<{ id: string; key: string }>) => {
    const deadline = Date.now() + 120_000;
    for (;;) {
      let succeeded: number;
      if (admin) {
        succeeded = await countSucceeded(admin, kind === 'charges' ? 'payments' : 'refunds', objects.map((o) => o.id));
      } else {
        const statuses = await statusesOf(seeder.url, kind, objects);
        succeeded = [...statuses.values()].filter((s) => s === 'succeeded').length;
      }
      if (succeeded === objects.length) return;
      if (Date.now() > deadline) throw new Error(`only ${succeeded} of ${objects.length} seeded ${kind} succeeded within 120 s`);
      await sleep(500);
    }
  };
  await waitUntilSucceeded('charges', allCharges.map((c) => ({ id: c.id, key: c.merchant.apiKey })));
  // A young database in use rather than an empty one: each charge gets one settled refund before
  // the ANALYZE below. Plans that FinCore's connections cache (the foreign-key checks, the refund
  // function's statements) are made against these statistics; made against an empty refunds
  // table they stay sequential scans while the table grows, which a server with autovacuum
  // would correct within a minute but this run (autovacuum may be off) never would.
  const historyRefunds = await createRefunds(seeder.url, allCharges, HISTORY_REFUND_AMOUNT);
  await waitUntilSucceeded('refunds', historyRefunds.map((id, i) => ({ id, key: allCharges[i]?.merchant.apiKey ?? '' })));
  await stopped(seeder.child);
  await withSql(async (sql) => {
    await createBenchTables(sql);
    await insertBenchCharges(sql, setA, 1);
    if (setB.length) await insertBenchCharges(sql, setB, options.charges + 1);
    if (admin) await sql.exec('ANALYZE');
  });
  results.seed = { merchants: merchants.length, charge_sets: options.scale ? 2 : 1, charges_per_set: options.charges, charge_amount: CHARGE_AMOUNT, seconds: round((Date.now() - seedStart) / 1000) };
  log(`seed done in ${fmt((Date.now() - seedStart) / 1000)} s`);

  const fincoreForm = !options.embedded && has('pgbench') && requiredFunction(FINCORE_SQL) !== undefined
    ? await admin!.query<{ ok: boolean }>(`SELECT EXISTS (SELECT 1 FROM pg_proc WHERE proname = $1) AS ok`, [requiredFunction(FINCORE_SQL)]).then((r) => r[0]?.ok === true)
    : false;
  if (!options.embedded && has('pgbench')) {
    results.notes.push(fincoreForm
      ? `FinCore's hot path calls ${requiredFunction(FINCORE_SQL)}(): pgbench also runs bench/fincore_refund.sql (FinCore's own form).`
      : `No ${requiredFunction(FINCORE_SQL) ?? 'hot-path'} function in the migrated database: bench/fincore_refund.sql is not run.`);
  }

  // --- POST runs (API-only process) and pgbench, on one data size ------------------------------
  const postPhase = async (data: 'small' | 'scaled', charges: SeededCharge[], nlo: number, api: { child: Child; url: string }) => {
    const measure = async (endpoint: string, path: string, connections: number, make: () => PreparedRequest) => {
      checkInterrupted();
      await checkpoint();
      const wal0 = await walNow();
      const cpuBefore = api.child.cpuMs();
      const ownBefore = process.cpuUsage();
      log(`${endpoint} at ${connections} connections for ${options.durationS} s (${data} tables)`);
      const run = await closedLoop({ url: api.url, path, connections, durationS: options.durationS, make });
      const cpuAfter = api.child.cpuMs();
      const own = process.cpuUsage(ownBefore);
      const wal1 = await walNow();
      api.child.sample();
      const total = run.ok + run.non2xx;
      const entry: HttpRun = {
        endpoint,
        data,
        process: 'fincore api (API only: no worker competes for the cores)',
        connections,
        requests_per_s: round(run.rps, 1),
        p50_ms: round(run.latencyMs.p50, 2),
        p99_ms: round(run.latencyMs.p99, 2),
        ok: run.ok,
        non_2xx: run.non2xx,
        status_counts: run.statusCounts,
        socket_errors: run.socketErrors,
        timeouts: run.timeouts,
        api_cpu_ms_per_request: cpuBefore !== null && cpuAfter !== null && total > 0 ? round((cpuAfter - cpuBefore) / total, 3) : null,
        loadgen_cpu_ms_per_request: total > 0 ? round((own.user + own.system) / 1000 / total, 3) : null,
        machine_cpu_busy: round(run.machineCpuBusy, 3),
        wal: walPer(wal0, wal1, run.ok),
        autocannon: run.autocannon,
      };
      results.http.push(entry);
      log(`  ${fmt(entry.requests_per_s)} req/s, p50 ${fmt(entry.p50_ms, 2)} ms, p99 ${fmt(entry.p99_ms, 2)} ms, non-2xx ${entry.non_2xx}, socket errors ${entry.socket_errors}`);
      if (entry.non_2xx > 0) log(`  non-2xx answers: ${JSON.stringify(entry.status_counts)}`);
    };
    const pgbench = async (script: string, clients: number) => {
      checkInterrupted();
      await checkpoint();
      log(`pgbench ${script.split('/').pop() ?? script} at ${clients} clients for ${options.durationS} s (${data} tables)`);
      // The scripts' refund ids are 're_' + 14 hex digits of microseconds: above every FinCore
      // ULID ('re_01...') and ordered by time, so a primary-key range counts this run's rows.
      const [{ lo } = { lo: 're_1' }] = await admin!.query<{ lo: string }>(`SELECT 're_' || lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000000)::bigint), 14, '0') AS lo`);
      const wal0 = await walNow();
      const r: PgbenchResult = await runPgbench({ url: dbUrl, script, clients, durationS: options.durationS, variables: { nlo, nhi: nlo + charges.length - 1 } });
      const wal1 = await walNow();
      const [{ n: inserted } = { n: Number.NaN }] = await admin!.query<{ n: number }>(`SELECT count(*)::int AS n FROM refunds WHERE id >= $1 AND id < 're_1'`, [lo]);
      results.pgbench.push({
        script: script.split('/').pop() ?? script,
        data,
        clients,
        threads: r.threads,
        tps: round(r.tps, 1),
        p50_ms: round(r.latencyMs.p50, 2),
        p99_ms: round(r.latencyMs.p99, 2),
        transactions: r.transactions,
        failed: r.failed,
        exit_code: r.exitCode,
        machine_cpu_busy: round(r.machineCpuBusy, 3),
        wal: walPer(wal0, wal1, r.transactions),
        refunds_inserted: Number.isFinite(inserted) ? inserted : null,
        refunds_per_s: r.tps !== null && Number.isFinite(inserted) && r.transactions > 0 ? round((r.tps * inserted) / r.transactions, 1) : null,
        output: r.output,
      });
      log(`  ${fmt(r.tps)} tps, p50 ${fmt(r.latencyMs.p50, 2)} ms, p99 ${fmt(r.latencyMs.p99, 2)} ms, failed ${r.failed}${r.exitCode ? `, exit code ${r.exitCode}` : ''}`);
      if (r.exitCode) log(r.output.split('\n').slice(-8).join('\n'));
    };
    if (has('refunds') && options.warmupS > 0) {
      log(`warm-up: POST /v1/refunds for ${options.warmupS} s`);
      await closedLoop({ url: api.url, path: '/v1/refunds', connections: options.connections[0] ?? 16, durationS: options.warmupS, make: refundRequest(charges) });
      if (has('pgbench')) await runPgbench({ url: dbUrl, script: REFERENCE_SQL, clients: options.connections[0] ?? 16, durationS: Math.max(1, Math.round(options.warmupS / 2)), variables: { nlo, nhi: nlo + charges.length - 1 } });
    }
    for (const connections of options.connections) {
      if (has('refunds')) await measure('POST /v1/refunds', '/v1/refunds', connections, refundRequest(charges));
      if (has('pgbench')) {
        await pgbench(REFERENCE_SQL, connections);
        if (fincoreForm) await pgbench(FINCORE_SQL, connections);
      }
    }
    if (has('charges')) {
      if (options.warmupS > 0) await closedLoop({ url: api.url, path: '/v1/charges', connections: options.connections[0] ?? 16, durationS: Math.min(2, options.warmupS), make: chargeRequest(merchants) });
      for (const connections of options.connections) await measure('POST /v1/charges', '/v1/charges', connections, chargeRequest(merchants));
    }
  };

  // EXPLAIN (ANALYZE, BUFFERS) of the statements one refund, one charge and the worker really run.
  const explainPhase = async (data: 'small' | 'scaled', charges: SeededCharge[]) => {
    log(`capturing EXPLAIN (ANALYZE, BUFFERS) of FinCore's statements (${data} tables)`);
    const capture = new QueryCapture();
    let fincore: RunningFinCore | undefined;
    const silent = pino({ level: 'silent' });
    const config = (env: Record<string, string>) =>
      loadConfig({ ...(fincoreEnv as Record<string, string>), PORT: '0', LOG_LEVEL: 'silent', ...env });
    try {
      fincore = await startFinCore(config({}), { api: true, worker: false, simulator: false }, silent);
      const charge = pick(charges);
      const post = async (path: string, key: string, body: unknown) => (await call(fincore?.apiUrl ?? '', 'POST', path, key, body, { 'idempotency-key': randomUUID() })).status;
      // One request first without capture: pools connected, the key cache as under load.
      await post('/v1/refunds', charge.merchant.apiKey, { charge_id: charge.id, amount: 1 });
      capture.active = true;
      capture.during = 'POST /v1/refunds';
      const refundStatus = await post('/v1/refunds', charge.merchant.apiKey, { charge_id: charge.id, amount: 7, reason: 'requested_by_customer' });
      capture.during = 'POST /v1/charges';
      const chargeStatus = await post('/v1/charges', charge.merchant.apiKey, { amount: 1234, currency: 'usd', payment_method: 'pm_card_visa' });
      capture.active = false;
      await fincore.close();
      fincore = undefined;
      // A fresh process's first request also reads the API key (later ones hit the key cache).
      fincore = await startFinCore(config({}), { api: true, worker: false, simulator: false }, silent);
      capture.active = true;
      capture.during = 'POST /v1/refunds, first request of a process';
      await post('/v1/refunds', charge.merchant.apiKey, { charge_id: charge.id, amount: 3 });
      capture.active = false;
      await fincore.close();
      fincore = undefined;
      // The worker on the jobs the POST runs queued, briefly.
      fincore = await startFinCore(config({ FINCORE_WORKER_POLL_MS: '100' }), { api: false, worker: true, simulator: false }, silent);
      capture.during = 'worker';
      capture.active = true;
      await sleep(1500);
      capture.active = false;
      await fincore.close();
      fincore = undefined;
      // The worker's list would be every job it ran: keep the first 40 statements.
      const roundTrips = Object.fromEntries(Object.entries(capture.roundTrips).map(([k, v]) => [k, v.slice(0, 40)]));
      results.explain = { data, round_trips: roundTrips, statements: capture.statements };
      log(`  ${capture.statements.length} distinct statements explained (refund answered ${refundStatus}, charge ${chargeStatus})`);
      for (const [during, texts] of Object.entries(roundTrips)) if (during !== 'worker') log(`  ${during}: ${texts.length} statements: ${texts.map((t) => t.slice(0, 40)).join(' ; ')}`);
    } finally {
      capture.active = false;
      capture.uninstall();
      await fincore?.close().catch(() => undefined);
    }
  };

  if (has('refunds') || has('charges') || has('pgbench')) {
    const api = await startFinCoreProcess('api (POST runs)', 'api');
    await postPhase('small', setA, 1, api);
    if (options.scale && admin) {
      results.table_rows.before_scale_load = await tableRows(admin);
      log(`scale: loading ${options.scaleCharges} charges and ${options.scaleRefunds} refunds of history (jobs, events, idempotency records, webhooks)`);
      const loadStart = Date.now();
      await bulkLoad(admin, merchants.map((m) => m.id), options.scaleCharges, options.scaleRefunds);
      const loadedS = (Date.now() - loadStart) / 1000;
      log(`  loaded in ${fmt(loadedS)} s; VACUUM ANALYZE`);
      await admin.exec('VACUUM ANALYZE');
      const sizes = await admin.query<{ relname: string; mb: number }>(
        `SELECT relname, round(pg_total_relation_size(oid) / 1048576.0, 1)::float8 AS mb FROM pg_class
          WHERE relname IN ('payments', 'refunds', 'jobs', 'events', 'idempotency_keys', 'psp_events') ORDER BY relname`,
      );
      results.scale = { charges: options.scaleCharges, refunds: options.scaleRefunds, load_seconds: round(loadedS), total_mb: Object.fromEntries(sizes.map((s) => [s.relname, s.mb])) };
      results.table_rows.after_scale_load = await tableRows(admin);
      await postPhase('scaled', setB, options.charges + 1, api);
    }
    if (options.explain && admin) await explainPhase(options.scale ? 'scaled' : 'small', options.scale ? setB : setA).catch((error: unknown) => {
      results.notes.push(`EXPLAIN capture failed: ${error instanceof Error ? error.message : String(error)}`);
      log(`EXPLAIN capture failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    });
    await stopped(api.child);
  }
  const laterData: 'small' | 'scaled' = options.scale ? 'scaled' : 'small';
  const laterCharges = options.scale ? setB : setA;

  // --- end-to-end settle latency at a fixed offered rate (all-in-one process) ------------------
  if (has('settle')) {
    const left = await withSql(neutraliseQueuedJobs);
    if (left) log(`${left} jobs queued by the POST runs marked done (never executed) so the queue starts empty`);
    const unsealed = await withSql(neutraliseAuditBacklog);
    if (unsealed) log(`${unsealed} events of the POST runs left unsealed (audit relay inbox emptied) so the relay starts idle`);
    // Without this the dead index entries of those rows would slow the workers' claims and the
    // relay's inbox reads (the server may run without autovacuum): the bench's own leftovers must
    // not cost FinCore.
    if (admin) await admin.exec('VACUUM (ANALYZE) jobs, events_to_seal');
    const app = await startFinCoreProcess('start (API + worker; simulator outside)', 'start');
    log(`settle: ${options.settleRate} refunds/s offered (open loop) for ${options.settleS} s`);
    await openLoop({ url: app.url, path: '/v1/refunds', rate: options.settleRate, durationS: Math.min(2, options.settleS), make: refundRequest(laterCharges) });
    await sleep(1000);
    await checkpoint();
    const appCpu0 = app.child.cpuMs();
    const simCpu0 = simulator.cpuMs();
    const machine0 = machineCpu();
    const run: OpenLoopResult = await openLoop({ url: app.url, path: '/v1/refunds', rate: options.settleRate, durationS: options.settleS, make: refundRequest(laterCharges) });
    const refundIds = run.bodies.map((b) => (b as { id?: unknown }).id).filter((id): id is string => typeof id === 'string');
    const settleDeadline = Date.now() + 60_000;
    let latency: SettleLatency | undefined;
    if (admin) {
      while ((latency = await settleLatency(admin, refundIds)).unsettled > 0 && Date.now() < settleDeadline) await sleep(500);
    } else {
      // The data dir is FinCore's while it runs: ask the API about the last refunds and a sample
      // (a few GETs, so the polling does not load the single embedded connection).
      const keyOf = new Map(laterCharges.map((c) => [c.id, c.merchant.apiKey]));
      const created = run.bodies.map((b) => b as { id?: unknown; charge_id?: unknown }).filter((b): b is { id: string; charge_id: string } => typeof b.id === 'string' && typeof b.charge_id === 'string');
      const probe = created.length ? [...created.slice(-10), ...Array.from({ length: 10 }, () => pick(created))].map((b) => ({ id: b.id, key: keyOf.get(b.charge_id) ?? '' })) : [];
      while (Date.now() < settleDeadline) {
        const statuses = await statusesOf(app.url, 'refunds', probe);
        if ([...statuses.values()].every((s) => s !== 'pending')) break;
        await sleep(500);
      }
      await sleep(1000);
    }
    const appCpu = (app.child.cpuMs() ?? 0) - (appCpu0 ?? 0);
    const simCpu = (simulator.cpuMs() ?? 0) - (simCpu0 ?? 0);
    const settleBusy = cpuBusyShare(machine0, machineCpu());
    app.child.sample();
    await stopped(app.child);
    latency = await withSql((sql) => settleLatency(sql, refundIds));
    results.settle.push({
      data: laterData,
      process: 'fincore start (API + worker in one process; PSP simulator in its own process, settle delay 0)',
      offered_per_s: options.settleRate,
      duration_s: round(run.durationS, 2) ?? options.settleS,
      sent: run.sent,
      skipped: run.skipped,
      ok: run.ok,
      status_counts: run.statusCounts,
      socket_errors: run.socketErrors,
      post_p50_ms: round(run.latencyMs.p50, 2),
      post_p99_ms: round(run.latencyMs.p99, 2),
      settle: latency,
      settle_p50_ms: round(latency.latencyMs.p50, 2),
      settle_p99_ms: round(latency.latencyMs.p99, 2),
      fincore_cpu_ms_per_refund: run.ok ? round(appCpu / run.ok, 3) : null,
      simulator_cpu_ms_per_refund: run.ok ? round(simCpu / run.ok, 3) : null,
      machine_cpu_busy: round(settleBusy, 3),
    });
    log(`  ${run.ok}/${run.sent} accepted; settle p50 ${fmt(latency.latencyMs.p50, 1)} ms, p99 ${fmt(latency.latencyMs.p99, 1)} ms; ${latency.unsettled} unsettled, ${latency.failed} failed`);
  }

  // --- worker throughput draining a backlog -------------------------------------------------
  if (has('worker')) {
    let batch = 0;
    for (const workerCount of options.workers) {
      batch++;
      const backlog = await withSql(async (sql) => {
        const left = await neutraliseQueuedJobs(sql);
        if (left) log(`${left} leftover jobs marked done before the backlog`);
        const unsealed = await neutraliseAuditBacklog(sql);
        if (unsealed) log(`${unsealed} leftover events left unsealed before the backlog`);
        log(`worker: backlog of ${options.backlog} REFUND jobs (refund rows + jobs + refund.created events, as the API writes them)`);
        if (admin) await sql.exec('VACUUM jobs, events_to_seal'); // each batch starts without the last one's dead index entries
        const inserted = await insertRefundBacklog(sql, batch, setA, options.backlog);
        if (admin) await sql.exec('ANALYZE refunds, jobs, events');
        return inserted;
      });
      await checkpoint();
      const processes: Array<{ child: Child; url: string }> = [];
      let drained = false;
      let wallStart = 0;
      let wallEnd = 0;
      let progress: BacklogProgress | undefined;
      let cpuMs: number | null = null;
      let doneAtWallEnd: number | undefined;
      let apiCpuMs: number | null = null;
      const simCpu0 = simulator.cpuMs() ?? 0;
      const machine0 = machineCpu();
      let machine1 = machine0;
      let simCpuMs = 0;
      if (options.embedded) {
        // One process holds the data dir: the all-in-one process (its worker, its webhook intake).
        const app = await startFinCoreProcess('start (embedded: API + worker)', 'start');
        processes.push(app);
        const appCpu0 = app.child.cpuMs() ?? 0;
        wallStart = Date.now();
        const deadlineAt = Date.now() + options.drainTimeoutS * 1000;
        // The bench cannot read the data dir while FinCore holds it: it asks the API about the
        // last refunds of the backlog (jobs are due in insertion order) and a sample of the rest.
        const keyOf = new Map(setA.map((c) => [c.id, c.merchant.apiKey]));
        const probe = [...backlog.slice(-10), ...Array.from({ length: 10 }, () => pick(backlog))].map((r) => ({ id: r.refundId, key: keyOf.get(r.chargeId) ?? '' }));
        for (;;) {
          const statuses = await statusesOf(app.url, 'refunds', probe);
          if ([...statuses.values()].every((s) => s !== 'pending') || Date.now() > deadlineAt) break;
          await sleep(250);
        }
        wallEnd = Date.now();
        machine1 = machineCpu();
        simCpuMs = (simulator.cpuMs() ?? 0) - simCpu0;
        cpuMs = (app.child.cpuMs() ?? 0) - appCpu0;
        await sleep(500);
        await stopped(app.child);
        progress = await withSql((sql) => backlogProgress(sql, batch));
        drained = progress.done + progress.dead >= progress.total;
      } else {
        const api = await startFinCoreProcess('api (webhook intake for the worker run)', 'api');
        processes.push(api);
        const apiCpu0 = api.child.cpuMs() ?? 0;
        const cpuBefore: number[] = [];
        wallStart = Date.now();
        for (let i = 0; i < workerCount; i++) processes.push(await startFinCoreProcess(`worker ${i + 1} of ${workerCount}`, 'worker'));
        for (const p of processes.slice(1)) cpuBefore.push(p.child.cpuMs() ?? 0);
        log(`  ${workerCount} worker process(es) draining`);
        const deadlineAt = Date.now() + options.drainTimeoutS * 1000;
        for (;;) {
          if (await queueIsEmpty(admin!)) {
            drained = true;
            break;
          }
          if (Date.now() > deadlineAt) break;
          await sleep(200);
        }
        wallEnd = Date.now();
        machine1 = machineCpu();
        simCpuMs = (simulator.cpuMs() ?? 0) - simCpu0;
        apiCpuMs = (api.child.cpuMs() ?? 0) - apiCpu0;
        const workerCpu = processes.slice(1).map((p, i) => (p.child.cpuMs() ?? 0) - (cpuBefore[i] ?? 0));
        cpuMs = workerCpu.reduce((a, b) => a + b, 0);
        progress = await backlogProgress(admin!, batch);
        if (!drained) log(`  stopped after the drain timeout (${options.drainTimeoutS} s): ${progress?.done ?? 0} of ${options.backlog} jobs done; jobs/s is over those`);
        doneAtWallEnd = progress.done;
        for (const p of processes.slice(1)) p.child.sample();
        for (const p of processes.slice(1)) await stopped(p.child);
        // Let the webhooks of the refunds the workers submitted land before the intake stops.
        const settleDeadline = Date.now() + 30_000;
        for (;;) {
          progress = await backlogProgress(admin!, batch);
          if (progress.settled >= progress.done || Date.now() > settleDeadline) break;
          await sleep(250);
        }
        await stopped(api.child);
      }
      const span = progress.firstDoneMs !== null && progress.lastDoneMs !== null ? (progress.lastDoneMs - progress.firstDoneMs) / 1000 : null;
      const jobsPerS = span && span > 0 ? (progress.done - 1) / span : null;
      const stoppedWorkers = results.processes.slice(-(options.embedded ? 1 : workerCount + 1));
      const entry: WorkerRun = {
        data: laterData,
        workers: workerCount,
        processes: options.embedded
          ? 'fincore start (embedded: API + worker in one process)'
          : `${workerCount} fincore worker process(es) + 1 fincore api process receiving the webhooks + the PSP simulator (settle delay 0)`,
        backlog: options.backlog,
        jobs_per_s: round(jobsPerS, 1),
        wall_clock_jobs_per_s: round((doneAtWallEnd ?? progress.done) / Math.max(0.001, (wallEnd - wallStart) / 1000), 1),
        drained,
        progress,
        worker_peak_rss_mb: stoppedWorkers.filter((p) => options.embedded || p.command === 'worker').map((p) => round(p.peakRssMb, 1)),
        // Embedded: the one process's CPU (worker + webhook intake + the database itself).
        worker_cpu_ms_per_job: cpuMs !== null && progress.done > 0 ? round(cpuMs / progress.done, 3) : null,
        api_cpu_ms_per_job: apiCpuMs !== null && progress.done > 0 ? round(apiCpuMs / progress.done, 3) : null,
        simulator_cpu_ms_per_job: progress.done > 0 ? round(simCpuMs / progress.done, 3) : null,
        machine_cpu_busy: round(cpuBusyShare(machine0, machine1), 3),
        drain_timeout_s: options.drainTimeoutS,
      };
      results.worker.push(entry);
      log(`  ${workerCount} worker(s): ${fmt(entry.jobs_per_s)} jobs/s (first to last completion), ${progress.done}/${progress.total} done, ${progress.retried} retried, ${progress.dead} dead, ${progress.failedRefunds} refunds failed${drained ? '' : ' -- NOT DRAINED within the timeout'}`);
    }
  }

  simulator.sample();
  await stopped(simulator, 5000);
  if (admin) results.table_rows.at_end = await tableRows(admin);
  results.finished_at = new Date().toISOString();
  results.machine.loadavg_at_end = loadavg().map((l) => round(l, 2));
  return { results, options };
}

// ---------------------------------------------------------------------------------- report

function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  return a !== null && a !== undefined && b !== null && b !== undefined && b > 0 ? a / b : null;
}

function pct(share: number | null): string {
  return share === null ? 'n/a' : `${Math.round(share * 100)}%`;
}

function num(value: number | null | undefined, digits: number): string {
  const r = round(value, digits);
  return r === null ? 'NA' : String(r);
}

function report(results: Results, options: Options): void {
  const out: string[] = [];
  const headline = options.connections[0] ?? 16;
  const data: 'small' | 'scaled' = options.scale ? 'scaled' : 'small';
  const db = results.database;
  out.push('');
  out.push(`FinCore benchmark: ${results.mode === 'server' ? `PostgreSQL ${String(db.server_version ?? '')} server (synchronous_commit=${String(db.synchronous_commit ?? '?')}, autovacuum=${String(db.autovacuum ?? '?')})` : 'embedded PGlite'}; ${String(results.machine.nproc)} cores (${String(results.machine.cpu)}), Node ${String(results.machine.node)}`);
  out.push(`Seed: ${String(results.seed.merchants)} merchants, ${String(results.seed.charges_per_set)} succeeded charges of ${CHARGE_AMOUNT} per set; refunds of 1..500, a fresh Idempotency-Key per request.`);
  if (results.http.length) {
    out.push('', 'HTTP, closed loop (autocannon), against a FinCore `api` process (no worker competing for the cores):');
    out.push(table(
      ['endpoint', 'data', 'conns', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'socket err', 'api CPU ms/req', 'loadgen CPU ms/req', 'machine CPU', 'WAL B/req', 'FPI/req'],
      results.http.map((r) => [r.endpoint, r.data, String(r.connections), fmt(r.requests_per_s), fmt(r.p50_ms, 2), fmt(r.p99_ms, 2), String(r.non_2xx), String(r.socket_errors + r.timeouts), fmt(r.api_cpu_ms_per_request, 2), fmt(r.loadgen_cpu_ms_per_request, 2), pct(r.machine_cpu_busy), fmt(r.wal?.bytes, 0), fmt(r.wal?.full_page_images, 2)]),
    ));
  }
  if (results.pgbench.length) {
    out.push('', `pgbench (${PGBENCH}, -M prepared, -j 2, same duration, same database):`);
    out.push(table(
      ['script', 'data', 'clients', 'tps', 'p50 ms', 'p99 ms', 'failed', 'refunds written', 'machine CPU', 'WAL B/tx', 'FPI/tx'],
      results.pgbench.map((r) => [r.script, r.data, String(r.clients), fmt(r.tps), fmt(r.p50_ms, 2), fmt(r.p99_ms, 2), String(r.failed), r.refunds_inserted === null ? 'n/a' : `${r.refunds_inserted}/${r.transactions}`, pct(r.machine_cpu_busy), fmt(r.wal?.bytes, 0), fmt(r.wal?.full_page_images, 2)]),
    ));
    const rows: string[][] = [];
    for (const r of results.http.filter((h) => h.endpoint === 'POST /v1/refunds')) {
      const ref = results.pgbench.find((p) => p.script === 'reference_refund.sql' && p.clients === r.connections && p.data === r.data);
      const own = results.pgbench.find((p) => p.script === 'fincore_refund.sql' && p.clients === r.connections && p.data === r.data);
      rows.push([String(r.connections), r.data, fmt(ratio(r.requests_per_s, ref?.tps), 2), fmt(ratio(r.p99_ms, ref?.p99_ms), 2), own ? fmt(ratio(r.requests_per_s, own.refunds_per_s ?? own.tps), 2) : '-', own ? fmt(ratio(r.p99_ms, own.p99_ms), 2) : '-']);
    }
    out.push('', 'POST /v1/refunds relative to pgbench at the same connection count (targets at 16: throughput >= 0.75x, p99 <= 2x the reference;');
    out.push("the fincore-form throughput counts the refunds it wrote: a 'changed' answer writes none):");
    out.push(table(['conns', 'data', 'x reference tps', 'x reference p99', 'x fincore-form tps', 'x fincore-form p99'], rows));
  }
  for (const s of results.settle) {
    out.push('', `End-to-end settle (${s.process}), open loop:`);
    out.push(table(
      ['offered/s', 'seconds', 'sent', '2xx', 'skipped', 'POST p50 ms', 'POST p99 ms', 'settle p50 ms', 'settle p99 ms', 'unsettled', 'failed', 'fincore CPU ms/refund', 'sim CPU ms/refund', 'machine CPU'],
      [[String(s.offered_per_s), fmt(s.duration_s), String(s.sent), String(s.ok), String(s.skipped), fmt(s.post_p50_ms, 2), fmt(s.post_p99_ms, 2), fmt(s.settle_p50_ms, 1), fmt(s.settle_p99_ms, 1), String(s.settle.unsettled), String(s.settle.failed), fmt(s.fincore_cpu_ms_per_refund, 2), fmt(s.simulator_cpu_ms_per_refund, 2), pct(s.machine_cpu_busy)]],
    ));
    out.push('  settle = created_at of refund.succeeded minus created_at of refund.created (events table; each is its transaction\'s start).');
  }
  if (results.worker.length) {
    out.push('', `Worker draining a backlog of REFUND jobs (${results.worker[0]?.processes ?? ''}):`);
    out.push(table(
      ['workers', 'backlog', 'jobs/s', 'wall-clock jobs/s', 'done', 'settled', 'retried', 'dead', 'worker CPU ms/job', 'api CPU ms/job', 'sim CPU ms/job', 'machine CPU', 'drained'],
      results.worker.map((w) => [String(w.workers), String(w.backlog), fmt(w.jobs_per_s), fmt(w.wall_clock_jobs_per_s), String(w.progress.done), String(w.progress.settled), String(w.progress.retried), String(w.progress.dead), fmt(w.worker_cpu_ms_per_job, 2), fmt(w.api_cpu_ms_per_job, 2), fmt(w.simulator_cpu_ms_per_job, 2), pct(w.machine_cpu_busy), w.drained ? 'yes' : `no (${w.drain_timeout_s} s limit)`]),
    ));
    out.push('  jobs/s = (done - 1) / (last - first completion time, jobs.updated_at); wall-clock includes process start.');
  }
  out.push('', 'Processes (peak RSS = VmHWM from /proc/<pid>/status at the end of its phase):');
  out.push(table(
    ['process', 'command', 'peak RSS MB', 'CPU s', 'warn/error log lines'],
    results.processes.map((p) => [p.name, p.command, fmt(p.peakRssMb), fmt(p.cpuMs === null ? null : p.cpuMs / 1000), `${p.logs.warn}/${p.logs.error}`]),
  ));
  if (options.scale) {
    const pair = (endpoint: string, conns: number) => {
      const small = results.http.find((h) => h.endpoint === endpoint && h.connections === conns && h.data === 'small');
      const scaled = results.http.find((h) => h.endpoint === endpoint && h.connections === conns && h.data === 'scaled');
      return [endpoint, String(conns), fmt(small?.requests_per_s), fmt(scaled?.requests_per_s), fmt(ratio(scaled?.requests_per_s, small?.requests_per_s), 3), fmt(small?.p99_ms, 2), fmt(scaled?.p99_ms, 2)];
    };
    const pg = (conns: number) => {
      const small = results.pgbench.find((p) => p.script === 'reference_refund.sql' && p.clients === conns && p.data === 'small');
      const scaled = results.pgbench.find((p) => p.script === 'reference_refund.sql' && p.clients === conns && p.data === 'scaled');
      return ['pgbench reference', String(conns), fmt(small?.tps), fmt(scaled?.tps), fmt(ratio(scaled?.tps, small?.tps), 3), fmt(small?.p99_ms, 2), fmt(scaled?.p99_ms, 2)];
    };
    out.push('', `Scale: ${options.scaleCharges} charges and ${options.scaleRefunds} refunds of history loaded (target: scaled/small >= 0.90):`);
    out.push(table(
      ['run', 'conns', 'small req/s', 'scaled req/s', 'scaled/small', 'small p99', 'scaled p99'],
      options.connections.flatMap((c) => [pair('POST /v1/refunds', c), pair('POST /v1/charges', c), ...(results.pgbench.length ? [pg(c)] : [])]),
    ));
    if (results.scale) results.scale.refunds_scaled_over_small = options.connections.map((c) => {
      const small = results.http.find((h) => h.endpoint === 'POST /v1/refunds' && h.connections === c && h.data === 'small');
      const scaled = results.http.find((h) => h.endpoint === 'POST /v1/refunds' && h.connections === c && h.data === 'scaled');
      return { connections: c, ratio: round(ratio(scaled?.requests_per_s, small?.requests_per_s), 3) };
    });
  }
  if (results.explain) out.push('', `EXPLAIN (ANALYZE, BUFFERS) of ${results.explain.statements.length} statements FinCore ran (${results.explain.data} tables): in the results JSON and the -explain.txt file next to it.`);
  for (const note of results.notes) out.push(`Note: ${note}`);

  const refunds = results.http.find((h) => h.endpoint === 'POST /v1/refunds' && h.connections === headline && h.data === data);
  const reference = results.pgbench.find((p) => p.script === 'reference_refund.sql' && p.clients === headline && p.data === data);
  const settle = results.settle[0];
  const worker = results.worker.find((w) => w.workers === 1) ?? results.worker[0];
  results.summary = {
    refunds_per_s: round(refunds?.requests_per_s, 1),
    pgbench_tps: round(reference?.tps, 1),
    ratio: round(ratio(refunds?.requests_per_s, reference?.tps), 3),
    p99_ms: round(refunds?.p99_ms, 2),
    pgbench_p99_ms: round(reference?.p99_ms, 2),
    settle_p99_ms: round(settle?.settle_p99_ms, 1),
    worker_jobs_per_s: round(worker?.jobs_per_s, 1),
  };
  const sm = results.summary;
  results.summary_line = `refunds_per_s=${num(sm.refunds_per_s, 1)} pgbench_tps=${num(sm.pgbench_tps, 1)} ratio=${num(sm.ratio, 2)} p99_ms=${num(sm.p99_ms, 2)} pgbench_p99_ms=${num(sm.pgbench_p99_ms, 2)} settle_p99_ms=${num(sm.settle_p99_ms, 1)} worker_jobs_per_s=${num(sm.worker_jobs_per_s, 1)}`;

  const resultsDir = join(BENCH_DIR, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const stamp = (results.finished_at ?? new Date().toISOString()).replace(/[:.]/g, '-');
  const file = join(resultsDir, `${stamp}${results.mode === 'embedded' ? '-embedded' : ''}${options.scale ? '-scale' : ''}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  if (results.explain) {
    const trips = Object.entries(results.explain.round_trips).map(([during, texts]) => `-- ${during}: ${texts.length} statements sent${during === 'worker' ? ' (first 40)' : ''}\n${texts.map((t) => `--   ${t}`).join('\n')}`);
    writeFileSync(file.replace(/\.json$/, '-explain.txt'), `-- Statements FinCore sent, in order (captured in the bench process; ${results.explain.data} tables)\n${trips.join('\n')}\n\n${formatExplained(results.explain.statements)}\n`);
  }
  out.push('', `Results: ${file}`);
  out.push(`(headline: ${headline} connections, ${data} tables${options.embedded ? '; embedded: no pgbench' : ''})`);
  out.push(results.summary_line);
  process.stdout.write(`${out.join('\n')}\n`);
}

if (process.argv.includes('--fairness')) {
  // Its own scenario (bench/fairness.ts): one API process, two merchants, no other phase.
  const { runFairness } = await import('./fairness.ts');
  await runFairness(process.argv.slice(2)).then(
    () => process.exit(0),
    async (error: unknown) => {
      log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      await stopAll(8000);
      process.exit(1);
    },
  );
}

main().then(
  async ({ results, options }) => {
    if (interrupted) return;
    await cleanup();
    report(results, options);
    process.exit(0);
  },
  async (error: unknown) => {
    if (interrupted) return; // the signal handler cleans up and exits
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    await cleanup();
    writePartial(`failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
