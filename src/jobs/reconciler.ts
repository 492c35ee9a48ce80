import type { Logger } from 'pino';
import type { FlowContext } from '../flows/context.ts';
import { reconcilePending, reconcileTerminal, terminalSweepOf } from '../flows/reconcile.ts';

/**
 * Runs a reconciliation sweep every interval, next to the worker: the pending sweep, then the
 * terminal sweep every FINCORE_RECONCILE_TERMINAL_INTERVAL_MS (flows/reconcile.ts: objects settled
 * within FINCORE_RECONCILE_TERMINAL_WINDOW_MS, each re-read at most once per
 * FINCORE_RECONCILE_TERMINAL_RECHECK_MS); and one at start-up, after
 * `startupAfterMs`, over the objects left pending by a previous life whose PSP call had been made:
 * a clean stop right after creating charges loses the in-process simulator and its webhooks with
 * it, and those objects would otherwise wait FINCORE_RECONCILE_AFTER_MS plus an interval.
 */
export function startReconciler(ctx: FlowContext, options: { intervalMs: number; afterMs: number; startupAfterMs?: number; terminalIntervalMs?: number }, logger: Logger): { stop(): Promise<void> } {
  const startedAt = Date.now();
  let running: Promise<void> = Promise.resolve();
  const sweep = (what: string, run: () => Promise<{ checked: number }>) => {
    running = running.then(async () => {
      try {
        const report = await run();
        // Logged when it did something (or failed to): any count besides `checked`.
        const { checked: _checked, ...acted } = report as { checked: number } & Record<string, number>;
        if (Object.values(acted).some((count) => count > 0)) logger.info({ report }, what);
      } catch (error) {
        logger.warn({ err: error instanceof Error ? error.message : String(error) }, `${what} failed; next interval retries`);
      }
    });
  };
  const startup =
    options.startupAfterMs === undefined
      ? undefined
      : setTimeout(() => {
          // Created before this process started, whatever their age (0 for those created since).
          const olderThanMs = Math.max(0, Date.now() - startedAt);
          sweep('start-up reconciliation sweep', () => reconcilePending(ctx, olderThanMs, 1000, { pspCalledOnly: true }));
        }, options.startupAfterMs);
  const timer = setInterval(() => sweep('reconciliation sweep', () => reconcilePending(ctx, options.afterMs)), options.intervalMs);
  // Its own (slower) interval: each run reads a batch of the window's settled objects.
  const terminalTimer = setInterval(() => sweep('terminal reconciliation sweep', () => reconcileTerminal(ctx, terminalSweepOf(ctx))), options.terminalIntervalMs ?? options.intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      clearInterval(terminalTimer);
      clearTimeout(startup);
      await running;
    },
  };
}
