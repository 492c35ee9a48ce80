/**
 * Every event type FinCore writes to the `events` table, declared once. The events API shows them
 * all; a webhook endpoint subscribes to some of them (or to "*"), and only these are accepted in
 * its `enabled_events`: a typo there would otherwise be an endpoint that silently never hears.
 */
export const EVENT_TYPES = [
  'charge.created',
  'charge.succeeded',
  'charge.failed',
  'refund.created',
  'refund.succeeded',
  'refund.failed',
  'merchant.created',
  'job.dead_lettered',
  'reconciliation.settled',
  'webhook_endpoint.created',
  'webhook_endpoint.deleted',
  'webhook_endpoint.secret_rotated',
  'webhook_endpoint.paused',
  'webhook_endpoint.resumed',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** What `enabled_events` may hold: a known type, or "*" for all of them. */
export const ALL_EVENTS = '*';

export function isEventType(value: string): value is EventType {
  return (EVENT_TYPES as readonly string[]).includes(value);
}
