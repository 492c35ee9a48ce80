import type { Logger } from 'pino';
import type { FlowContext } from '../flows/context.ts';
import { sweepParkedEvents } from '../flows/parked-events.ts';

/**
 * Runs the parked-event sweep (src/flows/parked-events.ts) every interval next to the worker:
 * events whose object became known are applied; those past the window become review items.
 */
export function startParkedEventSweeper(ctx: FlowContext, options: { sweepIntervalMs: number; windowMs: number }, logger: Logger): { stop(): Promise<void> } {
  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(async () => {
      try {
        const sweep = await sweepParkedEvents(ctx, options.windowMs);
        if (sweep.matched > 0 || sweep.unmatched > 0) logger.info({ sweep }, 'parked PSP events swept');
      } catch (error) {
        logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'parked PSP event sweep failed; next interval retries');
      }
    });
  }, options.sweepIntervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
