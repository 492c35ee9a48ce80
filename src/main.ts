/**
 * Starts FinCore's components in one process: any combination of the embedded or server
 * database, the API, the worker and the PSP simulator. Used by the CLI and by the tests.
 */
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import { buildApp } from './api/app.ts';
import { flowContext, logWebhookSecrets } from './context.ts';
import { Failpoints } from './api/failpoints.ts';
import type { Config } from './config.ts';
import { migrate } from './db/migrate.ts';
import { openDatabase, type Database } from './db/pool.ts';
import type { FlowContext } from './flows/context.ts';
import { startReconciler } from './jobs/reconciler.ts';
import { startParkedEventSweeper } from './jobs/parked-events.ts';
import { startIdempotencyPurger } from './jobs/idempotency-purger.ts';
import { startAuditRelay } from './audit/seal.ts';
import type { EventFollower } from './flows/audit-seal.ts';
import { fanOutEvents } from './webhooks/fan-out.ts';
import { observeQueue } from './metrics.ts';
import { startOutboxRelay } from './jobs/outbox-relay.ts';
import { JobQueue, sqsClient } from './jobs/sqs.ts';
import { startSqsPoller } from './jobs/sqs-consumer.ts';
import { startWorker, type RunningWorker } from './jobs/worker.ts';
import { jobTypesOfLane } from './domain/jobs.ts';
import { loadDevSimulator } from './dev-simulator.ts';
import { persistentAdminKey } from './admin-key.ts';

export const VERSION = '0.1.0';

export interface Components {
  api: boolean;
  worker: boolean;
  simulator: boolean;
}

export interface RunningFinCore {
  /** Base URL of the API, when it runs. */
  apiUrl: string | undefined;
  simulatorUrl: string | undefined;
  /** The admin key the API accepts: FINCORE_ADMIN_KEY, the data dir's stored key (embedded), or generated for this run. */
  adminKey: string;
  /** Where adminKey came from, for the start-up banner. */
  adminKeySource: 'environment' | 'data-dir' | 'generated';
  db: Database;
  ctx: FlowContext;
  logger: Logger;
  close(): Promise<void>;
}

/** What follows the sealed audit trail: each event goes to the merchant's webhook endpoints. */
export function merchantWebhookFanOut(config: Config): EventFollower {
  return (tx, events) => fanOutEvents(tx, events, { maxAttempts: config.webhooks.jobMaxAttempts });
}

