/**
 * The public API representation of charges and refunds (API.md "Objects"), built from stored
 * records. Pure: the same record always gives the same JSON.
 */
import type { PspProgress, PspStatus } from './attempts.ts';
import { disputeFactsOf, type DisputeFacts, type DisputeStatus } from './dispute.ts';
import { currencyExponent, formatMinorUnits } from './money.ts';
import { amountRefunded, amountRefundPending, refundabilityGiven, reservedByRefunds, type RefundAmounts, type RefundReason } from './refund.ts';
import type { ReviewDecision, ReviewReason } from './psp-report.ts';
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
  /** Why the charge is in requires_review (src/domain/psp-report.ts), else null. */
  review_reason: ReviewReason | null;
  /** The PSP that took the charge (its refunds and queries go there); null: the configured default's, from before it was recorded. */
  psp: string | null;
  /** The merchant's reference, unique per merchant (migration 019); null or absent: none given. */
  reference?: string | null;
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
  reason: RefundReason | null;
  metadata: Metadata;
  failure_reason: string | null;
  psp_reference: string | null;
  /** Why the refund is in requires_review, else null. */
  review_reason: ReviewReason | null;
  /** 'api': asked for through FinCore; 'psp': made at the PSP (its dashboard) and imported. */
  origin: RefundOrigin;
  /** The merchant's reference, unique per charge (migration 019); null or absent: none given. */
  reference?: string | null;
  created_at: Date;
  updated_at: Date;
}

export const REFUND_ORIGINS = ['api', 'psp'] as const;
export type RefundOrigin = (typeof REFUND_ORIGINS)[number];

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
  review_reason: ReviewReason | null;
  origin: RefundOrigin;
  reference: string | null;
  created_at: string;
  updated_at: string;
  /** What FinCore knows about its PSP call (src/domain/attempts.ts): on retrieve and list responses. */
  psp_status?: PspStatus;
  /** When FinCore next asks the PSP (its job's next run, or reconciliation); null once settled. */
  next_check_at?: string | null;
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
  /** Refunds that hold part of the charge but have not moved it yet: pending and requires_review. */
  amount_refund_pending: number;
  /**
   * What a refund with no amount would get now (0 when none would be accepted): where the charge's
   * disputes are read too (GET and POST /v1/charges/{id}), not in lists or event snapshots.
   */
  amount_refundable?: number;
  refunded: boolean;
  failure_code: string | null;
  failure_message: string | null;
  review_reason: ReviewReason | null;
  /** The PSP that took the charge. */
  psp: string | null;
  reference: string | null;
  refunds?: RefundList;
  /** Its disputes (chargebacks), oldest first: on GET /v1/charges/{id}. */
  disputes?: DisputeObject[];
  created_at: string;
  updated_at: string;
  /** What FinCore knows about its PSP call (src/domain/attempts.ts): on retrieve and list responses. */
  psp_status?: PspStatus;
  /** When FinCore next asks the PSP (its job's next run, or reconciliation); null once settled. */
  next_check_at?: string | null;
}

/** Adds psp_status and next_check_at (derived by pspProgress) to a charge or refund object. */
export function withPspProgress<T extends ChargeObject | RefundObject>(object: T, progress: PspProgress | undefined): T {
  if (!progress) return object;
  return { ...object, psp_status: progress.psp_status, next_check_at: progress.next_check_at ? progress.next_check_at.toISOString() : null };
}

