/**
 * The `fincore` command.
 *   fincore start           API + worker + PSP simulator in one process (what `npm start` runs)
 *   fincore api             the API only (with FINCORE_QUEUE=sqs also the outbox relay to SQS)
 *   fincore worker          a worker only (any number may run against one PostgreSQL server;
 *                           with FINCORE_QUEUE=sqs it polls SQS, as the Lambda would)
 *   fincore psp-simulator   the PSP simulator only
 *   fincore reconcile       one reconciliation sweep now (--all: regardless of age)
 *   fincore migrate         apply database migrations and exit
 *   fincore jobs dead       list dead-lettered jobs
 *   fincore jobs retry ID   put a dead-lettered job back in the queue
 *   fincore jobs redrive    SQS: move the dead-letter queue's messages back to the job queue
 *   fincore audit verify    recompute the audit hash chains and check the ledger (exit 1 on a problem)
 *   fincore audit seal      seal the events the audit relay has not sealed yet, then exit
 */
import pino from 'pino';
import { adminKeyPath } from './admin-key.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { migrate } from './db/migrate.ts';
import { DataDirLockedError } from './db/embedded.ts';
import { findJob, listDeadJobs, requeueDeadJob } from './db/jobs.ts';
import { openDatabase } from './db/pool.ts';
import { flowContext } from './context.ts';
import { merchantWebhookFanOut, startFinCore, type Components } from './main.ts';
import { startPspSimulator } from './psp-simulator/server.ts';
import { reconcilePending } from './flows/reconcile.ts';
import { redriveDeadLetters, sqsClient } from './jobs/sqs.ts';
import { sealPendingEvents } from './audit/seal.ts';
import { verifyAuditTrail, type VerifyReport } from './audit/verify.ts';

const USAGE = `usage: fincore <start|api|worker|psp-simulator|reconcile [--all]|migrate|jobs dead|jobs retry <job_id>|jobs redrive|audit verify|audit seal>`;

function printVerifyReport(report: VerifyReport): void {
  for (const chain of report.chains) process.stdout.write(`chain ${chain.chain}: ${chain.length} events, head ${chain.head}\n`);
  process.stdout.write(`events in chains checked: ${report.eventsChecked}; waiting to be sealed: ${report.pendingSeal}; ledger entries: ${report.ledgerEntries}; charges checked against the ledger: ${report.chargesChecked}\n`);
  if (report.ok) process.stdout.write('audit trail OK\n');
  for (const problem of report.problems) process.stdout.write(`BROKEN: ${problem}\n`);
}

async function runUntilSignal(config: Config, components: Components): Promise<void> {
  const logger = pino({ level: config.logLevel });
  const fincore = await startFinCore(config, components, logger);
  const lines = ['', 'FinCore is running.'];
  if (fincore.apiUrl) lines.push(`  API:            ${fincore.apiUrl}`, `  API docs:       ${fincore.apiUrl}/docs`, `  Dashboard:      ${fincore.apiUrl}/dashboard`, `  OpenAPI:        ${fincore.apiUrl}/openapi.json`);
  if (fincore.simulatorUrl) lines.push(`  PSP simulator:  ${fincore.simulatorUrl}  (state: ${fincore.simulatorUrl}/sim/state)`);
  else if (components.worker) lines.push(`  PSP simulator:  ${config.simUrl}  (outside this process)`);
  lines.push(`  Database:       ${config.databaseUrl ? 'PostgreSQL server (DATABASE_URL)' : `embedded PGlite in ${config.dataDir}`}`);
  if (components.api && fincore.adminKeySource === 'data-dir') lines.push(`  Admin key:      ${fincore.adminKey}   (kept in ${adminKeyPath(config.dataDir)}; FINCORE_ADMIN_KEY overrides it)`);
  if (components.api && fincore.adminKeySource === 'generated') lines.push(`  Admin key:      ${fincore.adminKey}   (generated for this run; set FINCORE_ADMIN_KEY to fix it)`);
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
}

