/**
 * The Stripe account's records (what the simulator keeps) and their Stripe wire shapes (what the
 * API and webhooks show): PaymentIntent `pi_`, its Charge `ch_`, PaymentMethod `pm_`, Refund `re_`.
 * Only the fields a payment integration reads are rendered; see index.ts for what is left out.
 */
import { randomBytes } from 'node:crypto';
import { PAYMENT_METHODS } from '../objects.ts';

/** Stripe-Version used when a request sends none (the account's default API version). */
export const DEFAULT_API_VERSION = '2026-10-28.endive';

const ID_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export type StripeIdPrefix = 'pi' | 'ch' | 're' | 'pm' | 'evt' | 'req' | 'dp';

export function stripeId(prefix: StripeIdPrefix): string {
  let suffix = '';
  for (const byte of randomBytes(24)) suffix += ID_ALPHABET[byte % ID_ALPHABET.length];
  return `${prefix}_${suffix}`;
}

export function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}

/** Currencies Stripe accepts for card payments (lowercase ISO 4217). */
export const SUPPORTED_CURRENCIES: ReadonlySet<string> = new Set(
  ('usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd bwp byn bzd cad cdf ' +
    'chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel gip gmd gnf gtq gyd hkd hnl htg huf ' +
    'idr ils inr isk jmd jod jpy kes kgs khr kmf krw kwd kyd kzt lak lbp lkr lrd lsl mad mdl mga mkd mmk mnt mop ' +
    'mur mvr mwk mxn myr mzn nad ngn nio nok npr nzd omr pab pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd ' +
    'scr sek sgd shp sle sos srd std szl thb tjs top try ttd twd tzs uah ugx uyu uzs vnd vuv wst xaf xcd xof xpf ' +
    'yer zar zmw').split(' '),
);

/** Stripe's minimum charge per settlement currency, in minor units (others: no minimum here). */
export const MINIMUM_CHARGE: ReadonlyMap<string, number> = new Map([
  ['usd', 50], ['eur', 50], ['gbp', 30], ['cad', 50], ['aud', 50], ['chf', 50], ['nzd', 50], ['sgd', 50],
  ['hkd', 400], ['jpy', 50], ['dkk', 250], ['nok', 300], ['sek', 300], ['pln', 200], ['czk', 1500], ['mxn', 1000],
  ['brl', 50], ['inr', 50],
]);

/** Stripe's largest charge: 999,999.99 in a two-decimal currency. */
export const MAX_AMOUNT = 99_999_999;

export type RefundFailureReason = 'expired_or_canceled_card' | 'lost_or_stolen_card' | 'declined' | 'unknown';

/** A Stripe test PaymentMethod token and what the simulated card network does with it. */
export interface TestCard {
  token: string;
  brand: 'visa' | 'mastercard';
  last4: string;
  decline: { code: string; declineCode: string; message: string } | null;
  refundFailureReason: RefundFailureReason | null;
  /** Refunds succeed, then fail late_failure_ms later with this reason (Stripe's charge.refund.updated to failed). */
  refundLateFailureReason: RefundFailureReason | null;
}

const CARD_DETAILS: Readonly<Record<string, Pick<TestCard, 'brand' | 'last4'>>> = {
  pm_card_visa: { brand: 'visa', last4: '4242' },
  pm_card_mastercard: { brand: 'mastercard', last4: '4444' },
  pm_card_chargeDeclined: { brand: 'visa', last4: '0002' },
  pm_card_refundFail: { brand: 'visa', last4: '5126' },
  pm_card_refundFailsLater: { brand: 'visa', last4: '5126' },
  pm_card_refundReversed: { brand: 'mastercard', last4: '4444' },
};

/**
 * The tokens the native simulator honours, with Stripe's outcomes: a failed charge is a card
 * decline (`card_declined` / `generic_decline`), a failing refund fails with
 * `expired_or_canceled_card`, as Stripe's test card 4000 0000 0000 5126 does.
 */