/** A dispute as stored (table disputes). */
export interface DisputeRecord {
  id: string;
  charge_id: string;
  merchant_id: string;
  psp_reference: string;
  amount: number;
  currency: string;
  status: DisputeStatus;
  psp_status: string;
  reason: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface DisputeObject {
  id: string;
  object: 'dispute';
  charge_id: string;
  amount: number;
  currency: string;
  /** FinCore's: open | won | lost (src/domain/dispute.ts). */
  status: DisputeStatus;
  /** The PSP's own status, as it said it (Stripe: needs_response, under_review, warning_closed, ...). */
  psp_status: string;
  reason: string | null;
  created_at: string;
  updated_at: string;
}

export function disputeObject(dispute: DisputeRecord): DisputeObject {
  return {
    id: dispute.id,
    object: 'dispute',
    charge_id: dispute.charge_id,
    amount: Number(dispute.amount),
    currency: dispute.currency,
    status: dispute.status,
    psp_status: dispute.psp_status,
    reason: dispute.reason,
    created_at: dispute.created_at.toISOString(),
    updated_at: dispute.updated_at.toISOString(),
  };
}

/**
 * The refunds a charge embeds: its oldest ones, at most EMBEDDED_REFUNDS, as a list object (as
 * Stripe embeds them); `has_more` says there are others, `url` lists them all (paged).
 */
export interface RefundList {
  object: 'list';
  data: RefundObject[];
  has_more: boolean;
  url: string;
}

/** At most this many refunds ride along with a charge (a charge may have thousands). */
export const EMBEDDED_REFUNDS = 10;

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
    review_reason: refund.review_reason,
    origin: refund.origin,
    reference: refund.reference ?? null,
    created_at: refund.created_at.toISOString(),
    updated_at: refund.updated_at.toISOString(),
  };
}

/**
 * amount_refunded is derived from ALL the charge's refunds (`amounts`: every refund, or their sums
 * per status), never stored on the charge and never from the embedded page alone. `firstRefunds`
 * (oldest first, up to EMBEDDED_REFUNDS + 1) becomes the embedded `refunds` list; omitted, so is it.
 * `disputes` (all of them, oldest first) becomes the `disputes` array; omitted, so is it.
 */
export function chargeObject(charge: ChargeRecord, amounts: readonly RefundAmounts[], firstRefunds?: readonly RefundRecord[], disputes?: readonly DisputeRecord[]): ChargeObject {
  const refunded = amountRefunded(amounts);
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
    amount_refund_pending: amountRefundPending(amounts),
    refunded: refunded === charge.amount,
    failure_code: charge.failure_code,
    failure_message: charge.failure_message,
    review_reason: charge.review_reason,
    psp: charge.psp,
    reference: charge.reference ?? null,
    created_at: charge.created_at.toISOString(),
    updated_at: charge.updated_at.toISOString(),
  };
  if (firstRefunds) object.refunds = refundList(charge.id, firstRefunds);
  if (disputes) {
    object.disputes = disputes.map(disputeObject);
    const answer = refundabilityGiven(charge, reservedByRefunds(amounts), undefined, disputeFactsOf(disputes.map((d) => ({ amount: Number(d.amount), status: d.status }))));
    object.amount_refundable = answer.refundable ? answer.amount : 0;
  }
  return object;
}

/** GET /v1/charges/{id}/refundability: what a refund would get now, and the facts it was decided on. */
export interface RefundabilityObject {
  object: 'refundability';
  charge_id: string;
  refundable: boolean;
  /** What a refund with no amount would get now; 0 when none would be accepted. */
  amount_refundable: number;
  /** Asked with ?amount=N: N. */
  amount_requested: number | null;
  /** The contract error a POST /v1/refunds (with this amount, if given) would get now; null: it would be accepted. */
  error: { code: string; message: string } | null;
  rules: {
    currency: string;
    exponent: number;
    smallest_unit: string;
    charge_status: ChargeStatus;
    open_dispute: boolean;
    lost_to_disputes: number;
    reserved: number;
  };
}

export function refundabilityObject(
  chargeId: string,
  facts: { charge: { status: ChargeStatus; amount: number; currency: string }; reserved: number; disputes: DisputeFacts },
  requested: number | undefined,
): RefundabilityObject {
  const whole = refundabilityGiven(facts.charge, facts.reserved, undefined, facts.disputes);
  const asked = requested === undefined ? whole : refundabilityGiven(facts.charge, facts.reserved, requested, facts.disputes);
  return {
    object: 'refundability',
    charge_id: chargeId,
    refundable: asked.refundable,
    amount_refundable: whole.refundable ? whole.amount : 0,
    amount_requested: requested ?? null,
    error: asked.refundable ? null : { code: asked.error.code, message: asked.error.message },
    rules: {
      currency: facts.charge.currency,
      exponent: currencyExponent(facts.charge.currency),
      smallest_unit: formatMinorUnits(1, facts.charge.currency),
      charge_status: facts.charge.status,
      open_dispute: facts.disputes.open,
      lost_to_disputes: facts.disputes.lost,
      reserved: facts.reserved,
    },
  };
}

