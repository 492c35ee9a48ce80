/**
 * The audit relay: runs the sealing flow (src/flows/audit-seal.ts) shortly after events commit,
 * beside the worker (started by main.ts).
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import { sealPendingEvents, type EventFollower } from '../flows/audit-seal.ts';
import { PollPause } from '../db/wakeup.ts';


export interface AuditRelayOptions {
  pollIntervalMs: number;
  batchSize: number;
}

/**
 * Runs sealPendingEvents until stopped: at once again after a full batch, else after a pause.
 * `afterSeal` runs after each committed batch (to wake the workers for the deliveries it queued).
 */
export function startAuditRelay(pool: pg.Pool, options: AuditRelayOptions, logger: Logger, follower: EventFollower, afterSeal: () => void): { stop(): Promise<void> } {
  const pause = new PollPause();
  const loop = (async () => {
    while (!pause.stopping) {
      pause.beginRound();
      let sealed = 0;
      try {
        sealed = await sealPendingEvents(pool, options.batchSize, follower);
        if (sealed > 0) afterSeal();
      } catch (error) {
        logger.error({ err: error instanceof Error ? error.message : String(error) }, 'sealing audit events failed; retrying');
      }
      if (sealed < options.batchSize) await pause.sleep(options.pollIntervalMs);
    }
  })();
  return {
    async stop() {
      pause.stop();
      await loop;
    },
  };
}
