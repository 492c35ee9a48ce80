/**
 * The PSP simulator's own objects (its wire format). The simulator is an outside PSP: it
 * shares no code with FinCore, so these shapes are defined here, not imported.
 */
import { randomBytes } from 'node:crypto';

export type SimStatus = 'pending' | 'succeeded' | 'failed';

export interface SimCharge {
  id: string;
  object: 'charge';
  reference: string;
  amount: number;
  currency: string;
  payment_method: string;
  status: SimStatus;
  failure_code: string | null;
  failure_message: string | null;
  /** Sum of succeeded refunds. */
  amount_refunded: number;
}

export interface SimRefund {
  id: string;
  object: 'refund';
  /** The id the merchant gave at creation; null for a refund made at the PSP (POST /sim/charges/{id}/refunds). */
  reference: string | null;
  /** The simulator id (`simch_...`) of the refunded charge. */
  charge: string;
  /** The merchant's reference of the refunded charge. */
  charge_reference: string;
  amount: number;
  currency: string;
  status: SimStatus;
  failure_reason: string | null;
}

/** A dispute (chargeback) of a charge, opened and closed with the /sim control endpoints. */
export interface SimDispute {
  id: string;
  object: 'dispute';
  /** The simulator id (`simch_...`) of the disputed charge. */
  charge: string;
  /** The merchant's reference of the disputed charge. */
  charge_reference: string;
  amount: number;
  currency: string;
  status: 'open' | 'won' | 'lost';
  reason: string;
}

export type SimEventType =
  | 'charge.succeeded'
  | 'charge.failed'
  | 'refund.created'
  | 'refund.succeeded'
  | 'refund.failed'
  | 'dispute.created'
  | 'dispute.closed';

export interface SimEvent {
  id: string;
  type: SimEventType;
  created: number;
  /** `previous_status`: set when a refund leaves a settled status (a late failure or a reversal). */
  data: { object: SimCharge | SimRefund | SimDispute; previous_status?: SimStatus };
}

/** How each known payment method behaves. */
export interface PaymentMethodBehaviour {
  charge: { status: 'succeeded' } | { status: 'failed'; failureCode: string; failureMessage: string };
  /** failure reason for refunds of charges made with this method; null = refunds succeed. */
  refundFailureReason: string | null;
  /**
   * Refunds succeed, then fail `late_failure_ms` later (POST /sim/settings) with this reason:
   * a card refund the network rejects after success, or one reversed (Adyen REFUNDED_REVERSED).
   */
  refundLateFailure?: { kind: 'fails_later' | 'reversed'; reason: string };
}

export const LATE_FAILURE_REASON = 'The card issuer rejected the refund after it succeeded (expired or canceled card).';
export const REVERSAL_REASON = 'The refund was reversed: the refunded amount was returned to the merchant account (REFUNDED_REVERSED).';

export const PAYMENT_METHODS: ReadonlyMap<string, PaymentMethodBehaviour> = new Map<string, PaymentMethodBehaviour>([
  ['pm_card_visa', { charge: { status: 'succeeded' }, refundFailureReason: null }],
  ['pm_card_mastercard', { charge: { status: 'succeeded' }, refundFailureReason: null }],
  [
    'pm_card_chargeDeclined',
    {
      charge: { status: 'failed', failureCode: 'card_declined', failureMessage: 'Your card was declined.' },
      refundFailureReason: null,
    },
  ],
  ['pm_card_refundFail', { charge: { status: 'succeeded' }, refundFailureReason: 'Refund declined by the card issuer.' }],
  [
    'pm_card_refundFailsLater',
    { charge: { status: 'succeeded' }, refundFailureReason: null, refundLateFailure: { kind: 'fails_later', reason: LATE_FAILURE_REASON } },
  ],
  [
    'pm_card_refundReversed',
    { charge: { status: 'succeeded' }, refundFailureReason: null, refundLateFailure: { kind: 'reversed', reason: REVERSAL_REASON } },
  ],
]);

export function newId(prefix: 'simch' | 'simre' | 'simevt' | 'simdp'): string {
  return `${prefix}_${randomBytes(12).toString('hex')}`;
}
