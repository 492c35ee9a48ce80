/**
 * POST /v1/refunds. The fast path: take the facts (charge, the amount its refunds reserve) this
 * process last saw for the charge, or read them (with any stored idempotency record), decide the
 * refund with the domain rules, then write refund + REFUND job + refund.created event +
 * idempotency record + its reservation in the ledger in one call that first re-checks those facts under the charge's row lock
 * (db/refunds.ts, src/db/functions/create_refund_if_unchanged.sql): one round trip for a charge seen before, two otherwise. When a
 * concurrent refund of the same charge moved the facts, the decision is taken again on the fresh
 * ones; after a few such races the refund falls back to one locked transaction in which the key,
 * the charge and its refunds are read under the lock and the rows written. Either way refunds of
 * one charge serialize on its row lock, so they can never over-refund.
 */
import { ResourceMissing } from '../domain/errors.ts';
import { newId } from '../domain/ids.ts';
import { refundObject, type Metadata, type RefundObject, type RefundRecord } from '../domain/objects.ts';
import { decideRefundAmount, decideRefundAmountGivenReserved } from '../domain/refund.ts';
import { lockChargeOfMerchant } from '../db/charges.ts';
import { postingsFor } from '../domain/ledger.ts';
import { appendEvent, type Cause } from '../db/events.ts';
import { insertJournalEntry } from '../db/ledger.ts';
import { enqueueJob } from '../db/jobs.ts';
import { inTransaction } from '../db/pool.ts';
import { insertRefund, readRefundFacts, refundAmountsOfCharge, writeRefundIfUnchanged } from '../db/refunds.ts';
import { moneyMovementsCreated } from '../metrics.ts';
import type { FlowContext } from './context.ts';
import type { KnownRefundFacts } from './refund-facts-cache.ts';
import { claimIdempotencyKey, idempotencyWrite, keyInUse, markStarted, replayOrReject, storeIdempotentResponse, StoredResponseFound, type ApiResponse, type IdempotentRequest } from './idempotency.ts';

export interface RefundRequest {
  merchantId: string;
  chargeId: string;
  /** undefined: refund everything still refundable. */
  amount: number | undefined;
  reason: RefundRecord['reason'];
  metadata: Metadata;
}

/** Races lost to concurrent refunds of the same charge before taking the locked path. */
const FAST_PATH_ATTEMPTS = 3;

export async function createRefund(ctx: FlowContext, request: RefundRequest, cause: Cause, idempotency?: IdempotentRequest): Promise<ApiResponse> {
  // The body is valid: whatever is refused from here on (no such charge, amount_too_large, ...) is
  // judged on the charge's facts, and stored under the key as this request's answer.
  markStarted(idempotency);
  const response = (await createRefundFast(ctx, request, cause, idempotency)) ?? (await createRefundLocked(ctx, request, cause, idempotency));
  ctx.wakeup.jobsCommitted();
  moneyMovementsCreated.inc({ object: 'refund', currency: (response.body as RefundObject).currency });
  return response;
}

async function createRefundFast(ctx: FlowContext, request: RefundRequest, cause: Cause, idempotency: IdempotentRequest | undefined): Promise<ApiResponse | undefined> {
  const { merchantId, chargeId } = request;
  // Known facts go straight to the write (one round trip); otherwise read them first.
  let facts: KnownRefundFacts | undefined = ctx.refundFacts.get(merchantId, chargeId);
  let fresh = false;
  for (let attempt = 0; attempt < FAST_PATH_ATTEMPTS; attempt++) {
    if (!facts) {
      const read = await readRefundFacts(ctx.pool, merchantId, chargeId, idempotency);
      if (read.stored && idempotency) throw new StoredResponseFound(replayOrReject(read.stored, idempotency));
      if (!read.charge) throw new ResourceMissing(`No such charge: '${chargeId}'`, 'charge_id');
      facts = { charge: read.charge, reserved: read.reserved };
      fresh = true;
    }
    let amount: number;
    try {
      amount = decideRefundAmountGivenReserved(facts.charge, facts.reserved, request.amount);
    } catch (refusal) {
      // Refuse only on facts just read, never on remembered ones.
      if (fresh) throw refusal;
      facts = undefined;
      continue;
    }
    const createdAt = new Date();
    const refund: RefundRecord = {
      id: newId('re'),
      payment_id: chargeId,
      merchant_id: merchantId,
      amount,
      currency: facts.charge.currency,
      status: 'pending',
      reason: request.reason,
      metadata: request.metadata,
      failure_reason: null,
      psp_reference: null,
      created_at: createdAt,
      updated_at: createdAt,
    };
    const body = refundObject(refund);
    const jobId = newId('job');
    const result = await writeRefundIfUnchanged(ctx.pool, {
      refund,
      expected: { status: facts.charge.status, reserved: facts.reserved },
      job: { id: jobId, maxAttempts: ctx.jobMaxAttempts },
      event: { id: newId('evt'), data: { refund: body, job_id: jobId }, cause },
      postings: postingsFor('refund_reserved', amount),
      idempotency: idempotencyWrite(idempotency, { status: 201, body }),
    });
    switch (result.outcome) {
      case 'created':
        ctx.refundFacts.set(merchantId, chargeId, { charge: facts.charge, reserved: facts.reserved + amount });
        return { status: 201, body };
      case 'no_such_charge':
        ctx.refundFacts.forget(merchantId, chargeId);
        throw new ResourceMissing(`No such charge: '${chargeId}'`, 'charge_id');
      case 'key_in_use':
        throw keyInUse(idempotency?.key ?? '');
      case 'replay':
        if (!idempotency) throw new Error('replay without an idempotency key');
        throw new StoredResponseFound(replayOrReject(result.stored, idempotency));
      case 'changed':
        // Read under the lock a moment ago: fresh enough to decide (and to refuse) on.
        facts = result.facts.charge ? { charge: result.facts.charge, reserved: result.facts.reserved } : undefined;
        fresh = facts !== undefined;
        if (facts) ctx.refundFacts.set(merchantId, chargeId, facts);
        else ctx.refundFacts.forget(merchantId, chargeId);
    }
  }
  return undefined;
}

async function createRefundLocked(ctx: FlowContext, request: RefundRequest, cause: Cause, idempotency: IdempotentRequest | undefined): Promise<ApiResponse> {
  return inTransaction(ctx.pool, async (tx) => {
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
    const eventId = await appendEvent(tx, { merchantId: request.merchantId, type: 'refund.created', objectType: 'refund', objectId: refund.id, data: { refund: body, job_id: jobId }, cause });
    await insertJournalEntry(tx, {
      eventId,
      merchantId: request.merchantId,
      movement: 'refund_reserved',
      currency: refund.currency,
      chargeId: charge.id,
      refundId: refund.id,
      postings: postingsFor('refund_reserved', refund.amount),
    });
    const created: ApiResponse = { status: 201, body };
    await storeIdempotentResponse(tx, idempotency, created);
    return created;
  });
}
