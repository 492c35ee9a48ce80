/**
 * Applying what the PSP says about a charge or refund (a webhook, its answer to the worker's call,
 * what a reconciliation query returns). Runs inside the caller's transaction: the row is locked,
 * src/domain/psp-report.ts decides (move, review, or ignore for a named reason), and the change
 * gets its audit event (which the merchant's webhooks follow) and, when money moves, its journal
 * entry: all or nothing. A late refund failure reverses the payout in the ledger and frees the
 * amount; a contradiction opens a review item and holds the money where it was until an operator
 * decides (flows/reviews.ts). Every outcome is counted (fincore_psp_reports_total), and every
 * late move or review is logged as a warning.
 *
 * A report about a refund FinCore canceled (whatever it says) is a contradiction of its own: a
 * refund is canceled only before any PSP call, so its PSP must never hold it. Canceled is final,
 * so nothing moves: a review item `canceled_refund_at_psp` is opened (once while one is open) with
 * a review.opened event, counted and logged; a webhook saying so is answered, not refused for ever.
 */
import type { Logger } from 'pino';
import { statusEventType } from '../domain/events.ts';
import { newId } from '../domain/ids.ts';
import { chargeCounted, chargeMovement, journalEntryFor, refundMovement } from '../domain/ledger.ts';
import { chargeObject, refundObject, reviewObject, type ChargeRecord, type RefundRecord } from '../domain/objects.ts';
import { decidePspReport, reviewHoldsObject, type ReportDecision, type ReviewReason } from '../domain/psp-report.ts';
import type { ChargeStatus, RefundStatus } from '../domain/status.ts';
import { appendEvent, type Cause } from '../db/events.ts';
import type { Queryable } from '../db/pool.ts';
import { insertReview, lockOpenReviewOf } from '../db/reviews.ts';
import { lockForSettlement, settleChargeRow, settleRefundRow, type Locked } from '../db/settlements.ts';
import { moneyMovementsSettled, pspReports, reviewsOpened, secondsSince, settleLatency } from '../metrics.ts';
import type { PspOutcome } from '../psp/gateway.ts';

export type SettleResult = 'settled' | 'settled_late' | 'review_opened' | 'ignored' | 'unknown_object';

/** Where the report came from, for the review item and the log. */
export interface ReportOrigin {
  cause: Cause;
  /** The stored PSP event, when the report is one. */
  pspEventId?: string | null;
  log?: Logger | undefined;
  /** A contradiction found before the report was read (the PSP object names another object): review it, whatever it says. */
  review?: ReviewReason;
}

export async function settleCharge(tx: Queryable, chargeId: string, outcome: PspOutcome, origin: ReportOrigin | Cause): Promise<SettleResult> {
  const locked = await lockForSettlement(tx, 'payments', chargeId);
  return locked ? settleLockedCharge(tx, locked, outcome, origin) : 'unknown_object';
}

/** settleCharge for a caller that already holds the charge's row lock (lockForSettlement in this transaction). */
export async function settleLockedCharge(tx: Queryable, locked: Locked<ChargeRecord>, outcome: PspOutcome, origin: ReportOrigin | Cause): Promise<SettleResult> {
  const { cause, pspEventId, log, review: forced } = originOf(origin);
  const { row: charge, lockedAt } = locked;
  const chargeId = charge.id;
  const decision: ReportDecision<ChargeStatus> = decidePspReport('charge', charge, outcome, forced);
  if (decision.kind === 'ignore') return ignored('charge', chargeId, decision.why, log);

  const to: ChargeStatus = decision.kind === 'move' ? decision.to : 'requires_review';
  const reviewReason: ReviewReason | null = decision.kind === 'review' ? decision.reason : null;
  // The row as the UPDATE leaves it (it is locked, so nothing else moves it meanwhile); its
  // updated_at is the transaction's now(), which the lock read.
  const settled: ChargeRecord = {
    ...charge,
    status: to,
    failure_code: to === 'failed' ? (outcome.failureCode ?? 'processing_error') : to === 'requires_review' ? charge.failure_code : null,
    failure_message: to === 'failed' ? (outcome.failureMessage ?? 'The payment service provider declined the charge.') : to === 'requires_review' ? charge.failure_message : null,
    review_reason: reviewReason,
    psp_reference: charge.psp_reference ?? (outcome.pspReference || null),
    updated_at: lockedAt,
  };
  // What counts as taken changes only when the charge enters or leaves `succeeded`; in review it
  // stays counted as it was (src/domain/ledger.ts chargeCounted).
  const statusBefore = to === 'requires_review' ? charge.status : null;
  const movement = chargeMovement(chargeCounted(charge.status, null), chargeCounted(to, statusBefore));
  const review = reviewReason ? await openReview(tx, 'charge', settled, { reason: reviewReason, statusBefore: charge.status, outcome, pspEventId }) : undefined;
  await settleChargeRow(
    tx,
    { chargeId, status: to, failureCode: settled.failure_code, failureMessage: settled.failure_message, reviewReason, pspReference: settled.psp_reference },
    {
      id: newId('evt'),
      merchantId: settled.merchant_id,
      type: statusEventType('charge', to),
      objectType: 'charge',
      objectId: chargeId,
      data: { charge: chargeObject(settled, []), previous_attributes: { status: charge.status }, ...(review ? { review_id: review } : {}) },
      cause,
    },
    journalEntryFor(movement, settled.amount, { merchantId: settled.merchant_id, currency: settled.currency, chargeId, refundId: null }),
  );
  return counted('charge', charge.status, to, decision, settled.currency, settled.created_at, chargeId, log);
}

