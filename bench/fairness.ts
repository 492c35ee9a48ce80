/**
 * `npm run bench -- --fairness`: does one merchant's flood leave another merchant's latency
 * alone? Merchant B sends POST /v1/charges at a steady open-loop rate, first alone (quiet), then
 * while merchant A floods the same API process far beyond what it serves. B's p99 under the
 * flood over B's quiet p99 is the ratio (target: at most 2). Run for two configurations in the
 * same database: the default rate limits, and the old per-merchant limit of 1,000/s (above what
 * one process serves), which is what the issue measured.
 *
 *   npm run bench -- --fairness [--duration <s>] [--b-rate <n>] [--flood-rate <n>]
 *
 * One `fincore api` process (no worker: the jobs wait, nothing else competes for the CPU), the
 * PostgreSQL server (DATABASE_URL), B's load in this process, A's flood in another.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { createMerchant } from './lib/api.ts';
import { apiUrlOf, Child, stopAll } from './lib/children.ts';
import { openLoop, type OpenLoopResult } from './lib/load.ts';
import { createBenchDatabase } from './lib/sql.ts';
import { fmt, log, round, sleep, table } from './lib/util.ts';

const BENCH_DIR = new URL('./', import.meta.url).pathname;

interface FairnessOptions {
  durationS: number;
  bRate: number;
  floodRate: number;
}

function parse(argv: string[]): FairnessOptions {
  const options: FairnessOptions = { durationS: 15, bRate: 50, floodRate: 2000 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--fairness') continue;
    const [name, inline] = arg.replace(/^--/, '').split('=', 2) as [string, string | undefined];
    const value = Number(inline ?? argv[++i]);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} needs a positive number`);
    if (name === 'duration') options.durationS = value;
    else if (name === 'b-rate') options.bRate = value;
    else if (name === 'flood-rate') options.floodRate = value;
    else throw new Error(`--fairness takes --duration, --b-rate, --flood-rate; not ${arg}`);
  }
  return options;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function flood(url: string, key: string, rate: number, seconds: number): Promise<OpenLoopResult> {
  return new Promise((resolve, reject) => {
    // At the lowest CPU priority: on a 2-core machine the flood's own load generation would
    // otherwise take CPU from the API and PostgreSQL, which a remote flooder never does. It still
    // sends at its rate whenever a core is idle.
    const child = spawn('nice', ['-n', '19', process.execPath, '--import', 'tsx', join(BENCH_DIR, 'lib/flood.ts'), url, key, String(rate), String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop() ?? '{}') as OpenLoopResult) : reject(new Error(`flood exited ${code}`))));
  });
}

interface Run {
  config: string;
  merchant_limit_per_s: number;
  quiet: OpenLoopResult;
  flooded: OpenLoopResult;
  flood: OpenLoopResult;
  p99_ratio: number | null;
  p50_ratio: number | null;
}

export async function runFairness(argv: string[]): Promise<void> {
  const options = parse(argv);
  const notes: string[] = [];
  const [load1] = loadavg();
  if ((load1 ?? 0) > 0.5 * cpus().length) {
    const note = `the machine was busy when the bench started (1-minute load average ${fmt(load1, 2)} on ${cpus().length} cores): latencies are noisy`;
    notes.push(note);
    log(`warning: ${note}`);
  }
  const serverUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
  const db = await createBenchDatabase(serverUrl);
  const adminKey = `adm_bench_${randomBytes(12).toString('hex')}`;
  const runs: Run[] = [];
  try {
    for (const [config, merchantLimit] of [['default limits', null], ['old limit (1,000/s per merchant)', 1000]] as const) {
      const port = await freePort();
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        DATABASE_URL: db.url,
        HOST: '127.0.0.1',
        PORT: String(port),
        FINCORE_ADMIN_KEY: adminKey,
        FINCORE_SIM_URL: 'http://127.0.0.1:9', // the API alone never calls the PSP
        FINCORE_QUEUE: 'postgres',
        FINCORE_FAILPOINTS: '',
        LOG_LEVEL: 'warn',
      };
      for (const name of ['PGHOST', 'PGPORT', 'PGDATABASE', 'PGUSER', 'PGPASSWORD', 'PGSSLMODE']) delete env[name];
      if (merchantLimit === null) delete env.FINCORE_RATE_LIMIT_PER_S;
      else env.FINCORE_RATE_LIMIT_PER_S = String(merchantLimit);
      const api = new Child(`api (${config})`, ['api'], env);
      const url = await apiUrlOf(api);
      const a = await createMerchant(url, adminKey, 'Flooding merchant A');
      const b = await createMerchant(url, adminKey, 'Quiet merchant B');
      let n = 0;
      const asB = () => ({
        headers: { authorization: `Bearer ${b.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ amount: 500 + (n++ % 500), currency: 'usd', payment_method: 'pm_card_visa' }),
      });
      const measureB = () => openLoop({ url, path: '/v1/charges', rate: options.bRate, durationS: options.durationS, make: asB, maxInFlight: 256 });
      log(`${config}: warm-up, then B alone at ${options.bRate}/s for ${options.durationS} s`);
      await openLoop({ url, path: '/v1/charges', rate: options.bRate, durationS: 3, make: asB });
      const quiet = await measureB();
      log(`${config}: A floods at ${options.floodRate}/s; B measured again after 2 s`);
      const flooding = flood(url, a.apiKey, options.floodRate, options.durationS + 3);
      await sleep(2000);
      const flooded = await measureB();
      const floodResult = await flooding;
      await api.stop();
      const ratio = (x: number | null, y: number | null) => (x !== null && y !== null && y > 0 ? round(x / y, 2) : null);
      runs.push({
        config,
        merchant_limit_per_s: merchantLimit ?? 100,
        quiet,
        flooded,
        flood: floodResult,
        p99_ratio: ratio(flooded.latencyMs.p99, quiet.latencyMs.p99),
        p50_ratio: ratio(flooded.latencyMs.p50, quiet.latencyMs.p50),
      });
    }
  } finally {
    await stopAll(8000);
    await db.drop();
  }

  const rows = runs.map((r) => {
    const floodS = r.flood.durationS || 1;
    const bErrors = r.flooded.sent - r.flooded.ok;
    return [
      r.config,
      fmt(r.quiet.latencyMs.p50, 2),
      fmt(r.quiet.latencyMs.p99, 2),
      fmt(r.flooded.latencyMs.p50, 2),
      fmt(r.flooded.latencyMs.p99, 2),
      fmt(r.p99_ratio, 2),
      `${fmt(r.flood.ok / floodS, 0)} / ${fmt((r.flood.statusCounts['429'] ?? 0) / floodS, 0)}`,
      String(bErrors + r.flooded.skipped),
    ];
  });
  const result = { started_at: new Date().toISOString(), options, cpus: cpus().length, notes, runs: runs.map((r) => ({ ...r, quiet: { ...r.quiet, bodies: undefined }, flooded: { ...r.flooded, bodies: undefined } })) };
  mkdirSync(join(BENCH_DIR, 'results'), { recursive: true });
  const file = join(BENCH_DIR, 'results', `${result.started_at.replace(/[:.]/g, '-')}-fairness.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  const headline = runs[0];
  process.stdout.write(
    [
      `Fairness: merchant B at ${options.bRate} charges/s, merchant A flooding at ${options.floodRate}/s, ${options.durationS} s each, one API process (${cpus().length} cores, load generators included)`,
      table(['config', 'B p50 quiet ms', 'B p99 quiet ms', 'B p50 flood ms', 'B p99 flood ms', 'p99 ratio', "A's 2xx/s / 429/s", 'B not 2xx'], rows),
      ...notes.map((note) => `note: ${note}`),
      `Results: ${file}`,
      `fairness_p99_ratio=${fmt(headline?.p99_ratio, 2)} (target <= 2) old_limit_p99_ratio=${fmt(runs[1]?.p99_ratio, 2)}`,
    ].join('\n') + '\n',
  );
}
