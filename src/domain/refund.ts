/**
 * Where refunds are decided. A refund's legality is a pure function of its charge and the
 * charge's existing refunds (read after the charge row was locked, in the same transaction
 * that inserts the refund: see flows/create-refund.ts).
 */
import { AmountTooLarge, ChargeAlreadyRefunded, ChargeNotRefundable, ParameterInvalid } from './errors.ts';
import { isValidAmount, MAX_AMOUNT, MIN_AMOUNT } from './money.ts';
import type { ChargeStatus, RefundStatus } from './status.ts';

/**
 * Why a merchant refunds, declared once: the RefundRecord type, the API's `reason` enums (request
 * and Refund object) and, by test/lists-agree.test.ts, the refunds.reason CHECK derive from it.
 * Adding a reason is this line (and its test).
 */
export const REFUND_REASONS = ['duplicate', 'fraudulent', 'requested_by_customer'] as const;

export type RefundReason = (typeof REFUND_REASONS)[number];

export interface ChargeAmounts {
  amount: number;
  status: ChargeStatus;
}

export interface RefundAmounts {
  amount: number;
  status: RefundStatus;
}

/**
 * Which refunds hold part of their charge ("reserved"): a pending one reserves its amount, a
 * succeeded one moved it, one in review holds it, a failed one holds nothing. One entry per status, so a new status does
 * not compile until it is decided here. The database's form, refund_holds_amount() in
 * src/db/functions/, is compared with this table by test/lists-agree.test.ts.
 */
export const REFUND_HOLDS_AMOUNT: Readonly<Record<RefundStatus, boolean>> = {
  pending: true,
  succeeded: true,
  failed: false,
  // Held until an operator decides: a refund the PSP may have paid must not be refunded again.
  requires_review: true,
};

export function refundHoldsAmount(status: RefundStatus): boolean {
  return REFUND_HOLDS_AMOUNT[status];
}

/** Sum of the refunds that hold money (REFUND_HOLDS_AMOUNT). */
export function reservedByRefunds(refunds: readonly RefundAmounts[]): number {
  return refunds.reduce((sum, r) => (refundHoldsAmount(r.status) ? sum + r.amount : sum), 0);
}

/** charge amount - sum(pending + succeeded refunds). A failed refund frees its amount again. */
export function refundableAmount(charge: ChargeAmounts, refunds: readonly RefundAmounts[]): number {
  return Math.max(0, charge.amount - reservedByRefunds(refunds));
}

/** The charge's `amount_refunded`: only succeeded refunds count. */
export function amountRefunded(refunds: readonly RefundAmounts[]): number {
  return refunds.reduce((sum, r) => (r.status === 'succeeded' ? sum + r.amount : sum), 0);
}

export function validateChargeSucceeded(charge: ChargeAmounts): void {
  if (charge.status !== 'succeeded') {
    throw new ChargeNotRefundable(`This charge is ${charge.status} and cannot be refunded.`, 'charge_id');
  }
}

export function validateSomethingRefundable(refundable: number): void {
  if (refundable === 0) {
    throw new ChargeAlreadyRefunded('This charge has already been fully refunded.', 'charge_id');
  }
}

export function validateRefundAmount(requested: number, refundable: number): void {
  if (requested > refundable) {
    throw new AmountTooLarge(`Refund amount (${requested}) is greater than the refundable amount (${refundable}).`, 'amount');
  }
}

/**
 * Decides the amount of a new refund, or throws the contract error that forbids it.
 * `requested` undefined means "everything still refundable".
 */
export function decideRefundAmount(charge: ChargeAmounts, refunds: readonly RefundAmounts[], requested: number | undefined): number {
  return decideRefundAmountGivenReserved(charge, reservedByRefunds(refunds), requested);
}

/**
 * The same decision from the charge and the amount its refunds reserve (pending + succeeded):
 * all the rules need, and what the database sums up in one query.
 */
export function decideRefundAmountGivenReserved(charge: ChargeAmounts, reserved: number, requested: number | undefined): number {
  validateChargeSucceeded(charge);
  const refundable = Math.max(0, charge.amount - reserved);
  validateSomethingRefundable(refundable);
  if (requested === undefined) return refundable;
  // A zero, negative or fractional refund would shrink the reserved total: never let one through.
  if (!isValidAmount(requested)) throw new ParameterInvalid(`Invalid amount: must be an integer between ${MIN_AMOUNT} and ${MAX_AMOUNT}.`, 'amount');
  validateRefundAmount(requested, refundable);
  return requested;
}
