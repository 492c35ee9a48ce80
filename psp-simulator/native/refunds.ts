/** POST /v1/refunds: a pending refund of a succeeded charge, within what is left to refund. */
import { PAYMENT_METHODS, newId, type SimCharge, type SimRefund } from '../objects.ts';
import type { ChargeDeps } from './charges.ts';
import { HttpError, requireAmount, requireString, type JsonObject, type StoredResponse } from './http.ts';
import type { NativeStore } from './store.ts';

export type RefundDeps = ChargeDeps;

function refundableAmount(store: NativeStore, charge: SimCharge): number {
  let reserved = 0;
  for (const refund of store.refundsByCharge.get(charge.id) ?? []) {
    if (refund.status !== 'failed') reserved += refund.amount;
  }
  return charge.amount - reserved;
}

export function createRefund({ store, later, emit, logger }: RefundDeps, body: JsonObject): StoredResponse {
  const amount = requireAmount(body);
  const reference = requireString(body, 'reference');
  let charge: SimCharge | undefined;
  if (body['charge'] !== undefined && body['charge'] !== null) {
    charge = store.charges.get(requireString(body, 'charge'));
  } else if (body['charge_reference'] !== undefined && body['charge_reference'] !== null) {
    const chargeId = store.chargesByReference.get(requireString(body, 'charge_reference'));
    charge = chargeId === undefined ? undefined : store.charges.get(chargeId);
  } else {
    throw new HttpError(400, 'parameter_missing', 'Missing required parameter: charge or charge_reference.');
  }
  if (charge === undefined) throw new HttpError(400, 'charge_not_found', 'No such charge.');
  if (charge.status !== 'succeeded') {
    throw new HttpError(400, 'charge_not_refundable', `Charge ${charge.id} is ${charge.status}, not succeeded.`);
  }
  const refundable = refundableAmount(store, charge);
  if (amount > refundable) {
    throw new HttpError(400, 'amount_too_large', `Refund amount ${amount} exceeds the refundable ${refundable}.`);
  }
  const refund: SimRefund = {
    id: newId('simre'),
    object: 'refund',
    reference,
    charge: charge.id,
    amount,
    currency: charge.currency,
    status: 'pending',
    failure_reason: null,
  };
  store.refunds.set(refund.id, refund);
  const ofCharge = store.refundsByCharge.get(charge.id);
  if (ofCharge) ofCharge.push(refund);
  else store.refundsByCharge.set(charge.id, [refund]);
  if (!store.refundsByReference.has(reference)) store.refundsByReference.set(reference, refund.id);
  logger.info({ refundId: refund.id, chargeId: charge.id, reference, amount }, 'psp simulator refund created');
  const refundedCharge = charge;
  const failureReason = PAYMENT_METHODS.get(charge.payment_method)?.refundFailureReason ?? null;
  later(() => {
    if (failureReason === null) {
      refund.status = 'succeeded';
      refundedCharge.amount_refunded += refund.amount;
    } else {
      refund.status = 'failed';
      refund.failure_reason = failureReason;
    }
    emit(refund.status === 'succeeded' ? 'refund.succeeded' : 'refund.failed', refund);
  });
  return { status: 200, body: { ...refund } };
}
