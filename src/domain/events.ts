/**
 * Every event type FinCore writes to its audit trail (GET /v1/events, merchant webhooks), declared
 * once. Writers are typed with EventType; docs/API.md "Events" lists the same (a test compares).
 */
export const EVENT_TYPES = [
  'merchant.created',
  'charge.created',
  'charge.succeeded',
  'charge.failed',
  'refund.created',
  'refund.succeeded',
  'refund.failed',
  'job.dead_lettered',
  'reconciliation.settled',
  'api_key.rolled',
  'api_key.revoked',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];
