/**
 * Where refunds are decided. A refund's legality is a pure function of its charge, the charge's
 * existing refunds and its disputes (re-checked under the charge's row lock by the one refund
 * write: see flows/create-refund.ts).
 */
import { disputeFactsOf, type DisputeAmounts, type DisputeFacts } from './dispute.ts';
import { AmountTooLarge, ChargeAlreadyRefunded, ChargeDisputed, ChargeNotRefundable, ContractError, ParameterInvalid } from './errors.ts';
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
  // Canceled before any PSP call: the amount is refundable again.
  canceled: false,
};

export function refundHoldsAmount(status: RefundStatus): boolean {
  return REFUND_HOLDS_AMOUNT[status];
}

/** Sum of the refunds that hold money (REFUND_HOLDS_AMOUNT). */
export function reservedByRefunds(refunds: readonly RefundAmounts[]): number {
  return refunds.reduce((sum, r) => (refundHoldsAmount(r.status) ? sum + r.amount : sum), 0);
}

/**
 * charge amount - sum(pending + succeeded refunds) - what lost disputes took back. A failed
 * refund frees its amount again.
 */
export function refundableAmount(charge: ChargeAmounts, refunds: readonly RefundAmounts[], disputes: readonly DisputeAmounts[] = []): number {
  return refundableGiven(charge, reservedByRefunds(refunds), disputeFactsOf(disputes).lost);
}

function refundableGiven(charge: ChargeAmounts, reserved: number, lost: number): number {
  return Math.max(0, charge.amount - reserved - lost);
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

/**
 * While a dispute is open the card network is pulling the money back: a refund now would pay the
 * customer twice (Stripe refuses it with the same code).
 */
export function validateNoOpenDispute(disputes: DisputeFacts): void {
  if (disputes.open) {
    throw new ChargeDisputed('This charge has an open dispute (chargeback): the card network is taking the money back, so a refund would pay the customer twice. Refunds are possible again if the dispute is won.', 'charge_id');
  }
}

/**
 * Nothing left: refunds took it (charge_already_refunded), or, when refunds alone leave some,
 * lost disputes took the rest (charge_disputed).
 */
export function validateSomethingRefundable(refundable: number, lostToRefundsAlone?: { amount: number; reserved: number; lost: number }): void {
  if (refundable > 0) return;
  if (lostToRefundsAlone && lostToRefundsAlone.lost > 0 && lostToRefundsAlone.reserved < lostToRefundsAlone.amount) {
    throw new ChargeDisputed(
      `This charge was charged back: lost disputes took ${lostToRefundsAlone.lost} of its ${lostToRefundsAlone.amount}, and refunds hold ${lostToRefundsAlone.reserved}. Nothing is left to refund.`,
      'charge_id',
    );
  }
  throw new ChargeAlreadyRefunded('This charge has already been fully refunded.', 'charge_id');
}

export function validateRefundAmount(requested: number, refundable: number, lost = 0): void {
  if (requested > refundable) {
    const why = lost > 0 ? ` (${lost} of the charge was lost to disputes)` : '';
    throw new AmountTooLarge(`Refund amount (${requested}) is greater than the refundable amount (${refundable})${why}.`, 'amount');
  }
}

/**
 * Decides the amount of a new refund, or throws the contract error that forbids it.
 * `requested` undefined means "everything still refundable".
 */
export function decideRefundAmount(
  charge: ChargeAmounts,
  refunds: readonly RefundAmounts[],
  requested: number | undefined,
  disputes: readonly DisputeAmounts[] = [],
): number {
  return decideRefundAmountGivenReserved(charge, reservedByRefunds(refunds), requested, disputeFactsOf(disputes));
}

/**
 * The same decision from the charge, the amount its refunds reserve (pending + succeeded) and its
 * dispute facts: all the rules need, and what the database sums up in one query. In order:
 * the charge must have succeeded (charge_not_refundable); no dispute may be open
 * (charge_disputed); refundable = amount - reserved - lost to disputes must be > 0
 * (charge_already_refunded, or charge_disputed when lost disputes took the rest); the amount
 * asked for must fit in it (amount_too_large).
 */
export function decideRefundAmountGivenReserved(charge: ChargeAmounts, reserved: number, requested: number | undefined, disputes: DisputeFacts): number {
  validateChargeSucceeded(charge);
  validateNoOpenDispute(disputes);
  const refundable = refundableGiven(charge, reserved, disputes.lost);
  validateSomethingRefundable(refundable, { amount: charge.amount, reserved, lost: disputes.lost });
  if (requested === undefined) return refundable;
  // A zero, negative or fractional refund would shrink the reserved total: never let one through.
  if (!isValidAmount(requested)) throw new ParameterInvalid(`Invalid amount: must be an integer between ${MIN_AMOUNT} and ${MAX_AMOUNT}.`, 'amount');
  validateRefundAmount(requested, refundable, disputes.lost);
  return requested;
}

/**
 * What a refund asking for `requested` (undefined: everything) would get now, without writing:
 * the amount decideRefundAmountGivenReserved decides, or the contract error it throws. The rule is
 * not restated here: this only catches its answer (GET /v1/charges/{id}/refundability).
 */
export type RefundabilityAnswer = { refundable: true; amount: number } | { refundable: false; error: ContractError };

export function refundabilityGiven(charge: ChargeAmounts, reserved: number, requested: number | undefined, disputes: DisputeFacts): RefundabilityAnswer {
  try {
    return { refundable: true, amount: decideRefundAmountGivenReserved(charge, reserved, requested, disputes) };
  } catch (refusal) {
    if (refusal instanceof ContractError) return { refundable: false, error: refusal };
    throw refusal;
  }
}

/** The charge's `amount_refund_pending`: refunds that hold money but have not moved it (pending, in review). */
export function amountRefundPending(refunds: readonly RefundAmounts[]): number {
  return refunds.reduce((sum, r) => (refundHoldsAmount(r.status) && r.status !== 'succeeded' ? sum + r.amount : sum), 0);
}
