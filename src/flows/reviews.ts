/**
 * Review items: PSP reports FinCore could not apply safely (flows/settle.ts) and PSP events it
 * could not tie to an object (flows/parked-events.ts), in front of an operator. Resolving one is
 * one transaction: the object leaves requires_review for the status the decision names
 * (src/domain/psp-report.ts decideResolution: the PSP's word, FinCore's status before the review,
 * or back to pending to ask the PSP again), with its event, the journal entry for any money that
 * moves (src/domain/ledger.ts), and a review.resolved event carrying the operator's note.
 */
import { ResourceMissing, ReviewAlreadyResolved, ParameterInvalid } from '../domain/errors.ts';
import { statusEventType } from '../domain/events.ts';
import { newId } from '../domain/ids.ts';
import { chargeCounted, chargeMovement, journalEntryFor, refundMovement } from '../domain/ledger.ts';
import { chargeObject, refundObject, reviewObject, type ChargeRecord, type RefundRecord, type ReviewObject } from '../domain/objects.ts';
import { decideResolution, reviewHoldsObject, type ReviewDecision } from '../domain/psp-report.ts';
import { canMove, type ChargeStatus, type MoneyMovementStatus, type RefundStatus } from '../domain/status.ts';
import { appendEvent, type Cause } from '../db/events.ts';
import { inTransaction, type Queryable } from '../db/pool.ts';
import { findReview, listReviews, lockReview, resolveReviewRow, type ReviewRecord } from '../db/reviews.ts';
import { lockForSettlement, settleChargeRow, settleRefundRow } from '../db/settlements.ts';
import { reviewsResolved } from '../metrics.ts';
import type { FlowContext } from './context.ts';

export interface ReviewPage {
  object: 'list';
  data: ReviewObject[];
  has_more: boolean;
  url: string;
}

export async function listReviewItems(
  ctx: Pick<FlowContext, 'pool'>,
  filter: { status: 'open' | 'resolved' | undefined; merchantId: string | undefined },
  limit: number,
  startingAfter: string | undefined,
): Promise<ReviewPage> {
  const rows = await listReviews(ctx.pool, filter, limit, startingAfter);
  return { object: 'list', data: rows.slice(0, limit).map(reviewObject), has_more: rows.length > limit, url: '/v1/admin/reviews' };
}

/** GET /v1/admin/reviews/{id}: one review item, open or resolved. */
export async function getReviewItem(ctx: Pick<FlowContext, 'pool'>, reviewId: string): Promise<ReviewObject> {
  const review = await findReview(ctx.pool, reviewId);
  if (!review) throw new ResourceMissing(`No such review: '${reviewId}'`, 'id');
  return reviewObject(review);
}

export async function resolveReview(ctx: Pick<FlowContext, 'pool'>, reviewId: string, decision: ReviewDecision, note: string, cause: Cause): Promise<ReviewObject> {
  return inTransaction(ctx.pool, async (tx) => {
    const review = await lockReview(tx, reviewId);
    if (!review) throw new ResourceMissing(`No such review: '${reviewId}'`, 'id');
    if (review.status !== 'open') throw new ReviewAlreadyResolved(`Review ${reviewId} was already resolved (${review.decision ?? 'no decision'}).`, 'id');
    const holds = reviewHoldsObject(review.reason);
    if (holds && review.object_type === 'refund' && review.object_id) await resolveRefund(tx, review, decision, note, cause);
    if (holds && review.object_type === 'charge' && review.object_id) await resolveCharge(tx, review, decision, note, cause);
    // A PSP event FinCore could not match, or a canceled refund the PSP holds (canceled is final),
    // moves nothing: the decision and note are the record.
    const resolved = await resolveReviewRow(tx, reviewId, decision, note);
    const body = reviewObject(resolved);
    await appendEvent(tx, { merchantId: resolved.merchant_id, type: 'review.resolved', objectType: 'review', objectId: resolved.id, data: { review: body }, cause });
    reviewsResolved.inc({ object: review.object_type ?? 'psp_event', decision });
    return body;
  });
}

function targetOf<S extends MoneyMovementStatus>(kind: 'charge' | 'refund', review: ReviewRecord, decision: ReviewDecision): S {
  const to = decideResolution(decision, { statusBefore: (review.status_before ?? 'pending') as S, pspStatus: (review.psp_status ?? 'pending') as S });
  if (!canMove(kind, 'requires_review', to, 'operator')) {
    throw new ParameterInvalid(`Deciding ${decision} would move the ${kind} to ${to}, which is not allowed.`, 'decision');
  }
  return to;
}

async function resolveRefund(tx: Queryable, review: ReviewRecord, decision: ReviewDecision, note: string, cause: Cause): Promise<void> {
  const locked = await lockForSettlement(tx, 'refunds', review.object_id ?? '');
  if (!locked || locked.row.status !== 'requires_review') throw new Error(`review ${review.id}: refund ${review.object_id} is not in review`);
  const { row: refund, lockedAt } = locked;
  const to = targetOf<RefundStatus>('refund', review, decision);
  const settled: RefundRecord = {
    ...refund,
    status: to,
    failure_reason: to === 'failed' ? (refund.failure_reason ?? `Failed by an operator's review: ${note}`) : null,
    review_reason: null,
    updated_at: lockedAt,
  };
  await settleRefundRow(
    tx,
    { refundId: refund.id, status: to, failureReason: settled.failure_reason, reviewReason: null, pspReference: settled.psp_reference },
    { id: newId('evt'), merchantId: refund.merchant_id, type: statusEventType('refund', to), objectType: 'refund', objectId: refund.id, data: { refund: refundObject(settled), previous_attributes: { status: 'requires_review' }, review_id: review.id }, cause },
    journalEntryFor(refundMovement('requires_review', to), refund.amount, { merchantId: refund.merchant_id, currency: refund.currency, chargeId: refund.payment_id, refundId: refund.id }),
  );
}

async function resolveCharge(tx: Queryable, review: ReviewRecord, decision: ReviewDecision, note: string, cause: Cause): Promise<void> {
  const locked = await lockForSettlement(tx, 'payments', review.object_id ?? '');
  if (!locked || locked.row.status !== 'requires_review') throw new Error(`review ${review.id}: charge ${review.object_id} is not in review`);
  const { row: charge, lockedAt } = locked;
  const to = targetOf<ChargeStatus>('charge', review, decision);
  const settled: ChargeRecord = {
    ...charge,
    status: to,
    failure_code: to === 'failed' ? (charge.failure_code ?? 'resolved_in_review') : null,
    failure_message: to === 'failed' ? (charge.failure_message ?? `Failed by an operator's review: ${note}`) : null,
    review_reason: null,
    updated_at: lockedAt,
  };
  const movement = chargeMovement(chargeCounted('requires_review', (review.status_before ?? null) as ChargeStatus | null), chargeCounted(to, null));
  await settleChargeRow(
    tx,
    { chargeId: charge.id, status: to, failureCode: settled.failure_code, failureMessage: settled.failure_message, reviewReason: null, pspReference: settled.psp_reference },
    { id: newId('evt'), merchantId: charge.merchant_id, type: statusEventType('charge', to), objectType: 'charge', objectId: charge.id, data: { charge: chargeObject(settled, []), previous_attributes: { status: 'requires_review' }, review_id: review.id }, cause },
    journalEntryFor(movement, charge.amount, { merchantId: charge.merchant_id, currency: charge.currency, chargeId: charge.id, refundId: null }),
  );
}