export async function settleRefund(tx: Queryable, refundId: string, outcome: PspOutcome, origin: ReportOrigin | Cause): Promise<SettleResult> {
  const locked = await lockForSettlement(tx, 'refunds', refundId);
  return locked ? settleLockedRefund(tx, locked, outcome, origin) : 'unknown_object';
}

/** settleRefund for a caller that already holds the refund's row lock (lockForSettlement in this transaction). */
export async function settleLockedRefund(tx: Queryable, locked: Locked<RefundRecord>, outcome: PspOutcome, origin: ReportOrigin | Cause): Promise<SettleResult> {
  const { cause, pspEventId, log, review: forced } = originOf(origin);
  const { row: refund, lockedAt } = locked;
  const refundId = refund.id;
  const decision: ReportDecision<RefundStatus> = decidePspReport('refund', refund, outcome, forced);
  if (decision.kind === 'ignore') return ignored('refund', refundId, decision.why, log);
  // A review that does not hold its refund (a canceled one): the review item only, nothing moves.
  if (decision.kind === 'review' && !reviewHoldsObject(decision.reason)) return reviewUnmoved(tx, refund, decision.reason, outcome, { cause, pspEventId, log });

  const to: RefundStatus = decision.kind === 'move' ? decision.to : 'requires_review';
  const reviewReason: ReviewReason | null = decision.kind === 'review' ? decision.reason : null;
  const settled: RefundRecord = {
    ...refund,
    status: to,
    failure_reason: to === 'failed' ? (outcome.failureMessage ?? 'The payment service provider declined the refund.') : to === 'requires_review' ? refund.failure_reason : null,
    review_reason: reviewReason,
    psp_reference: refund.psp_reference ?? (outcome.pspReference || null),
    updated_at: lockedAt,
  };
  const review = reviewReason ? await openReview(tx, 'refund', settled, { reason: reviewReason, statusBefore: refund.status, outcome, pspEventId }) : undefined;
  await settleRefundRow(
    tx,
    { refundId, status: to, failureReason: settled.failure_reason, reviewReason, pspReference: settled.psp_reference },
    {
      id: newId('evt'),
      merchantId: settled.merchant_id,
      type: statusEventType('refund', to),
      objectType: 'refund',
      objectId: refundId,
      // previous_attributes.status says a refund.failed came after success (a late failure).
      data: { refund: refundObject(settled), previous_attributes: { status: refund.status }, ...(review ? { review_id: review } : {}) },
      cause,
    },
    journalEntryFor(refundMovement(refund.status, to), settled.amount, { merchantId: settled.merchant_id, currency: settled.currency, chargeId: settled.payment_id, refundId }),
  );
  return counted('refund', refund.status, to, decision, settled.currency, settled.created_at, refundId, log);
}

/**
 * The PSP reports (a webhook, or what a reconciliation query returns) a refund whose review does
 * not hold it (a refund FinCore canceled: decidePspReport), locked by the caller: a review item
 * with its review.opened event in the caller's transaction, unless one is open already; the
 * refund does not move (module comment).
 */