async function withDatabase<T>(config: Config, work: (db: Awaited<ReturnType<typeof openDatabase>>) => Promise<T>): Promise<T> {
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 2, namedStatements: config.dbNamedStatements });
  try {
    await migrate(db.pool);
    return await work(db);
  } finally {
    await db.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, sub, arg] = argv;
  const config = loadConfig();
  switch (command) {
    case 'start':
      // With FINCORE_SIM_URL set, the PSP is outside this process (and outlives it).
      await runUntilSignal(config, { api: true, worker: true, simulator: !config.simUrlGiven });
      return 0;
    case 'api':
      await runUntilSignal(config, { api: true, worker: false, simulator: false });
      return 0;
    case 'worker':
      await runUntilSignal(config, { api: false, worker: true, simulator: false });
      return 0;
    case 'psp-simulator': {
      const logger = pino({ level: config.logLevel });
      const simulator = await startPspSimulator({
        host: config.simHost,
        port: config.simPort,
        webhookUrl: config.simWebhookUrl || config.defaultWebhookUrl,
        webhookSecret: config.pspWebhookSecret,
        // Objects made through its Stripe-compatible API get Stripe-signed events at the Stripe intake.
        stripe: { webhookUrl: config.stripeWebhookUrl, webhookSecret: config.stripe.webhookSecret },
        settleMs: config.simSettleMs,
        faults: config.simFaults,
        logger,
      });
      process.stdout.write(`PSP simulator listening on ${simulator.url}, webhooks to ${config.simWebhookUrl || config.defaultWebhookUrl} (Stripe mode: ${config.stripeWebhookUrl})\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await simulator.close();
      return 0;
    }
    case 'reconcile': {
      // One sweep now, against the PSP the configuration names (FINCORE_SIM_URL for the simulator).
      const report = await withDatabase(config, (db) =>
reconcilePending(flowContext(db, config), sub === '--all' ? 0 : config.reconcile.afterMs),
      );
      process.stdout.write(`checked=${report.checked} settled=${report.settled} resubmitted=${report.resubmitted} psp_errors=${report.errors}\n`);
      return report.errors > 0 ? 1 : 0;
    }
    case 'migrate':
      await withDatabase(config, async () => undefined);
      process.stdout.write('migrations applied\n');
      return 0;
    case 'jobs':
      if (sub === 'dead') {
        const dead = await withDatabase(config, (db) => listDeadJobs(db.pool, 100));
        if (dead.length === 0) process.stdout.write('no dead-lettered jobs\n');
        for (const job of dead) {
          process.stdout.write(`${job.id}  ${job.job_type}  ${job.ref}  attempts=${job.attempts}  dead_since=${job.updated_at.toISOString()}  last_error=${job.last_error ?? ''}\n`);
        }
        return 0;
      }
      if (sub === 'retry' && arg) {
        return withDatabase(config, async (db) => {
          const job = await requeueDeadJob(db.pool, arg);
          if (job) {
            process.stdout.write(`${job.id} queued again (${job.job_type} ${job.ref})\n`);
            return 0;
          }
          const existing = await findJob(db.pool, arg);
          process.stderr.write(existing ? `${arg} is ${existing.status}, not dead: nothing to retry\n` : `no job ${arg}\n`);
          return existing ? 0 : 1;
        });
      }
      if (sub === 'redrive') {
        // SQS transport: the dead-letter queue is SQS's; move its messages back to the job queue.
        if (!config.sqs.queueUrl || !config.sqs.dlqUrl) {
          process.stderr.write('jobs redrive needs FINCORE_SQS_QUEUE_URL and FINCORE_SQS_DLQ_URL\n');
          return 2;
        }
        const moved = await redriveDeadLetters(sqsClient(config.sqs), config.sqs.dlqUrl, config.sqs.queueUrl);
        process.stdout.write(`moved ${moved} message(s) from the dead-letter queue back to the job queue\n`);
        return 0;
      }
      process.stderr.write(`${USAGE}\n`);
      return 2;
    case 'audit':
      if (sub === 'verify') {
        const report = await withDatabase(config, (db) => verifyAuditTrail(db.pool));
        printVerifyReport(report);
        return report.ok ? 0 : 1;
      }
      if (sub === 'seal') {
        const sealed = await withDatabase(config, async (db) => {
          let total = 0;
          let sealed: number;
          do {
            sealed = await sealPendingEvents(db.pool, config.audit.batchSize, merchantWebhookFanOut(config));
            total += sealed;
          } while (sealed > 0);
          return total;
        });
        process.stdout.write(`sealed ${sealed} event(s)\n`);
        return 0;
      }
      process.stderr.write(`${USAGE}\n`);
      return 2;
    default:
      process.stderr.write(`${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ConfigError || error instanceof DataDirLockedError) {
      process.stderr.write(`fincore: ${error.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`fincore: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
