/**
 * Starts FinCore's components in one process: any combination of the embedded or server
 * database, the API, the worker and the PSP simulator. Used by the CLI and by the tests.
 */
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import { buildApp } from './api/app.ts';
import { Failpoints } from './api/failpoints.ts';
import type { Config } from './config.ts';
import { migrate } from './db/migrate.ts';
import { openDatabase, type Database } from './db/pool.ts';
import type { FlowContext } from './flows/context.ts';
import { JobWakeup } from './jobs/wakeup.ts';
import { startReconciler } from './jobs/reconciler.ts';
import { startWorker, type RunningWorker } from './jobs/worker.ts';
import { createSimulatorGateway } from './psp/simulator/adapter.ts';
import { faultsFromEnv, startPspSimulator } from './psp-simulator/server.ts';

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
  db: Database;
  ctx: FlowContext;
  logger: Logger;
  close(): Promise<void>;
}

/** What flows need, built from the configuration; `simulatorUrl` when the simulator runs here. */
export function flowContext(db: Database, config: Config, simulatorUrl?: string): FlowContext {
  return {
    pool: db.pool,
    psp: createSimulatorGateway({ baseUrl: simulatorUrl ?? config.simUrl, webhookSecret: config.pspWebhookSecret, timeoutMs: config.pspTimeoutMs }),
    wakeup: new JobWakeup(db.pool, db.embedded),
    jobMaxAttempts: config.worker.maxAttempts,
  };
}

export async function startFinCore(config: Config, components: Components, logger: Logger = pino({ level: config.logLevel })): Promise<RunningFinCore> {
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch((error: unknown) => logger.error({ err: error }, 'shutdown step failed'));
  };
  try {
    const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: config.dbPoolSize });
    closers.push(() => db.close());
    const applied = await migrate(db.pool);
    if (applied.length > 0) logger.info({ applied }, 'migrations applied');

    let apiUrl: string | undefined;
    let simulatorUrl: string | undefined;
    if (components.simulator) {
      const simulator = await startPspSimulator({
        host: config.simHost,
        port: config.simPort,
        webhookUrl: () => config.simWebhookUrl || (apiUrl ? `${apiUrl}/v1/webhooks/psp` : config.defaultWebhookUrl),
        webhookSecret: config.pspWebhookSecret,
        settleMs: config.simSettleMs,
        faults: config.simFaults,
        logger: logger.child({ component: 'psp-simulator' }),
      });
      simulatorUrl = simulator.url;
      closers.push(() => simulator.close());
    }

    const ctx = flowContext(db, config, simulatorUrl);

    if (components.api) {
      const app = await buildApp({ ctx, adminKey: config.adminKey, bodyLimitBytes: config.bodyLimitBytes, rateLimitPerSecond: config.rateLimitPerSecond, logger: logger.child({ component: 'api' }), version: VERSION, failpoints: new Failpoints(new Set(config.failpoints)) });
      await app.listen({ host: config.host, port: config.port });
      const address = app.server.address() as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      apiUrl = `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`;
      // Closing the app stops new requests and waits for those in flight.
      closers.push(() => app.close());
    }

    let worker: RunningWorker | undefined;
    if (components.worker) {
      worker = await startWorker(ctx, config.worker, logger.child({ component: 'worker' }));
      closers.push(() => worker?.stop() ?? Promise.resolve());
      const reconciler = startReconciler(ctx, config.reconcile, logger.child({ component: 'reconciler' }));
      closers.push(() => reconciler.stop());
    }

    return { apiUrl, simulatorUrl, db, ctx, logger, close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
