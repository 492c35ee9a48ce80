/**
 * POST /v1/charges/{id} and POST /v1/refunds/{id}: the merchant's own fields (metadata; a charge's
 * description), with Stripe's semantics: metadata keys given are merged in, a key given "" is
 * removed, `metadata: ""` removes every key, `description: null` clears it. One transaction: idempotency key, the row locked, the
 * update, its `charge.updated` / `refund.updated` event (previous_attributes: the fields as they
 * were) and the stored response. Money fields never change here; an update that changes nothing
 * writes no event and answers the object as it is.
 */
import { ParameterInvalid, ResourceMissing } from '../domain/errors.ts';
import { chargeObject, EMBEDDED_REFUNDS, mergeMetadata, refundObject, sameMetadata, type Metadata, type MetadataUpdate } from '../domain/objects.ts';
import { findChargeWithRefunds, lockChargeOfMerchant, updateChargeDetails } from '../db/charges.ts';
import { disputesOfCharge } from '../db/disputes.ts';
import { appendEvent, type Cause } from '../db/events.ts';
import { inTransaction } from '../db/pool.ts';
import { lockRefundOfMerchant, updateRefundMetadata } from '../db/refunds.ts';
import type { FlowContext } from './context.ts';
import { claimIdempotencyKey, storeIdempotentResponse, type ApiResponse, type IdempotentRequest } from './idempotency.ts';

/** Most metadata keys an object may hold after a merge (as on create: the metadata schema's maxProperties). */
export const MAX_METADATA_KEYS = 20;

export interface ChargeUpdate {
  /** undefined: unchanged; "": every key removed. */
  metadata?: MetadataUpdate;
  /** undefined: unchanged; null: cleared. */
  description?: string | null;
}

function merged(current: Metadata, update: MetadataUpdate | undefined): Metadata {
  if (update === undefined) return current;
  const next = mergeMetadata(current, update);
  if (Object.keys(next).length > MAX_METADATA_KEYS) throw new ParameterInvalid(`Invalid metadata: at most ${MAX_METADATA_KEYS} keys after the update (it would hold ${Object.keys(next).length}).`, 'metadata');
  return next;
}

export async function updateCharge(ctx: FlowContext, merchantId: string, chargeId: string, update: ChargeUpdate, cause: Cause, idempotency?: IdempotentRequest): Promise<ApiResponse> {
  return inTransaction(ctx.pool, async (tx) => {
    await claimIdempotencyKey(tx, idempotency);
    const before = await lockChargeOfMerchant(tx, merchantId, chargeId);
    if (!before) throw new ResourceMissing(`No such charge: '${chargeId}'`, 'id');
    const metadata = merged(before.metadata, update.metadata);
    const description = update.description === undefined ? before.description : update.description;
    const previous: Record<string, unknown> = {};
    if (!sameMetadata(before.metadata, metadata)) previous.metadata = before.metadata;
    if (description !== before.description) previous.description = before.description;
    if (Object.keys(previous).length > 0) {
      await updateChargeDetails(tx, chargeId, metadata, description);
    }
    const found = await findChargeWithRefunds(tx, merchantId, chargeId, EMBEDDED_REFUNDS);
    if (!found) throw new Error(`charge ${chargeId} vanished under its lock`);
    if (Object.keys(previous).length > 0) {
      // The snapshot as the charge's other events carry it: without refunds and disputes.
      await appendEvent(tx, { merchantId, type: 'charge.updated', objectType: 'charge', objectId: chargeId, data: { charge: chargeObject(found.charge, found.amounts), previous_attributes: previous }, cause });
    }
    const response = { status: 200, body: chargeObject(found.charge, found.amounts, found.refunds, await disputesOfCharge(tx, chargeId)) };
    await storeIdempotentResponse(tx, idempotency, response);
    return response;
  });
}

export async function updateRefund(ctx: FlowContext, merchantId: string, refundId: string, update: { metadata?: MetadataUpdate }, cause: Cause, idempotency?: IdempotentRequest): Promise<ApiResponse> {
  return inTransaction(ctx.pool, async (tx) => {
    await claimIdempotencyKey(tx, idempotency);
    const before = (await lockRefundOfMerchant(tx, merchantId, refundId))?.row;
    if (!before) throw new ResourceMissing(`No such refund: '${refundId}'`, 'id');
    const metadata = merged(before.metadata, update.metadata);
    let refund = before;
    if (!sameMetadata(before.metadata, metadata)) {
      refund = await updateRefundMetadata(tx, refundId, metadata);
      await appendEvent(tx, { merchantId, type: 'refund.updated', objectType: 'refund', objectId: refundId, data: { refund: refundObject(refund), previous_attributes: { metadata: before.metadata } }, cause });
    }
    const response = { status: 200, body: refundObject(refund) };
    await storeIdempotentResponse(tx, idempotency, response);
    return response;
  });
}
