/**
 * The circuit breaker of one webhook endpoint: pure rules, no I/O (the caller reads and writes
 * the state under the endpoint's row lock, with the database's clock as `now`).
 *
 * closed    deliveries are attempted. Each failed attempt counts; a success clears the count.
 * open      `failureThreshold` failures in a row, the first at least `openAfterMs` ago: the
 *           endpoint is paused until `paused_until`; its deliveries wait (no attempt, no count).
 * half-open the pause has passed: one delivery is attempted as a probe (it moves paused_until on
 *           by a probe lease, so the others keep waiting). Its success closes the breaker (and the
 *           waiting deliveries go); its failure pauses the endpoint again for `pauseMs`.
 * A pause never fails a delivery by itself: a delivery that would wait past its retry window is
 * failed like one that ran out of attempts.
 */
export interface BreakerSettings {
  /** Failed attempts in a row before the endpoint is paused. */
  failureThreshold: number;
  /** ...and for at least this long: a burst of failures within a second is not "a while". */
  openAfterMs: number;
  /** How long a pause lasts before the next probe. */
  pauseMs: number;
}

export interface BreakerState {
  consecutive_failures: number;
  failing_since: Date | null;
  paused_until: Date | null;
  disabled_reason: string | null;
}

export const CLOSED: BreakerState = { consecutive_failures: 0, failing_since: null, paused_until: null, disabled_reason: null };

export type Gate =
  /** Closed: attempt. */
  | { action: 'attempt' }
  /** Open: wait until then, no attempt. */
  | { action: 'wait'; until: Date }
  /** Half-open: this delivery may be the probe, if it wins the claim. */
  | { action: 'probe' };

export function gate(state: BreakerState, now: Date): Gate {
  if (state.paused_until === null) return { action: 'attempt' };
  if (state.paused_until.getTime() > now.getTime()) return { action: 'wait', until: state.paused_until };
  return { action: 'probe' };
}

export type Transition = 'paused' | 'resumed' | null;

export interface AttemptSummary {
  delivered: boolean;
  /** "HTTP 500", "timed out after 10000 ms", ...: what the merchant reads in disabled_reason. */
  summary: string;
}

/** The state after one attempt, and whether the endpoint just paused or resumed (each an event). */
export function afterAttempt(state: BreakerState, attempt: AttemptSummary, now: Date, settings: BreakerSettings): { state: BreakerState; transition: Transition } {
  if (attempt.delivered) return { state: CLOSED, transition: state.paused_until === null ? null : 'resumed' };
  const failures = state.consecutive_failures + 1;
  const failingSince = state.failing_since ?? now;
  const pausedUntil = new Date(now.getTime() + settings.pauseMs);
  const reason = `${failures} failed attempts in a row since ${failingSince.toISOString()}; last: ${attempt.summary}`.slice(0, 500);
  if (state.paused_until !== null) {
    // A failed probe (or an attempt that was in flight when the breaker opened): pause again.
    return { state: { consecutive_failures: failures, failing_since: failingSince, paused_until: pausedUntil, disabled_reason: reason }, transition: null };
  }
  const open = failures >= settings.failureThreshold && now.getTime() - failingSince.getTime() >= settings.openAfterMs;
  return {
    state: { consecutive_failures: failures, failing_since: failingSince, paused_until: open ? pausedUntil : null, disabled_reason: open ? reason : null },
    transition: open ? 'paused' : null,
  };
}
