/**
 * Every event type FinCore writes to its audit trail (GET /v1/events, merchant webhooks), declared
 * once. Writers are typed with EventType; docs/API.md "Events" lists the same (a test compares).
 */
export const EVENT_TYPES = [
  'merchant.created',
  'charge.created',
  'charge.updated',
  'charge.succeeded',
  'charge.failed',
  'charge.requires_review',
  'charge.dispute.created',
  'charge.dispute.updated',
  'charge.dispute.closed',
  'refund.created',
  'refund.updated',
  'refund.succeeded',
  'refund.failed',
  'refund.requires_review',
  'refund.canceled',
  'review.opened',
  'review.resolved',
  'job.dead_lettered',
  'reconciliation.settled',
  'webhook_endpoint.created',
  'webhook_endpoint.deleted',
  'webhook_endpoint.secret_rotated',
  'webhook_endpoint.paused',
  'webhook_endpoint.resumed',
  'api_key.rolled',
  'api_key.revoked',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/**
 * What can cause an event (its `cause.type`), declared once: the Cause type (db/events.ts), the
 * Event schema's enum and, by test/lists-agree.test.ts, the events.cause_type CHECK.
 */
export const CAUSE_TYPES = ['api_request', 'job', 'psp_event', 'operator', 'reconciliation'] as const;

export type CauseType = (typeof CAUSE_TYPES)[number];

/**
 * What a webhook endpoint's `enabled_events` may hold: a type of this list, or "*" for all. A
 * typo would otherwise be an endpoint that silently never hears anything.
 */
export const ALL_EVENTS = '*';

export function isEventType(value: string): value is EventType {
  return (EVENT_TYPES as readonly string[]).includes(value);
}

/**
 * The event a charge or refund writes when it moves to `status`: `<object>.<status>`, or
 * `<object>.updated` for a move back to pending (an operator sending a reviewed object back to
 * wait for the PSP), with `previous_attributes.status` in its data either way.
 */
export function statusEventType(object: 'charge' | 'refund', status: 'pending' | 'succeeded' | 'failed' | 'requires_review' | 'canceled'): EventType {
  // Only a refund can be canceled (REFUND_TRANSITIONS); a charge never reaches `canceled`.
  if (status === 'canceled') return 'refund.canceled';
  return status === 'pending' ? `${object}.updated` : `${object}.${status}`;
}
