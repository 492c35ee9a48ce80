/**
 * POST /v1/charges: one transaction writes the charge (pending), its CHARGE job and the
 * charge.created event, and stores the idempotent response. No PSP call inside a request.
 */
import { newId } from '../domain/ids.ts';
import { chargeObject } from '../domain/objects.ts';
import { insertCharge, type NewCharge } from '../db/charges.ts';
import { appendEvent, type Cause } from '../db/events.ts';
import { enqueueJob } from '../db/jobs.ts';
import { inTransaction } from '../db/pool.ts';
import type { FlowContext } from './context.ts';
import { claimIdempotencyKey, storeIdempotentResponse, type ApiResponse, type IdempotentRequest } from './idempotency.ts';

/** A validated charge request: the new charge row without the id FinCore gives it. */
export type ChargeRequest = Omit<NewCharge, 'id'>;

export async function createCharge(ctx: FlowContext, request: ChargeRequest, cause: Cause, idempotency?: IdempotentRequest): Promise<ApiResponse> {
  const response = await inTransaction(ctx.pool, async (tx) => {
    await claimIdempotencyKey(tx, idempotency);
    const charge = await insertCharge(tx, { id: newId('ch'), ...request });
    const jobId = await enqueueJob(tx, { type: 'CHARGE', ref: charge.id, maxAttempts: ctx.jobMaxAttempts });
    const body = chargeObject(charge, []);
    await appendEvent(tx, { merchantId: request.merchantId, type: 'charge.created', objectType: 'charge', objectId: charge.id, data: { charge: body, job_id: jobId }, cause });
    const created: ApiResponse = { status: 201, body };
    await storeIdempotentResponse(tx, idempotency, created);
    return created;
  });
  ctx.wakeup.jobsCommitted();
  return response;
}