export async function startFinCore(config: Config, components: Components, logger: Logger = pino({ level: config.logLevel })): Promise<RunningFinCore> {
  // Loaded (and its FINCORE_SIM_* settings checked) before anything opens: a bad value is a ConfigError.
  const devSimulator = components.simulator ? await loadDevSimulator(config) : undefined;
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch((error: unknown) => logger.error({ err: error }, 'shutdown step failed'));
  };
  try {
    const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: config.dbPoolSize, namedStatements: config.dbNamedStatements, tls: config.dbTls });
    closers.push(() => db.close());
    // Embedded: the key lives in the data dir (read while we hold its lock), so a restart keeps it.
    const adminKeySource: RunningFinCore['adminKeySource'] = !config.adminKeyGenerated ? 'environment' : config.databaseUrl ? 'generated' : 'data-dir';
    const adminKey = adminKeySource === 'data-dir' ? persistentAdminKey(config.dataDir, config.adminKey) : config.adminKey;
    const applied = await migrate(db.pool);
    if (applied.length > 0) logger.info({ applied }, 'migrations applied');
    logWebhookSecrets(config, logger);

    let apiUrl: string | undefined;
    let simulatorUrl: string | undefined;
    if (devSimulator) {
      const simulator = await devSimulator.start({
        webhookUrl: () => config.simWebhookUrl || (apiUrl ? `${apiUrl}/v1/webhooks/psp` : config.defaultWebhookUrl),
        // Its Stripe mode sends Stripe-signed events to the Stripe intake.
        stripeWebhookUrl: () => (apiUrl ? `${apiUrl}/v1/webhooks/stripe` : config.stripeWebhookUrl),
        logger: logger.child({ component: 'psp-simulator' }),
      });
      simulatorUrl = simulator.url;
      closers.push(() => simulator.close());
    }

    const ctx = { ...flowContext(db, config, simulatorUrl), log: logger.child({ component: 'flows' }) };
    observeQueue(db.pool);

    if (components.api) {
      const app = await buildApp({ ctx, adminKey, bodyLimitBytes: config.bodyLimitBytes, rateLimits: config.rateLimits, trustProxy: config.trustProxy, apiKeyCacheMs: config.apiKeyCacheMs, logger: logger.child({ component: 'api' }), version: VERSION, http: config.http, failpoints: new Failpoints(new Set(config.failpoints)), idempotencyTtlHours: config.idempotency.ttlHours });
      await app.listen({ host: config.host, port: config.port });
      const address = app.server.address() as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      apiUrl = `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`;
      // Closing the app stops new requests and waits for those in flight.
      closers.push(() => app.close());
    }

    if (components.api && config.queue === 'sqs') {
      // The relay runs next to the API: the service that writes the outbox publishes it.
      const queue = new JobQueue(sqsClient(config.sqs), config.sqs.queueUrl);
      const relay = startOutboxRelay(db.pool, queue, ctx.wakeup, { pollIntervalMs: config.sqs.relayPollMs, batchSize: config.sqs.relayBatch, leaseMs: 30_000 }, logger.child({ component: 'outbox-relay' }));
      closers.push(() => relay.stop());
    }

    if (components.worker) {
      if (config.queue === 'sqs') {
        const queue = new JobQueue(sqsClient(config.sqs), config.sqs.queueUrl);
        const poller = startSqsPoller(ctx, queue, { maxReceiveCount: config.sqs.maxReceiveCount, leaseMs: config.worker.leaseMs, waitSeconds: 1 }, logger.child({ component: 'sqs-worker' }));
        closers.push(() => poller.stop());
      } else {
        // Two lanes: a slow or failing merchant endpoint holds only the webhook lane's slots,
        // never the ones charges and refunds need. Each claims the job types declared in its lane
        // (src/domain/jobs.ts), so a new type is claimed without a change here.
        const worker: RunningWorker = await startWorker(ctx, { ...config.worker, jobTypes: jobTypesOfLane('money') }, logger.child({ component: 'worker' }));
        closers.push(() => worker.stop());
        const webhookWorker: RunningWorker = await startWorker(
          ctx,
          // Claimed fairly across merchants, a quarter of the lane at a time: a claim waits for
          // that much room, not for every hanging delivery of the previous batch to finish.
          {
            ...config.worker,
            concurrency: config.webhooks.concurrency,
            batchSize: Math.max(1, Math.min(config.worker.batchSize, Math.floor(config.webhooks.concurrency / 4))),
            jobTypes: jobTypesOfLane('webhook'),
            merchantCap: config.webhooks.merchantConcurrency,
          },
          logger.child({ component: 'webhook-worker' }),
        );
        closers.push(() => webhookWorker.stop());
      }
      const reconciler = startReconciler(ctx, config.reconcile, logger.child({ component: 'reconciler' }));
      closers.push(() => reconciler.stop());
      const parkedSweeper = startParkedEventSweeper(ctx, config.parkedEvents, logger.child({ component: 'parked-events' }));
      closers.push(() => parkedSweeper.stop());
      const purger = startIdempotencyPurger(db.pool, { intervalMs: config.idempotency.purgeIntervalMs, batchSize: config.idempotency.purgeBatch }, logger.child({ component: 'idempotency-purger' }));
      closers.push(() => purger.stop());
    }

    // The audit relay runs beside the queue's consumer (postgres) or, on AWS, in the always-on API
    // service (the Lambda worker only lives while messages arrive).
    if (config.queue === 'sqs' ? components.api : components.worker) {
      const relay = startAuditRelay(db.pool, config.audit, logger.child({ component: 'audit-relay' }), merchantWebhookFanOut(config), () => ctx.wakeup.jobsCommitted('WEBHOOK'));
      closers.push(() => relay.stop());
    }

    return { apiUrl, simulatorUrl, adminKey, adminKeySource, db, ctx, logger, close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
