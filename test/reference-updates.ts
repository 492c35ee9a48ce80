/**
 * A pending PSP answer's reference is recorded with a `charge.updated` / `refund.updated` event
 * (cause: the job) only when the worker records it before the PSP's webhook settles the object;
 * with the simulator settling 10 ms after its answer, that is a race in the end-to-end tests.
 * Those tests look at the other events through this; test/psp-reference-events.test.ts covers
 * the updates themselves.
 */
export const isReferenceUpdate = (type: string): boolean => type === 'charge.updated' || type === 'refund.updated';

export function withoutReferenceUpdates<T extends { type: string }>(events: readonly T[]): T[] {
  return events.filter((event) => !isReferenceUpdate(event.type));
}

/** Summaries like `charge.created/api_request` or `[type, sequence]` start with the type. */
export function withoutReferenceUpdateSummaries(summaries: readonly string[]): string[] {
  return summaries.filter((summary) => !isReferenceUpdate(summary.split('/')[0] ?? ''));
}
