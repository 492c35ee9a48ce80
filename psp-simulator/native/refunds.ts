/**
 * POST /v1/refunds: a pending refund of a succeeded charge, within what is left to refund. Also
 * the PSP's own refunds (made "in its dashboard", POST /sim/charges/{id}/refunds) and late
 * failures (a refund that succeeded, then failed or was reversed).
 */
import { PAYMENT_METHODS, newId, type SimCharge, type SimRefund } from '../objects.ts';
import type { NextReport } from '../scenarios.ts';
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

/** The charge by simulator id (`simch_...`) or by the merchant's reference; undefined if none. */
export function findCharge(store: NativeStore, idOrReference: string): SimCharge | undefined {
  const byId = store.charges.get(idOrReference);
  if (byId !== undefined) return byId;
  const id = store.chargesByReference.get(idOrReference);
  return id === undefined ? undefined : store.charges.get(id);
}

/** The refund by simulator id (`simre_...`) or by the merchant's reference; undefined if none. */
export function findRefund(store: NativeStore, idOrReference: string): SimRefund | undefined {
  const byId = store.refunds.get(idOrReference);
  if (byId !== undefined) return byId;
  const id = store.refundsByReference.get(idOrReference);
  return id === undefined ? undefined : store.refunds.get(id);
}

function addRefund(deps: RefundDeps, charge: SimCharge, amount: number, reference: string | null, next: NextReport | null): SimRefund {
  const { store, logger } = deps;
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
    charge_reference: charge.reference,
    amount: next?.amount ?? amount,
    currency: next?.currency ?? charge.currency,
    status: 'pending',
    failure_reason: null,
  };
  store.refunds.set(refund.id, refund);
  const ofCharge = store.refundsByCharge.get(charge.id);
  if (ofCharge) ofCharge.push(refund);
  else store.refundsByCharge.set(charge.id, [refund]);
  if (reference !== null && !store.refundsByReference.has(reference)) store.refundsByReference.set(reference, refund.id);
  logger.info({ refundId: refund.id, chargeId: charge.id, reference, amount, reported: next }, 'psp simulator refund created');
  return refund;
}

/** Settles a pending refund as its charge's payment method says, and schedules a late failure. */
function settleRefund(deps: RefundDeps, charge: SimCharge, refund: SimRefund): void {
  const behaviour = PAYMENT_METHODS.get(charge.payment_method);
  const failureReason = behaviour?.refundFailureReason ?? null;
  if (refund.status !== 'pending') return;
  if (failureReason === null) {
    refund.status = 'succeeded';
    charge.amount_refunded += refund.amount;
  } else {
    refund.status = 'failed';
    refund.failure_reason = failureReason;
  }
  deps.emit(refund.status === 'succeeded' ? 'refund.succeeded' : 'refund.failed', refund);
  const late = behaviour?.refundLateFailure;
  if (refund.status === 'succeeded' && late !== undefined) {
    deps.scenarios.after(
      deps.scenarios.settings.late_failure_ms,
      () => failRefundLate(deps, refund, late.reason),
      (error) => deps.logger.warn({ error: error instanceof Error ? error.message : String(error) }, 'psp simulator late refund failure failed'),
    );
  }
}

export function createRefund(deps: RefundDeps, body: JsonObject, next: NextReport | null = null): StoredResponse {
  const { store, later } = deps;
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
  const refundedCharge = charge;
  const refund = addRefund(deps, charge, amount, reference, next);
  if (next?.early_webhook === true) settleRefund(deps, refundedCharge, refund);
  else later(() => settleRefund(deps, refundedCharge, refund));
  return { status: 200, body: { ...refund } };
}

/**
 * A refund made at the PSP (an operator in its dashboard): no merchant reference. Announced with
 * refund.created (pending), then settles like any refund of the charge (refund.succeeded / failed).
 */
export function createPspRefund(deps: RefundDeps, charge: SimCharge, amount: number | undefined): SimRefund {
  const wanted = amount ?? refundableAmount(deps.store, charge);
  if (wanted < 1) throw new HttpError(400, 'charge_already_refunded', `Charge ${charge.id} has nothing left to refund.`);
  const next = deps.scenarios.takeNext('refund');
  let refund: SimRefund;
  try {
    refund = addRefund(deps, charge, wanted, null, next);
  } catch (error) {
    if (deps.scenarios.peekNext('refund') === null) deps.scenarios.setNext('refund', next);
    throw error;
  }
  deps.emit('refund.created', refund);
  deps.later(() => settleRefund(deps, charge, refund));
  return refund;
}

/**
 * A refund that succeeded fails now (the card network rejected it later, or it was reversed): its
 * amount is refundable again at the PSP, and refund.failed goes out with previous_status succeeded.
 */
export function failRefundLate(deps: RefundDeps, refund: SimRefund, reason: string): SimRefund {
  if (refund.status !== 'succeeded') {
    throw new HttpError(400, 'refund_not_succeeded', `Refund ${refund.id} is ${refund.status}: only a succeeded refund can fail later.`);
  }
  const charge = deps.store.charges.get(refund.charge);
  refund.status = 'failed';
  refund.failure_reason = reason;
  if (charge !== undefined) charge.amount_refunded -= refund.amount;
  deps.logger.info({ refundId: refund.id, reason }, 'psp simulator refund failed after it succeeded');
  deps.emit('refund.failed', refund, 'succeeded');
  return refund;
}
