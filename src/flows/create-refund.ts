/**
 * POST /v1/refunds: decide the refund with the domain rules (src/domain/refund.ts: the charge, what
 * its refunds reserve, its disputes), then write it
 * with its REFUND job, refund.created event, ledger reservation and idempotency record in one
 * statement, create_refund_if_unchanged (src/db/functions/), which first re-checks under the
 * charge's row lock the facts the decision was taken on. That statement is the only code that
 * writes a refund.
 *
 * Where the facts come from is the only thing that varies:
 * - remembered (RefundFactsCache) or read without a lock: one or two round trips. If a concurrent
 *   refund of the same charge moved them, the write answers `changed` with the facts it read
 *   under the lock, and the refund is decided again on those;
 * - after FAST_PATH_ATTEMPTS such races (a hot charge), read inside a transaction that holds the
 *   idempotency key and the charge's row lock (the same order the write takes them): nothing can
 *   move them before the write, so this attempt cannot lose and a refund never livelocks.
 * Refunds of one charge serialize on its row lock either way, so they can never over-refund.
 */
import { ContractError, ResourceMissing } from '../domain/errors.ts';
import { newId } from '../domain/ids.ts';
import { postingsFor } from '../domain/ledger.ts';
import { refundObject, type Metadata, type RefundObject, type RefundRecord } from '../domain/objects.ts';
import { decideRefundAmountGivenReserved } from '../domain/refund.ts';
import { lockChargeOfMerchant } from '../db/charges.ts';
import type { Cause } from '../db/events.ts';
import { inTransaction, type Queryable } from '../db/pool.ts';
import { findRefundIdByReference, readRefundFacts, writeRefundIfUnchanged } from '../db/refunds.ts';
import { referenceUsed } from './create-charge.ts';
import { moneyMovementsCreated, refundWriteRaces } from '../metrics.ts';
import type { FlowContext } from './context.ts';
import type { KnownRefundFacts } from './refund-facts-cache.ts';
import { claimIdempotencyKey, idempotencyWrite, keyInUse, markStarted, replayOrReject, StoredResponseFound, type ApiResponse, type IdempotentRequest } from './idempotency.ts';

export interface RefundRequest {
  merchantId: string;
  chargeId: string;
  /** undefined: refund everything still refundable. */
  amount: number | undefined;
  reason: RefundRecord['reason'];
  metadata: Metadata;
  /** The merchant's reference, unique per charge for ever; undefined or null: none. */
  reference?: string | null;
}

/** Writes lost to concurrent refunds of the same charge before the facts are read under its lock. */
export const FAST_PATH_ATTEMPTS = 3;

export async function createRefund(
  ctx: FlowContext,
  request: RefundRequest,
  cause: Cause,
  idempotency?: IdempotentRequest,
  fastPathAttempts = FAST_PATH_ATTEMPTS,
): Promise<ApiResponse> {
  // The body is valid: whatever is refused from here on (no such charge, amount_too_large, ...) is
  // judged on the charge's facts, and stored under the key as this request's answer.
  markStarted(idempotency);
  try {
    return await decideAndWriteRefund(ctx, request, cause, idempotency, fastPathAttempts);
  } catch (refusal) {
    // A refund refused on the charge's facts (already refunded, ...) whose reference a refund of
    // the charge already has: that refund was made, and naming it is the answer a retry needs.
    if (request.reference && refusal instanceof ContractError && !(refusal instanceof ResourceMissing) && refusal.httpStatus === 400 && refusal.code !== 'reference_already_used' && refusal.type === 'invalid_request_error') {
      const existing = await findRefundIdByReference(ctx.pool, request.merchantId, request.chargeId, request.reference);
      if (existing) throw referenceUsed('refund', request.reference, existing);
    }
    throw refusal;
  }
}

async function decideAndWriteRefund(
  ctx: FlowContext,
  request: RefundRequest,
  cause: Cause,
  idempotency: IdempotentRequest | undefined,
  fastPathAttempts: number,
): Promise<ApiResponse> {
  let response: ApiResponse | undefined;
  let known: KnownFacts | undefined = rememberedFacts(ctx, request);
  for (let attempt = 0; attempt < fastPathAttempts && !response; attempt++) {
    const outcome = await decideAndWrite(ctx, ctx.pool, request, cause, idempotency, known);
    if ('response' in outcome) response = outcome.response;
    // Read under the lock a moment ago: fresh enough to decide, and to refuse, on.
    else known = outcome.moved.charge ? { facts: { charge: outcome.moved.charge, reserved: outcome.moved.reserved, disputes: outcome.moved.disputes }, fresh: true } : undefined;
  }
  if (!response) {
    refundWriteRaces.inc({ resolved_by: 'charge_lock' });
    response = await inTransaction(ctx.pool, async (tx) => {
      // Key first, then the charge: the order create_refund_if_unchanged takes them in (the key's
      // advisory lock is re-entrant, so the write's own claim succeeds).
      await claimIdempotencyKey(tx, idempotency);
      await lockChargeOfMerchant(tx, request.merchantId, request.chargeId);
      const outcome = await decideAndWrite(ctx, tx, request, cause, idempotency, undefined);
      if (!('response' in outcome)) throw new Error(`refund facts of ${request.chargeId} moved under its row lock`);
      return outcome.response;
    });
  }
  ctx.wakeup.jobsCommitted('REFUND');
  moneyMovementsCreated.inc({ object: 'refund', currency: (response.body as RefundObject).currency });
  return response;
}

