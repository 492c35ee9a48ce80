/**
 * The `fincore` command (`fincore --help` lists the commands, `fincore <command> --help` explains
 * one). Help exits 0; a usage error (unknown command, missing argument) exits 2 with one line
 * saying what is wrong; a command that fails exits 1.
 *
 * The database commands (`jobs dead`, `jobs retry`, `reconcile`, `audit verify`) open the
 * database themselves, or, when a running FinCore holds the embedded data dir (or `--url` names
 * one), ask that FinCore through its admin API.
 */
import { Command, CommanderError, Option } from 'commander';
import { chooseLogFormat, createLogger } from './logging.ts';
import { adminKeyPath, readStoredAdminKey } from './admin-key.ts';
import { adminClient, AdminApiError, apiReachable, type AdminClient } from './cli/admin-client.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { migrate } from './db/migrate.ts';
import { DataDirLockedError } from './db/embedded.ts';
import { findJob, listDeadJobs, requeueDeadJob } from './db/jobs.ts';
import { openDatabase, type Database } from './db/pool.ts';
import { flowContext } from './context.ts';
import { merchantWebhookFanOut, startFinCore, VERSION, type Components } from './main.ts';
import { loadDevSimulator } from './dev-simulator.ts';
import { reconcileNow, reconciliationDrift, verifyAudit, type AuditVerification, type ReconciliationDrift, type ReconciliationReport } from './flows/operations.ts';
import { DRIFT_KINDS } from './flows/reconcile.ts';
import { jobObject, type JobObject } from './flows/admin.ts';
import { redriveDeadLetters, sqsClient } from './jobs/sqs.ts';
import { sealPendingEvents } from './flows/audit-seal.ts';
import type { VerifyReport } from './flows/audit-verify.ts';

/** A usage or set-up error: one line on stderr, exit 2. */
class UsageError extends Error {}

/** A listen() that failed because the port is taken, named by the variable that sets it. */
function portInUse(error: unknown, config: Config): string | undefined {
  const e = error as NodeJS.ErrnoException & { port?: number };
  if (e?.code !== 'EADDRINUSE') return undefined;
  const variable = e.port === config.simPort && e.port !== config.port ? 'FINCORE_SIM_PORT' : 'PORT';
  return `port ${e.port ?? config.port} is in use (${variable}=${e.port ?? config.port}): stop what listens there, or choose another with ${variable}=...`;
}

function printVerifyReport(report: VerifyReport): void {
  for (const chain of report.chains) process.stdout.write(`chain ${chain.chain}: ${chain.length} events, head ${chain.head}\n`);
  process.stdout.write(`events in chains checked: ${report.eventsChecked}; waiting to be sealed: ${report.pendingSeal}; ledger entries: ${report.ledgerEntries}; charges checked against the ledger: ${report.chargesChecked}\n`);
  if (report.ok) process.stdout.write('audit trail OK\n');
  for (const problem of report.problems) process.stdout.write(`BROKEN: ${problem}\n`);
}

function printReconcileReport(report: ReconciliationReport): number {
  process.stdout.write(`checked=${report.checked} settled=${report.settled} resubmitted=${report.resubmitted} psp_errors=${report.errors}\n`);
  const t = report.terminal;
  process.stdout.write(`terminal (settled within ${t.window_ms} ms): checked=${t.checked} moved=${t.moved} reviews_opened=${t.reviews_opened} unknown_at_psp=${t.unknown_at_psp} psp_errors=${t.errors}\n`);
  return report.errors > 0 || t.errors > 0 ? 1 : 0;
}