export function testCard(token: string): TestCard | undefined {
  const behaviour = PAYMENT_METHODS.get(token);
  if (behaviour === undefined) return undefined;
  const details = CARD_DETAILS[token] ?? { brand: 'visa', last4: '4242' };
  const charge = behaviour.charge;
  return {
    token,
    ...details,
    decline:
      charge.status === 'failed'
        ? {
            code: charge.failureCode,
            declineCode: charge.failureCode === 'card_declined' ? 'generic_decline' : charge.failureCode,
            message: charge.failureMessage,
          }
        : null,
    refundFailureReason: behaviour.refundFailureReason === null ? null : 'expired_or_canceled_card',
    // Stripe has no reversal of its own: a reversed refund is a late failure (the card was closed).
    refundLateFailureReason:
      behaviour.refundLateFailure === undefined ? null : behaviour.refundLateFailure.kind === 'reversed' ? 'lost_or_stolen_card' : 'expired_or_canceled_card',
  };
}

// ---- records ---------------------------------------------------------------------------------

export type PaymentIntentStatus = 'processing' | 'succeeded' | 'requires_payment_method';
export type RefundStatus = 'pending' | 'succeeded' | 'failed';

export interface PaymentIntentRecord {
  id: string;
  created: number;
  amount: number;
  currency: string;
  description: string | null;
  metadata: Record<string, string>;
  card: TestCard;
  /** The PaymentMethod `pm_...` minted from the test token, as Stripe does. */
  paymentMethodId: string;
  chargeId: string;
  clientSecret: string;
  paymentMethodTypes: string[];
  automaticPaymentMethods: { enabled: boolean; allow_redirects?: 'always' | 'never' } | null;
  status: PaymentIntentStatus;
  /** The FinCore id (metadata.fincore_id, else the Idempotency-Key), for /sim/state. */
  reference: string;
}

export interface RefundRecord {
  id: string;
  created: number;
  amount: number;
  currency: string;
  paymentIntentId: string;
  chargeId: string;
  status: RefundStatus;
  failureReason: RefundFailureReason | null;
  /** `charge_pending`: the PaymentIntent is still processing; the refund waits for it. */
  pendingReason: 'processing' | 'charge_pending' | null;
  metadata: Record<string, string>;
  reason: string | null;
  /** The FinCore id (metadata.fincore_id, else the Idempotency-Key); null for a refund made in the Dashboard. */
  reference: string | null;
}

/** Stripe's dispute statuses (an open enum at Stripe). */
export type DisputeStatus =
  | 'warning_needs_response'
  | 'warning_under_review'
  | 'warning_closed'
  | 'needs_response'
  | 'under_review'
  | 'won'
  | 'lost'
  | 'prevented';

export interface DisputeRecord {
  id: string;
  created: number;
  amount: number;
  currency: string;
  paymentIntentId: string;
  chargeId: string;
  status: DisputeStatus;
  reason: string;
}

// ---- wire shapes -----------------------------------------------------------------------------

export interface StripePaymentMethod {
  id: string;
  object: 'payment_method';
  type: 'card';
  billing_details: { address: null; email: null; name: null; phone: null };
  card: { brand: string; last4: string; exp_month: number; exp_year: number; funding: 'credit'; country: 'US' };
  created: number;
  customer: null;
  livemode: false;
  metadata: Record<string, string>;
}

export interface StripeLastPaymentError {
  type: 'card_error';
  code: string;
  decline_code: string;
  message: string;
  charge: string;
  doc_url: string;
  payment_method: StripePaymentMethod;
}

export interface StripeCharge {
  id: string;
  object: 'charge';
  amount: number;
  amount_captured: number;
  amount_refunded: number;
  balance_transaction: null;
  captured: boolean;
  created: number;
  currency: string;
  description: string | null;
  failure_code: string | null;
  failure_message: string | null;
  livemode: false;
  metadata: Record<string, string>;
  outcome: {
    network_status: 'approved_by_network' | 'declined_by_network';
    reason: string | null;
    risk_level: 'normal';
    seller_message: string;
    type: 'authorized' | 'issuer_declined';
  };
  paid: boolean;
  payment_intent: string;
  payment_method: string;
  payment_method_details: { type: 'card'; card: { brand: string; last4: string } };
  refunded: boolean;
  status: 'pending' | 'succeeded' | 'failed';
}

