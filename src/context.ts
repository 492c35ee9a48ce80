/**
 * Builds what flows need from the configuration: the database pool, the PSP gateway the
 * configuration names, and the job wakeup. Shared by every entry point (main.ts, cli.ts,
 * lambda.ts) and kept free of the HTTP server so the Lambda bundle does not carry it.
 */
import type { Config } from './config.ts';
import type { Database } from './db/pool.ts';
import type { FlowContext } from './flows/context.ts';
import { JobWakeup } from './jobs/wakeup.ts';
import { createSimulatorGateway } from './psp/simulator/adapter.ts';

/** `simulatorUrl`: the simulator started in this process, when there is one. */
export function flowContext(db: Database, config: Config, simulatorUrl?: string): FlowContext {
  return {
    pool: db.pool,
    psp: createSimulatorGateway({ baseUrl: simulatorUrl ?? config.simUrl, webhookSecret: config.pspWebhookSecret, timeoutMs: config.pspTimeoutMs }),
    wakeup: new JobWakeup(db.pool, db.embedded),
    jobMaxAttempts: config.worker.maxAttempts,
  };
}