/** `reconcile --report`: counts and ids per kind of drift; exit 1 when there is any (or the PSP could not be asked). */
function printDriftReport(report: ReconciliationDrift): number {
  const counts = DRIFT_KINDS.map((kind) => `${kind}=${report.drift[kind].length}`).join(' ');
  process.stdout.write(`compared charges=${report.checked.charges} refunds=${report.checked.refunds} (settled within ${report.window_ms} ms, or pending over ${report.older_than_ms} ms)\n`);
  process.stdout.write(`drift: ${counts} psp_errors=${report.psp_errors.length}\n`);
  for (const kind of DRIFT_KINDS) {
    for (const item of report.drift[kind]) {
      const atPsp = item.at_psp ? `${item.at_psp.status} ${item.at_psp.amount ?? '?'} ${item.at_psp.currency ?? '?'}` : 'unknown';
      process.stdout.write(`  ${kind}  ${item.object} ${item.id}  psp=${item.psp}  fincore=${item.fincore.status} ${item.fincore.amount} ${item.fincore.currency}  at_psp=${atPsp}\n`);
    }
  }
  for (const item of report.psp_errors) process.stdout.write(`  psp_error  ${item.object} ${item.id}  psp=${item.psp}  ${item.error ?? ''}\n`);
  if (!report.has_drift) process.stdout.write('no drift: FinCore and the PSP agree\n');
  return report.has_drift ? 1 : 0;
}

function printDeadJobs(jobs: JobObject[]): void {
  if (jobs.length === 0) process.stdout.write('no dead-lettered jobs\n');
  for (const job of jobs) {
    process.stdout.write(`${job.id}  ${job.job_type}  ${job.ref}  attempts=${job.attempts}  dead_since=${job.updated_at}  last_error=${job.last_error ?? ''}\n`);
  }
}

function loggerFor(config: Config) {
  return createLogger({ level: config.logLevel, format: chooseLogFormat({ setting: config.logFormat, stdoutIsTTY: process.stdout.isTTY === true, nodeEnv: config.nodeEnv }) });
}

async function runUntilSignal(config: Config, components: Components): Promise<number> {
  const logger = loggerFor(config);
  let fincore;
  try {
    fincore = await startFinCore(config, components, logger);
  } catch (error) {
    const busy = portInUse(error, config);
    if (busy) throw new UsageError(busy);
    throw error;
  }
  const lines = ['', 'FinCore is running.'];
  if (fincore.apiUrl) lines.push(`  API:            ${fincore.apiUrl}`, `  API docs:       ${fincore.apiUrl}/docs`, `  Dashboard:      ${fincore.apiUrl}/dashboard`, `  OpenAPI:        ${fincore.apiUrl}/openapi.json`);
  if (fincore.simulatorUrl) lines.push(`  PSP simulator:  ${fincore.simulatorUrl}  (state: ${fincore.simulatorUrl}/sim/state)`);
  else if (components.worker) lines.push(`  PSP simulator:  ${config.simUrl}  (outside this process)`);
  lines.push(`  Database:       ${config.databaseUrl ? 'PostgreSQL server (DATABASE_URL)' : `embedded PGlite in ${config.dataDir}`}`);
  if (components.api && fincore.adminKeySource === 'data-dir') lines.push(`  Admin key:      ${fincore.adminKey}   (kept in ${adminKeyPath(config.dataDir)}; FINCORE_ADMIN_KEY overrides it)`);
  if (components.api && fincore.adminKeySource === 'generated') lines.push(`  Admin key:      ${fincore.adminKey}   (generated for this run; set FINCORE_ADMIN_KEY to fix it)`);
  const nodeMajor = Number(process.versions.node.split('.')[0]);
  if (nodeMajor < 22) lines.push(`  Node.js:        ${process.version} is past its end of life and unsupported; FinCore supports Node.js 22 or newer`);
  lines.push('Press Ctrl-C to stop.', '');
  process.stdout.write(lines.join('\n') + '\n');

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down: finishing in-flight requests and jobs');
      const force = setTimeout(() => {
        logger.error('shutdown took longer than 15 s; exiting');
        process.exit(1);
      }, 15_000);
      force.unref();
      fincore.close().then(resolve, resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}

async function withDatabase<T>(config: Config, work: (db: Database) => Promise<T>): Promise<T> {
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 2, namedStatements: config.dbNamedStatements, tls: config.dbTls });
  try {
    await migrate(db.pool);
    return await work(db);
  } finally {
    await db.close();
  }
}

