/**
 * POST /v1/charges: one database call (create_charge, src/db/functions/create_charge.sql) claims the idempotency key
 * and writes the charge (pending), its CHARGE job, the charge.created event and the idempotent
 * response, in one transaction. No PSP call inside a request: the configured PSP is only asked
 * whether it knows the payment method (its adapter answers from a fixed list).
 */
import { moneyMovementsCreated } from '../metrics.ts';
import { ParameterInvalid, ReferenceAlreadyUsed } from '../domain/errors.ts';
import { newId } from '../domain/ids.ts';
import { chargeObject, type ChargeRecord } from '../domain/objects.ts';
import { writeCharge, type NewCharge } from '../db/charges.ts';
import type { Cause } from '../db/events.ts';
import type { FlowContext } from './context.ts';
import { idempotencyWrite, keyInUse, markStarted, replayOrReject, StoredResponseFound, type ApiResponse, type IdempotentRequest } from './idempotency.ts';

/**
 * A validated charge request: the new charge row without the id FinCore gives it, and the
 * merchant's optional reference (unique per merchant for ever).
 */
export type ChargeRequest = Omit<NewCharge, 'id'> & { reference?: string | null };

export async function createCharge(ctx: FlowContext, request: ChargeRequest, cause: Cause, idempotency?: IdempotentRequest): Promise<ApiResponse> {
  if (!ctx.psp.supportsPaymentMethod(request.paymentMethod)) {
    throw new ParameterInvalid(`No such payment_method: '${request.paymentMethod}'.`, 'payment_method');
  }
  const createdAt = new Date();
  const charge: ChargeRecord = {
    id: newId('ch'),
    merchant_id: request.merchantId,
    amount: request.amount,
    currency: request.currency,
    status: 'pending',
    payment_method: request.paymentMethod,
    description: request.description,
    metadata: request.metadata,
    failure_code: null,
    failure_message: null,
    psp_reference: null,
    review_reason: null,
    // Recorded once: this charge's refunds and queries go to this PSP whatever the default is later.
    psp: ctx.psp.name,
    reference: request.reference ?? null,
    created_at: createdAt,
    updated_at: createdAt,
  };
  const body = chargeObject(charge, [], []);
  const jobId = newId('job');
  const result = await writeCharge(ctx.pool, {
    charge,
    job: { id: jobId, maxAttempts: ctx.jobMaxAttempts },
    event: { id: newId('evt'), data: { charge: body, job_id: jobId }, cause },
    idempotency: idempotencyWrite(idempotency, { status: 201, body }),
  });
  if (result.outcome === 'key_in_use') throw keyInUse(idempotency?.key ?? '');
  if (result.outcome === 'replay') {
    if (!idempotency) throw new Error('replay without an idempotency key');
    throw new StoredResponseFound(replayOrReject(result.stored, idempotency));
  }
  if (result.outcome === 'reference_already_used') {
    // Judged on the merchant's charges with the key held: this request's answer, stored under the key.
    markStarted(idempotency);
    throw referenceUsed('charge', request.reference ?? '', result.existingId);
  }
  ctx.wakeup.jobsCommitted('CHARGE');
  moneyMovementsCreated.inc({ object: 'charge', currency: body.currency });
  return { status: 201, body };
}

/** 400 reference_already_used naming the object that has the reference (its id in the message and in `existingId`). */
export function referenceUsed(object: 'charge' | 'refund', reference: string, existingId: string): ReferenceAlreadyUsed {
  const scope = object === 'charge' ? 'of this merchant' : 'of this charge';
  return new ReferenceAlreadyUsed(`The reference '${reference}' was already used by ${object} ${existingId} (a reference is unique ${scope} for ever).`, existingId);
}