/**
 * Stripe's metadata update: keys given are set, a key given "" is removed, keys not given stay.
 * Undefined when nothing changes.
 */
/**
 * A metadata update (POST /v1/charges/{id}, POST /v1/refunds/{id}), Stripe's convention: keys to
 * set, a key given "" removed, keys not given kept; or the empty string itself: every key removed.
 */
export type MetadataUpdate = Metadata | '';

export function mergeMetadata(current: Metadata, update: MetadataUpdate): Metadata {
  if (update === '') return {};
  const merged: Metadata = { ...current };
  for (const [key, value] of Object.entries(update)) {
    if (value === '') delete merged[key];
    else merged[key] = value;
  }
  return merged;
}

export function sameMetadata(a: Metadata, b: Metadata): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

/** `rows`: up to pageSize + 1, oldest first (the extra one says has_more). */
export function refundList(chargeId: string, rows: readonly RefundRecord[], pageSize = EMBEDDED_REFUNDS): RefundList {
  return {
    object: 'list',
    data: rows.slice(0, pageSize).map(refundObject),
    has_more: rows.length > pageSize,
    url: `/v1/refunds?charge_id=${encodeURIComponent(chargeId)}`,
  };
}

/** The public event object (GET /v1/events, outbound merchant webhooks). */
export interface EventObject {
  id: string;
  object: 'event';
  type: string;
  /** Per object: 1 for its creation, +1 for every later change. A consumer keeps the highest seen. */
  sequence: number;
  /**
   * `previous_attributes`: what the change replaced, as it was before (e.g. `{ status: 'succeeded' }`
   * on a refund.failed after success); only when the stored event records it.
   */
  data: { object_type: string; object_id: string; object: unknown; previous_attributes?: Record<string, unknown> };
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
  const previous = event.data.previous_attributes;
  const data: EventObject['data'] = { object_type: event.object_type, object_id: event.object_id, object: snapshot };
  if (previous !== null && typeof previous === 'object' && !Array.isArray(previous)) data.previous_attributes = previous as Record<string, unknown>;
  return {
    id: event.id,
    object: 'event',
    type: event.type,
    sequence: event.sequence,
    data,
    cause: { type: event.cause_type, id: event.cause_id, idempotency_key: event.cause_idempotency_key },
    created_at: event.created_at.toISOString(),
  };
}

/** A review item as the admin API shows it (GET /v1/admin/reviews). */
export interface ReviewObject {
  id: string;
  object: 'review';
  merchant_id: string | null;
  /** The charge or refund in review; null for a PSP event FinCore could not tie to an object. */
  object_type: 'charge' | 'refund' | null;
  object_id: string | null;
  psp_event_id: string | null;
  reason: ReviewReason;
  status: 'open' | 'resolved';
  /** The object's status when the review opened. */
  status_before: string | null;
  /** What the PSP said. */
  psp: { status: string | null; amount: number | null; currency: string | null };
  details: Record<string, unknown>;
  decision: ReviewDecision | null;
  note: string | null;
  created_at: string;
  resolved_at: string | null;
}

export function reviewObject(review: {
  id: string; merchant_id: string | null; object_type: 'charge' | 'refund' | null; object_id: string | null; psp_event_id: string | null;
  reason: ReviewReason; status: 'open' | 'resolved'; status_before: string | null; psp_status: string | null; psp_amount: number | null; psp_currency: string | null;
  details: Record<string, unknown>; decision: ReviewDecision | null; note: string | null; created_at: Date; resolved_at: Date | null;
}): ReviewObject {
  return {
    id: review.id,
    object: 'review',
    merchant_id: review.merchant_id,
    object_type: review.object_type,
    object_id: review.object_id,
    psp_event_id: review.psp_event_id,
    reason: review.reason,
    status: review.status,
    status_before: review.status_before,
    psp: { status: review.psp_status, amount: review.psp_amount, currency: review.psp_currency },
    details: review.details,
    decision: review.decision,
    note: review.note,
    created_at: review.created_at.toISOString(),
    resolved_at: review.resolved_at ? review.resolved_at.toISOString() : null,
  };
}
