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
  reference: string;
  /** The simulator id (`simch_...`) of the refunded charge. */
  charge: string;
  amount: number;
  currency: string;
  status: SimStatus;
  failure_reason: string | null;
}

export type SimEventType = 'charge.succeeded' | 'charge.failed' | 'refund.succeeded' | 'refund.failed';

export interface SimEvent {
  id: string;
  type: SimEventType;
  created: number;
  data: { object: SimCharge | SimRefund };
}

/** How each known payment method behaves. */
export interface PaymentMethodBehaviour {
  charge: { status: 'succeeded' } | { status: 'failed'; failureCode: string; failureMessage: string };
  /** failure reason for refunds of charges made with this method; null = refunds succeed. */
  refundFailureReason: string | null;
}

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
  ['pm_card_refundFail', { charge: { status: 'succeeded' }, refundFailureReason: 'Refund declined by the card issuer.' }]
]);

export function newId(prefix: 'simch' | 'simre' | 'simevt'): string {
  return `${prefix}_${randomBytes(12).toString('hex')}`;
}
