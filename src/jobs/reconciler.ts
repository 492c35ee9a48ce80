/** Runs a reconciliation sweep every interval, next to the worker. */
import type { Logger } from 'pino';
import type { FlowContext } from '../flows/context.ts';
import { reconcilePending } from '../flows/reconcile.ts';

export function startReconciler(ctx: FlowContext, options: { intervalMs: number; afterMs: number }, logger: Logger): { stop(): Promise<void> } {
  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(async () => {
      try {
        const report = await reconcilePending(ctx, options.afterMs);
        if (report.settled > 0 || report.errors > 0 || report.resubmitted > 0) logger.info({ report }, 'reconciliation sweep');
      } catch (error) {
        logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'reconciliation sweep failed; next interval retries');
      }
    });
  }, options.intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
