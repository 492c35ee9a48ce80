/**
 * Deletes expired idempotency records every interval, next to the reconciler: without it the
 * table would grow with every keyed request forever. Each pass runs batches until one comes back
 * short, so under steady load the table holds about (TTL + interval) worth of keyed requests.
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import { purgeExpiredIdempotencyKeys } from '../flows/idempotency.ts';

/** Enough for 500,000 rows a pass at the default batch; the next pass continues. */
export const PURGE_MAX_BATCHES = 1000;

export function startIdempotencyPurger(pool: pg.Pool, options: { intervalMs: number; batchSize: number }, logger: Logger): { stop(): Promise<void> } {
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const timer = setInterval(() => {
    running = running.then(async () => {
      if (stopped) return;
      try {
        const report = await purgeExpiredIdempotencyKeys(pool, { batchSize: options.batchSize, maxBatches: PURGE_MAX_BATCHES });
        if (report.deleted > 0) logger.info({ report }, 'expired idempotency keys purged');
      } catch (error) {
        logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'idempotency key purge failed; next interval retries');
      }
    });
  }, options.intervalMs);
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
