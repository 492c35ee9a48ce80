/**
 * The public API representation of charges and refunds (API.md "Objects"), built from stored
 * records. Pure: the same record always gives the same JSON.
 */
import { amountRefunded } from './refund.ts';
import type { ChargeStatus, RefundStatus } from './status.ts';

export type Metadata = Record<string, string>;

export interface ChargeRecord {
  id: string;
  merchant_id: string;
  amount: number;
  currency: string;
  status: ChargeStatus;
  payment_method: string;
  description: string | null;
  metadata: Metadata;
  failure_code: string | null;
  failure_message: string | null;
  psp_reference: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface RefundRecord {
  id: string;
  payment_id: string;
  merchant_id: string;
  amount: number;
  currency: string;
  status: RefundStatus;
  reason: 'duplicate' | 'fraudulent' | 'requested_by_customer' | null;
  metadata: Metadata;
  failure_reason: string | null;
  psp_reference: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface RefundObject {
  id: string;
  object: 'refund';
  charge_id: string;
  amount: number;
  currency: string;
  status: RefundStatus;
  reason: RefundRecord['reason'];
  metadata: Metadata;
  failure_reason: string | null;
  created_at: string;
  updated_at: string;
}

export interface ChargeObject {
  id: string;
  object: 'charge';
  amount: number;
  currency: string;
  status: ChargeStatus;
  payment_method: string;
  description: string | null;
  metadata: Metadata;
  amount_refunded: number;
  refunded: boolean;
  failure_code: string | null;
  failure_message: string | null;
  refunds?: RefundObject[];
  created_at: string;
  updated_at: string;
}

export function refundObject(refund: RefundRecord): RefundObject {
  return {
    id: refund.id,
    object: 'refund',
    charge_id: refund.payment_id,
    amount: refund.amount,
    currency: refund.currency,
    status: refund.status,
    reason: refund.reason,
    metadata: refund.metadata,
    failure_reason: refund.failure_reason,
    created_at: refund.created_at.toISOString(),
    updated_at: refund.updated_at.toISOString(),
  };
}

/**
 * `refunds` oldest first. amount_refunded is derived from the refunds, never stored on the charge.
 * `includeRefunds` false (list endpoints) omits the array but still derives the totals.
 */
export function chargeObject(charge: ChargeRecord, refunds: readonly RefundRecord[], includeRefunds = true): ChargeObject {
  const refunded = amountRefunded(refunds);
  const object: ChargeObject = {
    id: charge.id,
    object: 'charge',
    amount: charge.amount,
    currency: charge.currency,
    status: charge.status,
    payment_method: charge.payment_method,
    description: charge.description,
    metadata: charge.metadata,
    amount_refunded: refunded,
    refunded: refunded === charge.amount,
    failure_code: charge.failure_code,
    failure_message: charge.failure_message,
    created_at: charge.created_at.toISOString(),
    updated_at: charge.updated_at.toISOString(),
  };
  if (includeRefunds) object.refunds = refunds.map(refundObject);
  return object;
}

/** The public event object (GET /v1/events, outbound merchant webhooks). */
export interface EventObject {
  id: string;
  object: 'event';
  type: string;
  /** Per object: 1 for its creation, +1 for every later change. A consumer keeps the highest seen. */
  sequence: number;
  data: { object_type: string; object_id: string; object: unknown };
  cause: { type: string; id: string; idempotency_key: string | null };
  created_at: string;
}

export interface StoredEvent {
  id: string;
  type: string;
  object_type: string;
  object_id: string;
  sequence: number;
  data: Record<string, unknown>;
  cause_type: string;
  cause_id: string;
  cause_idempotency_key: string | null;
  created_at: Date;
}

/** The object's snapshot after the change is stored under its type (`charge`, `refund`, `job`, ...). */
export function eventObject(event: StoredEvent): EventObject {
  const snapshot = event.data[event.object_type] ?? event.data;
  return {
    id: event.id,
    object: 'event',
    type: event.type,
    sequence: event.sequence,
    data: { object_type: event.object_type, object_id: event.object_id, object: snapshot },
    cause: { type: event.cause_type, id: event.cause_id, idempotency_key: event.cause_idempotency_key },
    created_at: event.created_at.toISOString(),
  };
}
