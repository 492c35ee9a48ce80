/**
 * Exponential backoff with "equal jitter": half the delay is fixed, half random, so retries of
 * many jobs that failed together spread out instead of hitting the PSP again in step.
 */
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const exponential = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return Math.round(exponential / 2 + (exponential / 2) * random());
}

/**
 * Thrown by a job handler that knows when its job should run again (a webhook endpoint's own
 * retry schedule, or its pause): the worker retries after `delayMs` instead of its generic
 * backoff. `logKey`: failures sharing it are logged at most once a minute (src/jobs/failure-log.ts);
 * `deferred`: no attempt was made (the endpoint is paused or its merchant at its in-flight cap),
 * which is not worth a warning at all.
 */
export class RetryAfter extends Error {
  constructor(
    readonly delayMs: number,
    message: string,
    readonly logKey?: string,
    readonly deferred = false,
  ) {
    super(message);
    this.name = 'RetryAfter';
  }
}