export interface StripePaymentIntent {
  id: string;
  object: 'payment_intent';
  amount: number;
  amount_capturable: number;
  amount_received: number;
  automatic_payment_methods: { enabled: boolean; allow_redirects?: 'always' | 'never' } | null;
  canceled_at: null;
  cancellation_reason: null;
  capture_method: 'automatic_async';
  client_secret: string;
  confirmation_method: 'automatic';
  created: number;
  currency: string;
  customer: null;
  description: string | null;
  last_payment_error: StripeLastPaymentError | null;
  latest_charge: string | StripeCharge;
  livemode: false;
  metadata: Record<string, string>;
  next_action: null;
  payment_method: string | StripePaymentMethod | null;
  payment_method_types: string[];
  status: PaymentIntentStatus;
}

export interface StripeRefund {
  id: string;
  object: 'refund';
  amount: number;
  balance_transaction: null;
  charge: string | StripeCharge;
  created: number;
  currency: string;
  failure_reason?: RefundFailureReason;
  metadata: Record<string, string>;
  payment_intent: string | StripePaymentIntent;
  pending_reason?: 'processing' | 'charge_pending';
  reason: string | null;
  receipt_number: null;
  source_transfer_reversal: null;
  status: RefundStatus;
  transfer_reversal: null;
}

/** What renderers need from the ledger: the refunds of a PaymentIntent, oldest first. */
export interface LedgerView {
  paymentIntent(id: string): PaymentIntentRecord | undefined;
  refundsOf(paymentIntentId: string): RefundRecord[];
}

export function renderPaymentMethod(pi: PaymentIntentRecord): StripePaymentMethod {
  return {
    id: pi.paymentMethodId,
    object: 'payment_method',
    type: 'card',
    billing_details: { address: null, email: null, name: null, phone: null },
    card: { brand: pi.card.brand, last4: pi.card.last4, exp_month: 12, exp_year: new Date().getUTCFullYear() + 5, funding: 'credit', country: 'US' },
    created: pi.created,
    customer: null,
    livemode: false,
    metadata: {},
  };
}

export function lastPaymentError(pi: PaymentIntentRecord): StripeLastPaymentError | null {
  const decline = pi.card.decline;
  if (decline === null) return null;
  return {
    type: 'card_error',
    code: decline.code,
    decline_code: decline.declineCode,
    message: decline.message,
    charge: pi.chargeId,
    doc_url: `https://stripe.com/docs/error-codes/${decline.code.replace(/_/g, '-')}`,
    payment_method: renderPaymentMethod(pi),
  };
}

export function renderCharge(pi: PaymentIntentRecord, view: LedgerView): StripeCharge {
  const declined = pi.card.decline !== null;
  const succeeded = pi.status === 'succeeded';
  // Pending refunds count as refunded on a Stripe charge; a failed refund gives its amount back.
  const refunded = view.refundsOf(pi.id).reduce((sum, r) => (r.status === 'failed' ? sum : sum + r.amount), 0);
  return {
    id: pi.chargeId,
    object: 'charge',
    amount: pi.amount,
    amount_captured: succeeded ? pi.amount : 0,
    amount_refunded: refunded,
    balance_transaction: null,
    captured: succeeded,
    created: pi.created,
    currency: pi.currency,
    description: pi.description,
    failure_code: pi.card.decline?.code ?? null,
    failure_message: pi.card.decline?.message ?? null,
    livemode: false,
    metadata: { ...pi.metadata },
    outcome: declined
      ? {
          network_status: 'declined_by_network',
          reason: pi.card.decline?.declineCode ?? null,
          risk_level: 'normal',
          seller_message: 'The bank did not return any further details with this decline.',
          type: 'issuer_declined',
        }
      : { network_status: 'approved_by_network', reason: null, risk_level: 'normal', seller_message: 'Payment complete.', type: 'authorized' },
    paid: succeeded,
    payment_intent: pi.id,
    payment_method: pi.paymentMethodId,
    payment_method_details: { type: 'card', card: { brand: pi.card.brand, last4: pi.card.last4 } },
    refunded: succeeded && refunded === pi.amount,
    status: declined ? 'failed' : succeeded ? 'succeeded' : 'pending',
  };
}

