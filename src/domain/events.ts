/** Every event type FinCore writes (API.md "Events"); the events list filter accepts these only. */
export const EVENT_TYPES = [
  'charge.created',
  'charge.succeeded',
  'charge.failed',
  'refund.created',
  'refund.succeeded',
  'refund.failed',
  'job.dead_lettered',
  'reconciliation.settled',
  'merchant.created',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];
