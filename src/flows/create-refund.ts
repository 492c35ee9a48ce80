/**
 * POST /v1/refunds: one transaction claims the idempotency key, locks the charge row, judges the
 * refund on the refunds read under that lock, and writes refund + REFUND job + refund.created
 * event. Concurrent refunds of one charge serialize on the lock, so they can never over-refund.
 */
import { ResourceMissing } from '../domain/errors.ts';
import { newId } from '../domain/ids.ts';
import { refundObject, type Metadata, type RefundRecord } from '../domain/objects.ts';
import { decideRefundAmount } from '../domain/refund.ts';
import { lockChargeOfMerchant } from '../db/charges.ts';
import { appendEvent, type Cause } from '../db/events.ts';
import { enqueueJob } from '../db/jobs.ts';
import { inTransaction } from '../db/pool.ts';
import { insertRefund, refundAmountsOfCharge } from '../db/refunds.ts';
import type { FlowContext } from './context.ts';
import { claimIdempotencyKey, storeIdempotentResponse, type ApiResponse, type IdempotentRequest } from './idempotency.ts';

export interface RefundRequest {
  merchantId: string;
  chargeId: string;
  /** undefined: refund everything still refundable. */
  amount: number | undefined;
  reason: RefundRecord['reason'];
  metadata: Metadata;
}

export async function createRefund(ctx: FlowContext, request: RefundRequest, cause: Cause, idempotency?: IdempotentRequest): Promise<ApiResponse> {
  const response = await inTransaction(ctx.pool, async (tx) => {
    await claimIdempotencyKey(tx, idempotency);
    const charge = await lockChargeOfMerchant(tx, request.merchantId, request.chargeId);
    if (!charge) throw new ResourceMissing(`No such charge: '${request.chargeId}'`, 'charge_id');
    const amount = decideRefundAmount(charge, await refundAmountsOfCharge(tx, charge.id), request.amount);
    const refund = await insertRefund(tx, {
      id: newId('re'),
      chargeId: charge.id,
      merchantId: request.merchantId,
      amount,
      currency: charge.currency,
      reason: request.reason,
      metadata: request.metadata,
    });
    const jobId = await enqueueJob(tx, { type: 'REFUND', ref: refund.id, maxAttempts: ctx.jobMaxAttempts });
    const body = refundObject(refund);
    await appendEvent(tx, { merchantId: request.merchantId, type: 'refund.created', objectType: 'refund', objectId: refund.id, data: { refund: body, job_id: jobId }, cause });
    const created: ApiResponse = { status: 201, body };
    await storeIdempotentResponse(tx, idempotency, created);
    return created;
  });
  ctx.wakeup.jobsCommitted();
  return response;
}