function adminKeyFor(config: Config, url: string): string {
  const key = config.adminKeyGenerated ? (config.databaseUrl ? undefined : readStoredAdminKey(config.dataDir)) : config.adminKey;
  if (!key) throw new UsageError(`no admin key to call ${url} with: set FINCORE_ADMIN_KEY to the key the running FinCore printed`);
  return key;
}

/**
 * Runs a database command here, or through the admin API of a running FinCore: the one --url
 * names, or the one holding the embedded data dir (reached at FINCORE_URL, default HOST:PORT).
 */
async function databaseOrApi(config: Config, url: string | undefined, local: (db: Database) => Promise<number>, remote: (api: AdminClient) => Promise<number>): Promise<number> {
  if (url) return remote(adminClient(url, adminKeyFor(config, url)));
  try {
    return await withDatabase(config, local);
  } catch (error) {
    if (!(error instanceof DataDirLockedError)) throw error;
    if (!(await apiReachable(config.apiUrl))) {
      throw new UsageError(`data directory in use: ${error.message} No FinCore API answered at ${config.apiUrl} to ask instead: pass --url http://host:port of the running FinCore (or set FINCORE_URL).`);
    }
    process.stderr.write(`fincore: data directory in use by a running FinCore: asking it through its admin API at ${config.apiUrl}\n`);
    return remote(adminClient(config.apiUrl, adminKeyFor(config, config.apiUrl)));
  }
}

const urlOption = () => new Option('--url <url>', 'ask the running FinCore at this URL through its admin API (admin key: FINCORE_ADMIN_KEY, else the data dir\'s)');