async function reviewUnmoved(tx: Queryable, refund: RefundRecord, reason: ReviewReason, outcome: PspOutcome, origin: ReportOrigin): Promise<SettleResult> {
  if (await lockOpenReviewOf(tx, refund.id)) {
    pspReports.inc({ object: 'refund', result: 'ignored', detail: 'under_review' });
    origin.log?.warn({ object: 'refund', id: refund.id, pspStatus: outcome.status }, 'PSP report for a canceled refund already in review: kept with its event, nothing moves');
    return 'ignored';
  }
  const psp = { status: outcome.status, amount: outcome.amount ?? null, currency: outcome.currency ?? null, psp_reference: outcome.pspReference || null };
  const review = await insertReview(tx, {
    id: newId('rev'),
    merchant_id: refund.merchant_id,
    object_type: 'refund',
    object_id: refund.id,
    psp_event_id: origin.pspEventId ?? null,
    reason,
    status_before: refund.status,
    psp_status: outcome.status,
    psp_amount: psp.amount,
    psp_currency: psp.currency,
    details: { fincore: { amount: refund.amount, currency: refund.currency, status: refund.status }, psp },
  });
  await appendEvent(tx, { merchantId: refund.merchant_id, type: 'review.opened', objectType: 'review', objectId: review.id, data: { review: reviewObject(review) }, cause: origin.cause });
  pspReports.inc({ object: 'refund', result: 'review', detail: reason });
  reviewsOpened.inc({ object: 'refund', reason });
  origin.log?.warn(
    { object: 'refund', id: refund.id, reviewId: review.id, pspStatus: outcome.status, pspReference: psp.psp_reference, reason, cause: origin.cause.type },
    `the PSP holds refund ${refund.id} (${outcome.status}), which FinCore canceled before any PSP call: review ${review.id} opened`,
  );
  return 'review_opened';
}

function originOf(origin: ReportOrigin | Cause): ReportOrigin {
  return 'cause' in origin ? origin : { cause: origin };
}


async function openReview(
  tx: Queryable,
  objectType: 'charge' | 'refund',
  object: { id: string; merchant_id: string; amount: number; currency: string },
  opened: { reason: ReviewReason; statusBefore: string; outcome: PspOutcome; pspEventId: string | null | undefined },
): Promise<string> {
  const review = await insertReview(tx, {
    id: newId('rev'),
    merchant_id: object.merchant_id,
    object_type: objectType,
    object_id: object.id,
    psp_event_id: opened.pspEventId ?? null,
    reason: opened.reason,
    status_before: opened.statusBefore,
    psp_status: opened.outcome.status,
    psp_amount: opened.outcome.amount ?? null,
    psp_currency: opened.outcome.currency ?? null,
    details: { fincore: { amount: object.amount, currency: object.currency, status: opened.statusBefore }, psp: { status: opened.outcome.status, amount: opened.outcome.amount ?? null, currency: opened.outcome.currency ?? null, psp_reference: opened.outcome.pspReference || null } },
  });
  return review.id;
}

function ignored(object: 'charge' | 'refund', id: string, why: string, log: Logger | undefined): SettleResult {
  pspReports.inc({ object, result: 'ignored', detail: why });
  // A report for an object waiting for an operator is evidence the operator should see.
  if (why === 'under_review') log?.warn({ object, id }, 'PSP report for an object in review: kept with its event, status unchanged');
  else log?.debug({ object, id, why }, 'PSP report changes nothing');
  return 'ignored';
}

// Counted as the change is made, inside the caller's transaction: a transaction that then rolls
// back (rare: a lost connection) is counted anyway. Metrics may over-count; the ledger may not.
function counted<S extends string>(object: 'charge' | 'refund', from: S, to: S, decision: ReportDecision, currency: string, createdAt: Date, id: string, log: Logger | undefined): SettleResult {
  if (decision.kind === 'review') {
    pspReports.inc({ object, result: 'review', detail: decision.reason });
    reviewsOpened.inc({ object, reason: decision.reason });
    log?.warn({ object, id, from, reason: decision.reason }, `PSP report contradicts FinCore: ${object} ${id} is in review (${decision.reason})`);
    return 'review_opened';
  }
  moneyMovementsSettled.inc({ object, status: to, currency });
  if (decision.kind === 'move' && decision.late) {
    pspReports.inc({ object, result: 'late_move', detail: `${from}->${to}` });
    log?.warn({ object, id, from, to }, `PSP moved ${object} ${id} from ${from} to ${to} after it had settled`);
    return 'settled_late';
  }
  pspReports.inc({ object, result: 'applied', detail: to });
  settleLatency.observe({ object, status: to }, secondsSince(createdAt));
  return 'settled';
}
