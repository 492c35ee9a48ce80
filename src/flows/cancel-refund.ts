/**
 * POST /v1/refunds/{id}/cancel: a refund is canceled only while no PSP call for it has been
 * started, so a canceled refund is one the PSP never heard of. In ONE transaction: the refund
 * moves pending -> canceled (REFUND_TRANSITIONS, evidence 'merchant'), its REFUND job is withdrawn
 * (marked done: no worker, relay or SQS delivery runs it), the reservation is released in the
 * ledger (refund_released: canceled money is free, so the amount is refundable again), and
 * `refund.canceled` is written (merchant webhooks follow it), with the idempotent response.
 *
 * Racing the worker, exactly one wins. The cancel locks the refund row, then its job row (always
 * in that order; nothing locks a refund's job and then the refund). A worker's claim
 * (claimDueJobs: FOR UPDATE SKIP LOCKED, marks the job running and counts the attempt) either
 * - committed first: the cancel's lock waits for it, then reads the job running/attempted and
 *   refuses (refund_not_cancelable): the PSP may see the refund; or
 * - comes while the cancel holds the job row: it skips the row, and after the cancel commits
 *   the job is done and never claimed again.
 * An SQS delivery marks the job running the same way (startQueuedDelivery, `status <> 'done'`):
 * it waits for the cancel's lock and then drops the message of a done job. And executeRefund
 * calls the PSP only for a refund still pending.
 *
 * "Never started" is judged from the job row alone (jobNeverStarted): queued, never attempted,
 * never touched. A job that was attempted, even one that failed before reaching the PSP, is
 * refused: the worker does not record whether a failed attempt's request left the process, and
 * a refund the PSP may hold must never be called canceled.
 */
import { ResourceMissing, RefundNotCancelable } from '../domain/errors.ts';
import { newId } from '../domain/ids.ts';
import { journalEntryFor, refundMovement } from '../domain/ledger.ts';
import { refundObject, type RefundObject, type RefundRecord } from '../domain/objects.ts';
import { canMove } from '../domain/status.ts';
import type { Cause } from '../db/events.ts';
import { jobNeverStarted, lockJobsOfRef, withdrawJob, type LockedJob } from '../db/jobs.ts';
import { inTransaction } from '../db/pool.ts';
import { lockRefundOfMerchant } from '../db/refunds.ts';
import { settleRefundRow } from '../db/settlements.ts';
import type { FlowContext } from './context.ts';
import { claimIdempotencyKey, storeIdempotentResponse, type ApiResponse, type IdempotentRequest } from './idempotency.ts';

export async function cancelRefund(ctx: FlowContext, merchantId: string, refundId: string, cause: Cause, idempotency?: IdempotentRequest): Promise<ApiResponse> {
  const { response, chargeId } = await inTransaction(ctx.pool, async (tx) => {
    await claimIdempotencyKey(tx, idempotency);
    const locked = await lockRefundOfMerchant(tx, merchantId, refundId);
    if (!locked) throw new ResourceMissing(`No such refund: '${refundId}'`, 'id');
    const { row: refund, lockedAt } = locked;
    if (!canMove('refund', refund.status, 'canceled', 'merchant')) throw new RefundNotCancelable(settledWhy(refund), 'id');
    const jobs = await lockJobsOfRef(tx, 'REFUND', refund.id);
    const why = sentWhy(refund, jobs);
    if (why) throw new RefundNotCancelable(why, 'id');
    for (const job of jobs) {
      if (!(await withdrawJob(tx, job.id))) throw new Error(`job ${job.id} of refund ${refund.id} moved under its row lock`);
    }
    const canceled: RefundRecord = { ...refund, status: 'canceled', updated_at: lockedAt };
    const movement = refundMovement(refund.status, 'canceled');
    await settleRefundRow(
      tx,
      { refundId: refund.id, status: 'canceled', failureReason: refund.failure_reason, reviewReason: refund.review_reason, pspReference: refund.psp_reference },
      {
        id: newId('evt'),
        merchantId,
        type: 'refund.canceled',
        objectType: 'refund',
        objectId: refund.id,
        data: { refund: refundObject(canceled), previous_attributes: { status: refund.status } },
        cause,
      },
      journalEntryFor(movement, refund.amount, { merchantId, currency: refund.currency, chargeId: refund.payment_id, refundId: refund.id }),
    );
    const response: ApiResponse = { status: 200, body: refundObject(canceled) satisfies RefundObject };
    await storeIdempotentResponse(tx, idempotency, response);
    return { response, chargeId: refund.payment_id };
  });
  // What the charge's refunds reserve changed: the next refund of it reads the facts again.
  ctx.refundFacts.forget(merchantId, chargeId);
  return response;
}

function settledWhy(refund: RefundRecord): string {
  switch (refund.status) {
    case 'canceled':
      return 'This refund is already canceled.';
    case 'succeeded':
      return 'This refund has already succeeded at the payment service provider; it cannot be canceled.';
    case 'failed':
      return 'This refund has already failed; its amount is refundable again, and there is nothing to cancel.';
    case 'requires_review':
      return 'This refund is under review (the payment service provider reported something FinCore could not apply); it cannot be canceled.';
    default:
      return `This refund is ${refund.status} and cannot be canceled.`;
  }
}

/** Why the PSP may have seen this pending refund, or undefined when no PSP call was ever started. */
function sentWhy(refund: RefundRecord, jobs: readonly LockedJob[]): string | undefined {
  if (refund.origin === 'psp') return 'This refund was created at the payment service provider; it cannot be canceled.';
  if (refund.psp_reference) return `This refund has already been sent to the payment service provider (its reference ${refund.psp_reference}); it cannot be canceled.`;
  if (jobs.length === 0) return 'This refund has no pending request to the payment service provider to withdraw; it cannot be canceled.';
  const started = jobs.find((job) => !jobNeverStarted(job));
  if (!started) return undefined;
  if (started.status === 'running') return 'This refund is being sent to the payment service provider right now; it cannot be canceled.';
  const attempts = started.attempts > 0 ? `${started.attempts} attempt${started.attempts === 1 ? '' : 's'} so far` : 'it was sent before and queued again';
  return `This refund has already been sent to the payment service provider (${attempts}); the provider may have it, so it cannot be canceled.`;
}