/** `expand`: which of `latest_charge`, `payment_method` to inline. */
export function renderPaymentIntent(pi: PaymentIntentRecord, view: LedgerView, expand: ReadonlySet<string> = new Set()): StripePaymentIntent {
  // After a decline Stripe detaches the PaymentMethod; it lives on in last_payment_error.
  const attached = pi.status !== 'requires_payment_method';
  return {
    id: pi.id,
    object: 'payment_intent',
    amount: pi.amount,
    amount_capturable: 0,
    amount_received: pi.status === 'succeeded' ? pi.amount : 0,
    automatic_payment_methods: pi.automaticPaymentMethods === null ? null : { ...pi.automaticPaymentMethods },
    canceled_at: null,
    cancellation_reason: null,
    capture_method: 'automatic_async',
    client_secret: pi.clientSecret,
    confirmation_method: 'automatic',
    created: pi.created,
    currency: pi.currency,
    customer: null,
    description: pi.description,
    last_payment_error: lastPaymentError(pi),
    latest_charge: expand.has('latest_charge') ? renderCharge(pi, view) : pi.chargeId,
    livemode: false,
    metadata: { ...pi.metadata },
    next_action: null,
    payment_method: !attached ? null : expand.has('payment_method') ? renderPaymentMethod(pi) : pi.paymentMethodId,
    payment_method_types: [...pi.paymentMethodTypes],
    status: pi.status,
  };
}

/** `expand`: which of `charge`, `payment_intent` to inline. */
export function renderRefund(refund: RefundRecord, view: LedgerView, expand: ReadonlySet<string> = new Set()): StripeRefund {
  const pi = view.paymentIntent(refund.paymentIntentId);
  const rendered: StripeRefund = {
    id: refund.id,
    object: 'refund',
    amount: refund.amount,
    balance_transaction: null,
    charge: expand.has('charge') && pi !== undefined ? renderCharge(pi, view) : refund.chargeId,
    created: refund.created,
    currency: refund.currency,
    metadata: { ...refund.metadata },
    payment_intent: expand.has('payment_intent') && pi !== undefined ? renderPaymentIntent(pi, view) : refund.paymentIntentId,
    reason: refund.reason,
    receipt_number: null,
    source_transfer_reversal: null,
    status: refund.status,
    transfer_reversal: null,
  };
  // Stripe includes these only when they apply.
  if (refund.failureReason !== null) rendered.failure_reason = refund.failureReason;
  if (refund.status === 'pending' && refund.pendingReason !== null) rendered.pending_reason = refund.pendingReason;
  return rendered;
}

export interface StripeDispute {
  id: string;
  object: 'dispute';
  amount: number;
  balance_transactions: [];
  charge: string;
  created: number;
  currency: string;
  evidence_details: { due_by: number; has_evidence: false; past_due: false; submission_count: 0 };
  is_charge_refundable: boolean;
  livemode: false;
  metadata: Record<string, string>;
  payment_intent: string;
  reason: string;
  status: DisputeStatus;
}

export function renderDispute(dispute: DisputeRecord): StripeDispute {
  return {
    id: dispute.id,
    object: 'dispute',
    amount: dispute.amount,
    balance_transactions: [],
    charge: dispute.chargeId,
    created: dispute.created,
    currency: dispute.currency,
    evidence_details: { due_by: dispute.created + 21 * 86_400, has_evidence: false, past_due: false, submission_count: 0 },
    // An inquiry (warning_*) can still be refunded; a chargeback cannot.
    is_charge_refundable: dispute.status.startsWith('warning_'),
    livemode: false,
    metadata: {},
    payment_intent: dispute.paymentIntentId,
    reason: dispute.reason,
    status: dispute.status,
  };
}