export function buildProgram(config: () => Config, setExitCode: (code: number) => void): Command {
  const program = new Command('fincore')
    .description('FinCore: asynchronous, idempotent, auditable charges and refunds. Configuration comes from environment variables (README "Configuration").')
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(fincore --help lists the commands; fincore <command> --help explains one)')
    .configureOutput({ outputError: (text, write) => write(`fincore: ${text.replace(/^error: /, '')}`) })
    .exitOverride();
  const run = (work: () => Promise<number>) => async () => setExitCode(await work());

  program.command('start').description('API + worker + PSP simulator in one process (what npm start runs)')
    // With FINCORE_SIM_URL set, the PSP is outside this process (and outlives it).
    .action(run(() => runUntilSignal(config(), { api: true, worker: true, simulator: !config().simUrlGiven })));
  program.command('api').description('the API only (with FINCORE_QUEUE=sqs also the outbox relay to SQS)')
    .action(run(() => runUntilSignal(config(), { api: true, worker: false, simulator: false })));
  program.command('worker').description('a worker only; any number may run against one PostgreSQL server (FINCORE_QUEUE=sqs: polls SQS)')
    .action(run(() => runUntilSignal(config(), { api: false, worker: true, simulator: false })));
  program.command('psp-simulator').description('the PSP simulator only')
    .action(run(async () => {
      const c = config();
      const logger = loggerFor(c);
      const starter = await loadDevSimulator(c);
      let simulator;
      try {
        simulator = await starter.start({
          webhookUrl: c.simWebhookUrl || c.defaultWebhookUrl,
          // Objects made through its Stripe-compatible API get Stripe-signed events at the Stripe intake.
          stripeWebhookUrl: c.stripeWebhookUrl,
          logger,
        });
      } catch (error) {
        const busy = portInUse(error, { ...c, port: -1 });
        if (busy) throw new UsageError(busy);
        throw error;
      }
      process.stdout.write(`PSP simulator listening on ${simulator.url}, webhooks to ${c.simWebhookUrl || c.defaultWebhookUrl} (Stripe mode: ${c.stripeWebhookUrl})\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await simulator.close();
      return 0;
    }));
  program.command('reconcile').description('one reconciliation sweep now (pending, then recently settled objects); exits 1 if the PSP could not be asked. --report: print the drift, change nothing, exit 1 if any')
    .option('--all', 'every pending charge and refund, whatever its age (default: older than FINCORE_RECONCILE_AFTER_MS), and every one settled within FINCORE_RECONCILE_TERMINAL_WINDOW_MS, whatever its last check')
    .option('--report', 'change nothing: print the drift between FinCore and the PSP (status_differs, amount_or_currency_differs, unknown_at_psp, canceled_refund_at_psp: counts and ids), exit 1 when there is any')
    .addOption(urlOption())
    .action(async (options: { all?: boolean; report?: boolean; url?: string }) => {
      const c = config();
      const olderThanMs = options.all ? 0 : c.reconcile.afterMs;
      if (options.report) {
        setExitCode(await databaseOrApi(c, options.url,
          async (db) => printDriftReport(await reconciliationDrift(flowContext(db, c), olderThanMs)),
          async (api) => printDriftReport(await api.request<ReconciliationDrift>('GET', `/v1/admin/reconcile/report?older_than_ms=${olderThanMs}`))));
        return;
      }
      setExitCode(await databaseOrApi(c, options.url,
        async (db) => printReconcileReport(await reconcileNow(flowContext(db, c), olderThanMs, { recheckAll: options.all === true })),
        async (api) => printReconcileReport(await api.request<ReconciliationReport>('POST', '/v1/admin/reconcile', { older_than_ms: olderThanMs, recheck_all: options.all === true }))));
    });
  program.command('migrate').description('apply database migrations and exit (they also run at every start)')
    .action(run(async () => {
      await withDatabase(config(), async () => undefined);
      process.stdout.write('migrations applied\n');
      return 0;
    }));

  const jobs = program.command('jobs').description('dead-lettered jobs: list, retry, SQS redrive');
  jobs.command('dead').description('list dead-lettered jobs with their last error').addOption(urlOption())
    .action(async (options: { url?: string }) => {
      const c = config();
      setExitCode(await databaseOrApi(c, options.url,
        async (db) => {
          printDeadJobs((await listDeadJobs(db.pool, 100)).map(jobObject));
          return 0;
        },
        async (api) => {
          printDeadJobs((await api.request<{ data: JobObject[] }>('GET', '/v1/admin/jobs?status=dead&limit=100')).data);
          return 0;
        }));
    });
  jobs.command('retry').description('put a dead-lettered job back in the queue (replaying twice is harmless)')
    .argument('<job_id>', 'the job, as `fincore jobs dead` lists it (job_...)')
    .addOption(urlOption())
    .action(async (jobId: string, options: { url?: string }) => {
      const c = config();
      setExitCode(await databaseOrApi(c, options.url,
        async (db) => {
          const job = await requeueDeadJob(db.pool, jobId);
          if (job) {
            process.stdout.write(`${job.id} queued again (${job.job_type} ${job.ref})\n`);
            return 0;
          }
          const existing = await findJob(db.pool, jobId);
          process.stderr.write(existing ? `${jobId} is ${existing.status}, not dead: nothing to retry\n` : `no job ${jobId}\n`);
          return existing ? 0 : 1;
        },
        async (api) => {
          try {
            const job = await api.request<JobObject>('POST', `/v1/admin/jobs/${encodeURIComponent(jobId)}/retry`);
            process.stdout.write(`${job.id} queued again (${job.job_type} ${job.ref})\n`);
            return 0;
          } catch (error) {
            if (!(error instanceof AdminApiError) || (error.status !== 404 && error.status !== 400)) throw error;
            process.stderr.write(error.status === 404 ? `no job ${jobId}\n` : `${error.message}\n`);
            return error.status === 404 ? 1 : 0;
          }
        }));
    });
  jobs.command('redrive').description('SQS: move every message of the dead-letter queue back to the job queue')
    .action(run(async () => {
      const c = config();
      // SQS transport: the dead-letter queue is SQS's; move its messages back to the job queue.
      if (!c.sqs.queueUrl || !c.sqs.dlqUrl) throw new UsageError('jobs redrive needs FINCORE_SQS_QUEUE_URL and FINCORE_SQS_DLQ_URL');
      const moved = await redriveDeadLetters(sqsClient(c.sqs), c.sqs.dlqUrl, c.sqs.queueUrl);
      process.stdout.write(`moved ${moved} message(s) from the dead-letter queue back to the job queue\n`);
      return 0;
    }));

  const audit = program.command('audit').description('the audit trail: verify the hash chains and ledger, seal pending events');
  audit.command('verify').description('recompute every hash chain and check the ledger; exits 1 naming the first broken link or mismatch').addOption(urlOption())
    .action(async (options: { url?: string }) => {
      const c = config();
      const print = (report: AuditVerification) => {
        printVerifyReport(report);
        return report.ok ? 0 : 1;
      };
      setExitCode(await databaseOrApi(c, options.url, async (db) => print(await verifyAudit(db)), async (api) => print(await api.request<AuditVerification>('GET', '/v1/admin/audit/verify'))));
    });
  audit.command('seal').description('seal now what the audit relay has not sealed yet (for a database no worker serves)')
    .action(run(async () => {
      const c = config();
      const sealed = await withDatabase(c, async (db) => {
        let total = 0;
        let sealed: number;
        do {
          sealed = await sealPendingEvents(db.pool, c.audit.batchSize, merchantWebhookFanOut(c));
          total += sealed;
        } while (sealed > 0);
        return total;
      });
      process.stdout.write(`sealed ${sealed} event(s)\n`);
      return 0;
    }));
  // The group commands (jobs, audit) hide their subcommands in the overview: list every one.
  program.addHelpText('after', () => {
    const leaves: Array<[string, string]> = [];
    const walk = (command: Command, prefix: string) => {
      for (const sub of command.commands) {
        if (sub.name() === 'help') continue;
        const name = `${prefix}${sub.name()}`;
        if (sub.commands.length > 0) walk(sub, `${name} `);
        else leaves.push([`${name} ${sub.registeredArguments.map((a) => (a.required ? `<${a.name()}>` : `[${a.name()}]`)).join(' ')}`.trim() + (sub.options.length > 0 ? ' [options]' : ''), sub.description()]);
      }
    };
    walk(program, '');
    const width = Math.max(...leaves.map(([name]) => name.length));
    return ['', 'Every command (fincore <command> --help for its options):', ...leaves.map(([name, text]) => `  ${name.padEnd(width)}  ${text}`), '',
      'The database commands (jobs dead, jobs retry, reconcile, audit verify) work while FinCore runs:', 'they ask it through its admin API when it holds the embedded data dir, or with --url.'].join('\n');
  });
  return program;
}

async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  let loaded: Config | undefined;
  // Read when a command runs, so `--help` works whatever the environment holds.
  const config = () => (loaded ??= loadConfig());
  const program = buildProgram(config, (code) => (exitCode = code));
  if (argv.length === 0) {
    program.outputHelp();
    return 0;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    // Help and version exit 0; every other commander error is a usage error, already printed.
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    throw error;
  }
  return exitCode;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ConfigError || error instanceof DataDirLockedError || error instanceof UsageError) {
      process.stderr.write(`fincore: ${error.message}\n`);
      process.exit(2);
    }
    if (error instanceof AdminApiError) {
      process.stderr.write(`fincore: ${error.message}\n`);
      process.exit(1);
    }
    process.stderr.write(`fincore: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
