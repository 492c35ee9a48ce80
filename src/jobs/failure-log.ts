/**
 * Rate-limited logging of repeated failures: at most one line per key (e.g. a webhook endpoint)
 * per window; the line carries how many were left out since the previous one. A failing endpoint
 * taking thousands of attempts a minute writes one line a minute, not thousands (issue 14: 50 MB
 * of logs in two minutes). Per process: each worker process or Lambda instance keeps its own.
 */
export class FailureLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly windowMs: number,
    /** Keys remembered at most; the oldest are forgotten first (a forgotten key logs again). */
    private readonly maxKeys = 10_000,
  ) {}

  /** Whether to log this failure now, and how many of this key's failures went unlogged before it. */
  note(key: string, nowMs = Date.now()): { log: boolean; suppressed: number } {
    const seen = this.last.get(key);
    if (seen && nowMs - seen.at < this.windowMs) {
      seen.suppressed += 1;
      return { log: false, suppressed: 0 };
    }
    const suppressed = seen?.suppressed ?? 0;
    this.last.delete(key);
    this.last.set(key, { at: nowMs, suppressed: 0 });
    if (this.last.size > this.maxKeys) {
      const oldest = this.last.keys().next().value;
      if (oldest !== undefined) this.last.delete(oldest);
    }
    return { log: true, suppressed };
  }
}

/** One line per webhook endpoint per minute, shared by both transports in this process. */
export const webhookFailureLog = new FailureLog(60_000);
