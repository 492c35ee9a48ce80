/** The public API representation of webhook endpoints and deliveries. Pure; the secret is never part of either. */
import type { WebhookDeliveryRecord, WebhookEndpointRecord } from '../db/webhook-endpoints.ts';

export interface WebhookEndpointObject {
  id: string;
  object: 'webhook_endpoint';
  url: string;
  enabled_events: string[];
  description: string | null;
  /** `paused`: enabled, but its circuit breaker is open (deliveries wait until paused_until). */
  status: 'enabled' | 'paused' | 'deleted';
  /** When the next probe delivery goes out; null unless paused. */
  paused_until: string | null;
  /** Why it is paused (failed attempts in a row since when, the last answer); null unless paused. */
  disabled_reason: string | null;
  /** Until when the secret replaced by the last rotation still signs deliveries; null outside an overlap. */
  previous_secret_expires_at: string | null;
  created_at: string;
}

export interface WebhookDeliveryObject {
  id: string;
  object: 'webhook_delivery';
  endpoint_id: string;
  event_id: string;
  event_type: string;
  status: WebhookDeliveryRecord['status'];
  attempts: number;
  last_attempt_at: string | null;
  last_response_status: number | null;
  last_error: string | null;
  next_attempt_at: string | null;
  created_at: string;
}

export function webhookEndpointObject(endpoint: WebhookEndpointRecord, now: Date = new Date()): WebhookEndpointObject {
  const paused = endpoint.status === 'enabled' && endpoint.paused_until !== null;
  const overlap = endpoint.previous_secret_expires_at !== null && endpoint.previous_secret_expires_at.getTime() > now.getTime();
  return {
    id: endpoint.id,
    object: 'webhook_endpoint',
    url: endpoint.url,
    enabled_events: endpoint.enabled_events,
    description: endpoint.description,
    status: paused ? 'paused' : endpoint.status,
    paused_until: paused ? (endpoint.paused_until?.toISOString() ?? null) : null,
    disabled_reason: paused ? endpoint.disabled_reason : null,
    previous_secret_expires_at: overlap ? (endpoint.previous_secret_expires_at?.toISOString() ?? null) : null,
    created_at: endpoint.created_at.toISOString(),
  };
}

export function webhookDeliveryObject(delivery: WebhookDeliveryRecord): WebhookDeliveryObject {
  return {
    id: delivery.id,
    object: 'webhook_delivery',
    endpoint_id: delivery.endpoint_id,
    event_id: delivery.event_id,
    event_type: delivery.event_type,
    status: delivery.status,
    attempts: delivery.attempts,
    last_attempt_at: delivery.last_attempt_at?.toISOString() ?? null,
    last_response_status: delivery.last_response_status,
    last_error: delivery.last_error,
    next_attempt_at: delivery.next_attempt_at?.toISOString() ?? null,
    created_at: delivery.created_at.toISOString(),
  };
}
