/** Settlement scheduling: pending charges and refunds settle `settleMs` later; nothing runs after close. */
import type { SimLogger } from './webhook-sender.ts';

export interface Settlement {
  /** Runs `fn` after settleMs (a thrown error is logged); does nothing once closed. */
  later(fn: () => void): void;
  close(): void;
}

export function createSettlement(settleMs: number, logger: SimLogger): Settlement {
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;
  return {
    later(fn) {
      if (closed) return;
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (closed) return;
        try {
          fn();
        } catch (err) {
          logger.warn({ error: err instanceof Error ? err.message : String(err) }, 'psp simulator settle failed');
        }
      }, settleMs);
      timers.add(timer);
    },
    close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}
