/**
 * POST /v1/refunds/{id}/cancel: a refund is canceled only while no PSP call for it has been
 * started, or every call so far failed before its request could reach the PSP, so a canceled
 * refund is one the PSP never heard of. In ONE transaction: the refund moves pending -> canceled
 * (REFUND_TRANSITIONS, evidence 'merchant'), its REFUND job is withdrawn (marked done: no worker,
 * relay or SQS delivery runs it), the reservation is released in the ledger (refund_released:
 * canceled money is free, so the amount is refundable again), and `refund.canceled` is written
 * (merchant webhooks follow it), with the idempotent response.
 *
 * The rule (sentWhy), judged on rows read under the locks below. The job must not be running,
 * and either
 * - it never started (jobNeverStarted: queued, never attempted, never touched), or
 * - every attempt of the refund (psp_attempts) ended `not_sent` (the connection to the PSP could
 *   not be opened: the adapters class only connect-time errors so), and there are at least as
 *   many attempt rows as the job counts claims. A claim that recorded no attempt row is unknown
 *   (a worker that died between its claim and the row, or a call made before attempt history
 *   existed, migration 016): refused. So is a touched job with no attempt row at all.
 * An attempt still in flight (outcome NULL: running now, or its worker died mid-call) or with any
 * other outcome (timeout, network, server_error, an answer) may have reached the PSP: refused,
 * the message naming the attempt and its outcome.
 *
 * Racing the worker, exactly one wins. Lock order: the refund row, then its job row (always in
 * that order; nothing locks a refund's job and then the refund), then the attempt rows are read
 * (plain reads, no lock). A worker's claim (claimDueJobs: FOR UPDATE SKIP LOCKED, marks the job
 * running and counts the attempt) either
 * - committed first: the cancel's lock waits for it, then reads the job running and refuses
 *   (refund_not_cancelable): the PSP may see the refund; or
 * - comes while the cancel holds the job row: it skips the row, and after the cancel commits
 *   the job is done and never claimed again.
 * An SQS delivery marks the job running the same way (startQueuedDelivery, `status <> 'done'`):
 * it waits for the cancel's lock and then drops the message of a done job. And executeRefund
 * calls the PSP only for a refund still pending.
 *
 * Why the attempt rows cannot change under the decision: attempt rows are written only by the
 * holder of a claim, i.e. while the job is running. recordedPspCall (flows/attempts.ts) commits
 * the attempt row (startAttempt) BEFORE it calls the PSP, and completes it (outcome set) after
 * the call ends, before the job leaves running (scheduleRetry / dead-letter). So once the cancel
 * holds the job row and reads it queued or dead, every call ever made for the refund has its row
 * committed (a call without one was never made; a claim without one is counted by
 * job.attempts), and no new call can start until the lock is released, by which time the job is
 * done. A claim whose lease expired while its holder still runs keeps the job running or leaves
 * it with more claims than rows or with an unfinished row: each is refused. If a completion is
 * written late (after the job is queued again), the row reads in flight: refused, never wrongly
 * canceled.
 */
import { ResourceMissing, RefundNotCancelable } from '../domain/errors.ts';
import { newId } from '../domain/ids.ts';
import { journalEntryFor, refundMovement } from '../domain/ledger.ts';
import { refundObject, type RefundObject, type RefundRecord } from '../domain/objects.ts';
import { mayHaveReachedPsp, type AttemptOutcome } from '../domain/attempts.ts';
import { canMove } from '../domain/status.ts';
import type { Cause } from '../db/events.ts';
import { attemptsOf } from '../db/attempts.ts';
import { jobNeverStarted, lockJobsOfRef, withdrawJob, withdrawUnsentJob, type LockedJob } from '../db/jobs.ts';
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
    // After both locks: no claim can start a call for this refund until this commits.
    // Oldest first: a refusal names the first attempt that may have reached the PSP.
    const attempts = (await attemptsOf(tx, merchantId, 'refund', refund.id)).reverse();
    const why = sentWhy(refund, jobs, attempts);
    if (why) throw new RefundNotCancelable(why, 'id');
    for (const job of jobs) {
      const withdrawn = jobNeverStarted(job) ? await withdrawJob(tx, job.id) : await withdrawUnsentJob(tx, job.id);
      if (!withdrawn) throw new Error(`job ${job.id} of refund ${refund.id} moved under its row lock`);
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

/**
 * Why the PSP may have seen this pending refund, or undefined when no PSP call for it was ever
 * started or every one failed before its request left FinCore (the rule in the header).
 */
function sentWhy(refund: RefundRecord, jobs: readonly LockedJob[], attempts: readonly { attempt_number: number; outcome: AttemptOutcome | null }[]): string | undefined {
  if (refund.origin === 'psp') return 'This refund was created at the payment service provider; it cannot be canceled.';
  if (refund.psp_reference) return `This refund has already been sent to the payment service provider (its reference ${refund.psp_reference}); it cannot be canceled.`;
  if (jobs.length === 0) return 'This refund has no pending request to the payment service provider to withdraw; it cannot be canceled.';
  if (jobs.some((job) => job.status === 'running')) return 'This refund is being sent to the payment service provider right now; it cannot be canceled.';
  const reached = attempts.find((attempt) => mayHaveReachedPsp(attempt.outcome));
  if (reached) {
    const ended = reached.outcome === null ? 'has not finished (in flight, or its worker stopped mid-call)' : `ended ${reached.outcome}`;
    return `This refund's attempt ${reached.attempt_number} to reach the payment service provider ${ended}; the provider may have it, so it cannot be canceled.`;
  }
  if (jobs.every(jobNeverStarted)) return undefined;
  // Attempted, and every recorded attempt never left FinCore (not_sent): withdrawn only if every
  // claim recorded its attempt and the job waits (queued for its retry, or dead-lettered).
  const claims = jobs.reduce((sum, job) => sum + job.attempts, 0);
  const settledJob = jobs.find((job) => job.status !== 'queued' && job.status !== 'dead' && !jobNeverStarted(job));
  if (settledJob) return `This refund's request to the payment service provider has finished (its job is ${settledJob.status}); it cannot be canceled.`;
  if (attempts.length === 0 || attempts.length < claims) {
    const what = attempts.length === 0 ? 'it was taken up before and no attempt of it is recorded' : `${claims} attempt${claims === 1 ? '' : 's'} started, ${attempts.length} recorded`;
    return `This refund may have been sent to the payment service provider (${what}); the provider may have it, so it cannot be canceled.`;
  }
  return undefined;
}