interface KnownFacts {
  facts: KnownRefundFacts;
  /** Read under the charge's lock by the last write: a refusal may be decided on them. */
  fresh: boolean;
}

function rememberedFacts(ctx: FlowContext, request: RefundRequest): KnownFacts | undefined {
  const facts = ctx.refundFacts.get(request.merchantId, request.chargeId);
  return facts ? { facts, fresh: false } : undefined;
}

type Attempt = { response: ApiResponse } | { moved: { charge: KnownRefundFacts['charge'] | undefined; reserved: number; disputes: KnownRefundFacts['disputes'] } };

/**
 * One decision and one write, on known facts or, without them, on facts read from `db`. A
 * concurrent refund of the charge that moved the facts first makes it answer the facts the
 * write read under the lock.
 */
async function decideAndWrite(
  ctx: FlowContext,
  db: Queryable,
  request: RefundRequest,
  cause: Cause,
  idempotency: IdempotentRequest | undefined,
  known: KnownFacts | undefined,
): Promise<Attempt> {
  const { merchantId, chargeId } = request;
  let facts = known?.facts;
  let amount: number | undefined;
  if (known) {
    try {
      amount = decideRefundAmountGivenReserved(known.facts.charge, known.facts.reserved, request.amount, known.facts.disputes);
    } catch (refusal) {
      if (known.fresh) throw refusal;
      // Never refuse on remembered facts: read them and decide again.
      facts = undefined;
    }
  }
  if (!facts) {
    const read = await readRefundFacts(db, merchantId, chargeId, idempotency);
    if (read.stored && idempotency) throw new StoredResponseFound(replayOrReject(read.stored, idempotency));
    if (!read.charge) throw new ResourceMissing(`No such charge: '${chargeId}'`, 'charge_id');
    facts = { charge: read.charge, reserved: read.reserved, disputes: read.disputes };
    amount = decideRefundAmountGivenReserved(facts.charge, facts.reserved, request.amount, facts.disputes);
  }
  if (amount === undefined) throw new Error('refund amount left undecided');

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
    review_reason: null,
    origin: 'api',
    reference: request.reference ?? null,
    created_at: createdAt,
    updated_at: createdAt,
  };
  const body = refundObject(refund);
  const jobId = newId('job');
  const result = await writeRefundIfUnchanged(db, {
    refund,
    expected: { status: facts.charge.status, reserved: facts.reserved, disputes: facts.disputes },
    job: { id: jobId, maxAttempts: ctx.jobMaxAttempts },
    event: { id: newId('evt'), data: { refund: body, job_id: jobId }, cause },
    postings: postingsFor('refund_reserved', amount),
    idempotency: idempotencyWrite(idempotency, { status: 201, body }),
  });
  switch (result.outcome) {
    case 'created':
      ctx.refundFacts.set(merchantId, chargeId, { charge: facts.charge, reserved: facts.reserved + amount, disputes: facts.disputes });
      return { response: { status: 201, body } };
    case 'no_such_charge':
      ctx.refundFacts.forget(merchantId, chargeId);
      throw new ResourceMissing(`No such charge: '${chargeId}'`, 'charge_id');
    case 'key_in_use':
      throw keyInUse(idempotency?.key ?? '');
    case 'replay':
      if (!idempotency) throw new Error('replay without an idempotency key');
      throw new StoredResponseFound(replayOrReject(result.stored, idempotency));
    case 'changed':
      refundWriteRaces.inc({ resolved_by: 'retry' });
      if (result.facts.charge) ctx.refundFacts.set(merchantId, chargeId, { charge: result.facts.charge, reserved: result.facts.reserved, disputes: result.facts.disputes });
      else ctx.refundFacts.forget(merchantId, chargeId);
      return { moved: result.facts };
    case 'reference_already_used':
      throw referenceUsed('refund', request.reference ?? '', result.existingId);
  }
}
