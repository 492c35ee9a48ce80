/**
 * The worker's third batching layer: the PSP attempt history (flows/attempts.ts) is written around
 * every PSP call, a start before it and a completion after it. Written one statement per call,
 * that is two more commits per job than the money itself needs (measured: worker throughput fell
 * from 1,286 to 446 jobs/s when the history arrived, bench/README.md "Worker batching"). Here the
 * starts of the calls a claimed batch makes in one turn go in one statement, and so do the
 * completions that arrive while the previous group is written. A start is still committed before
 * its call is made: the caller's promise settles only once its group is written. Other
 * transports (SQS) write one call's at a time (context.ts: attemptWriters).
 */
import type pg from 'pg';
import { finishAttempts, startAttempts, type FinishAttempt, type StartAttempt } from '../db/attempts.ts';
import type { FlowContext } from '../flows/context.ts';
import { GroupedWrites } from './grouped-writes.ts';

export function groupedAttempts(pool: pg.Pool): FlowContext['attempts'] {
  const starts = new GroupedWrites<{ attempt: StartAttempt; number: number }>(async (entries) => {
    const numbers = await startAttempts(pool, entries.map((entry) => entry.attempt));
    entries.forEach((entry, i) => (entry.number = numbers[i]!));
  });
  const finishes = new GroupedWrites<FinishAttempt>((attempts) => finishAttempts(pool, attempts));
  return {
    async start(attempt) {
      const entry = { attempt, number: 0 };
      await starts.add(entry);
      return entry.number;
    },
    finish: (attempt) => finishes.add(attempt),
  };
}
