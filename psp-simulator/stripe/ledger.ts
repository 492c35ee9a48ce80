/**
 * The simulated Stripe account: PaymentIntents and Refunds, the money rules between them
 * (refundable amount, declines) and their settling. Settling follows the simulator's settleMs:
 * with settleMs > 0 a confirmed PaymentIntent is `processing` and a refund `pending` until the
 * timer fires; with 0 both reach their final status before the API answers. Every final status
 * is announced with the events Stripe sends for it.
 */
import type { SimCharge, SimDispute, SimRefund } from '../objects.ts';
import type { NextReport, Scenarios } from '../scenarios.ts';
import { cardDeclined, invalidRequest } from './errors.ts';
import { ASYNC_CHANGE, type EventRequest, type StripeEvents } from './events.ts';
import {
  MAX_AMOUNT,
  MINIMUM_CHARGE,
  SUPPORTED_CURRENCIES,
  renderCharge,
  renderPaymentIntent,
  renderPaymentMethod,
  renderDispute,
  renderRefund,
  stripeId,
  unixNow,
  type DisputeRecord,
  type DisputeStatus,
  type LedgerView,
  type RefundFailureReason,
  type PaymentIntentRecord,
  type RefundRecord,
  type TestCard,
} from './objects.ts';

export interface NewPaymentIntent {
  amount: number;
  currency: string;
  card: TestCard;
  description: string | null;
  metadata: Record<string, string>;
  paymentMethodTypes: string[];
  automaticPaymentMethods: PaymentIntentRecord['automaticPaymentMethods'];
  reference: string | null;
  /** POST /sim/next-charge: the amount / currency reported instead, and settle at once (early webhook). */
  next?: NextReport | null;
}

export interface NewRefund {
  paymentIntent: PaymentIntentRecord;
  /** undefined = everything still refundable. */
  amount: number | undefined;
  metadata: Record<string, string>;
  reason: string | null;
  reference: string | null;
  /** POST /sim/next-refund: the amount / currency reported instead, and settle at once (early webhook). */
  next?: NextReport | null;
  /** A refund made in the Dashboard: announced with refund.created, no FinCore reference. */
  madeAtPsp?: boolean;
}

export interface LedgerOptions {
  settleMs: number;
  /** Runs fn after settleMs on the simulator's timers (cleared when it closes). */
  later(fn: () => void): void;
  events: StripeEvents;
  scenarios: Scenarios;
  logger: { warn(fields: Record<string, unknown>, message: string): void };
}

function formatAmount(minor: number, currency: string): string {
  return `${(minor / 100).toFixed(2)} ${currency}`;
}

export class StripeLedger implements LedgerView {
  private readonly paymentIntents = new Map<string, PaymentIntentRecord>();
  private readonly refunds = new Map<string, RefundRecord>();
  /** A payment intent's refunds, oldest first: a refund's checks read its charge's only, never every refund. */
  private readonly refundsByPaymentIntent = new Map<string, RefundRecord[]>();
  private readonly paymentIntentByCharge = new Map<string, string>();
  private readonly disputes = new Map<string, DisputeRecord>();

  constructor(private readonly options: LedgerOptions) {}

  paymentIntent(id: string): PaymentIntentRecord | undefined {
    return this.paymentIntents.get(id);
  }

  paymentIntentOfCharge(chargeId: string): PaymentIntentRecord | undefined {
    const id = this.paymentIntentByCharge.get(chargeId);
    return id === undefined ? undefined : this.paymentIntents.get(id);
  }

  refund(id: string): RefundRecord | undefined {
    return this.refunds.get(id);
  }

  /** For the /sim control routes: by PaymentIntent id, charge id or FinCore reference. */
  findPaymentIntent(idOrReference: string): PaymentIntentRecord | undefined {
    return (
      this.paymentIntents.get(idOrReference) ??
      this.paymentIntentOfCharge(idOrReference) ??
      [...this.paymentIntents.values()].find((pi) => pi.reference === idOrReference)
    );
  }

  /** For the /sim control routes: by Refund id or FinCore reference. */
  findRefund(idOrReference: string): RefundRecord | undefined {
    return this.refunds.get(idOrReference) ?? [...this.refunds.values()].find((r) => r.reference === idOrReference);
  }

  /** Oldest first. */
  refundsOf(paymentIntentId: string): RefundRecord[] {
    return [...(this.refundsByPaymentIntent.get(paymentIntentId) ?? [])];
  }

  /** Oldest first. */
  allPaymentIntents(): PaymentIntentRecord[] {
    return [...this.paymentIntents.values()];
  }

  /** Oldest first. */
  allRefunds(): RefundRecord[] {
    return [...this.refunds.values()];
  }

  /** Amount not yet claimed by a pending or succeeded refund. */
  refundable(pi: PaymentIntentRecord): number {
    return this.refundsOf(pi.id).reduce((left, r) => (r.status === 'failed' ? left : left - r.amount), pi.amount);
  }

  /**
   * Creates and confirms a PaymentIntent. A declined card still creates it (status
   * requires_payment_method) and throws the 402 card error, which Stripe stores for replay.
   */
  createPaymentIntent(input: NewPaymentIntent, request: EventRequest): PaymentIntentRecord {
    if (!SUPPORTED_CURRENCIES.has(input.currency)) {
      throw invalidRequest(
        `Invalid currency: ${input.currency}. Stripe currently supports these currencies: ${[...SUPPORTED_CURRENCIES].join(', ')}`,
        { param: 'currency' },
      );
    }
    const minimum = MINIMUM_CHARGE.get(input.currency);
    if (minimum !== undefined && input.amount < minimum) {
      throw invalidRequest(`Amount must be at least ${formatAmount(minimum, input.currency)}`, { code: 'amount_too_small', param: 'amount' });
    }
    if (input.amount > MAX_AMOUNT) {
      throw invalidRequest(`Amount must be no more than ${formatAmount(MAX_AMOUNT, input.currency)}`, { code: 'amount_too_large', param: 'amount' });
    }
    const id = stripeId('pi');
    const declined = input.card.decline !== null;
    const settleNow = this.options.settleMs === 0 || input.next?.early_webhook === true;
    const pi: PaymentIntentRecord = {
      id,
      created: unixNow(),
      amount: input.next?.amount ?? input.amount,
      currency: input.next?.currency ?? input.currency,
      description: input.description,
      metadata: input.metadata,
      card: input.card,
      paymentMethodId: stripeId('pm'),
      chargeId: stripeId('ch'),
      clientSecret: `${id}_secret_${stripeId('req').slice(4)}`,
      paymentMethodTypes: input.paymentMethodTypes,
      automaticPaymentMethods: input.automaticPaymentMethods,
      status: declined ? 'requires_payment_method' : settleNow ? 'succeeded' : 'processing',
      reference: input.reference ?? id,
    };
    this.paymentIntents.set(pi.id, pi);
    this.paymentIntentByCharge.set(pi.chargeId, pi.id);

    if (input.card.decline !== null) {
      // Stripe declines synchronously: the event goes out as the API answers.
      const rendered = renderPaymentIntent(pi, this);
      this.options.events.emit('payment_intent.payment_failed', rendered, request);
      throw cardDeclined({
        code: input.card.decline.code,
        decline_code: input.card.decline.declineCode,
        message: input.card.decline.message,
        charge: pi.chargeId,
        payment_intent: rendered,
        payment_method: renderPaymentMethod(pi),
      });
    }
    if (pi.status === 'succeeded') {
      this.announceSucceeded(pi, request);
    } else {
      this.options.later(() => this.settlePaymentIntent(pi));
    }
    return pi;
  }

  private settlePaymentIntent(pi: PaymentIntentRecord): void {
    if (pi.status !== 'processing') return;
    pi.status = 'succeeded';
    this.announceSucceeded(pi, ASYNC_CHANGE);
    // Refunds made while the payment was processing start settling now.
    for (const refund of this.refundsOf(pi.id)) {
      if (refund.status === 'pending' && refund.pendingReason === 'charge_pending') {
        refund.pendingReason = 'processing';
        this.options.later(() => this.settleRefund(refund));
      }
    }
  }

  private announceSucceeded(pi: PaymentIntentRecord, request: EventRequest): void {
    this.options.events.emit('payment_intent.succeeded', renderPaymentIntent(pi, this), request);
  }

  createRefund(input: NewRefund, request: EventRequest): RefundRecord {
    const pi = input.paymentIntent;
    if (pi.status === 'requires_payment_method') {
      throw invalidRequest(`This PaymentIntent (${pi.id}) does not have a successful charge to refund.`, {
        code: 'charge_not_refundable',
        param: 'payment_intent',
      });
    }
    const refundable = this.refundable(pi);
    if (refundable <= 0) {
      throw invalidRequest(`Charge ${pi.chargeId} has already been refunded.`, { code: 'charge_already_refunded', replayable: true });
    }
    const amount = input.amount ?? refundable;
    if (amount > refundable) {
      throw invalidRequest(
        `Refund amount (${formatAmount(amount, pi.currency)}) is greater than unrefunded amount on charge (${formatAmount(refundable, pi.currency)})`,
        { code: 'amount_too_large', param: 'amount', replayable: true },
      );
    }
    const id = stripeId('re');
    const refund: RefundRecord = {
      id,
      created: unixNow(),
      amount: input.next?.amount ?? amount,
      currency: input.next?.currency ?? pi.currency,
      paymentIntentId: pi.id,
      chargeId: pi.chargeId,
      status: 'pending',
      failureReason: null,
      pendingReason: pi.status === 'processing' ? 'charge_pending' : 'processing',
      metadata: input.metadata,
      reason: input.reason,
      reference: input.madeAtPsp === true ? null : (input.reference ?? id),
    };
    this.refunds.set(refund.id, refund);
    const ofPaymentIntent = this.refundsByPaymentIntent.get(pi.id);
    if (ofPaymentIntent) ofPaymentIntent.push(refund);
    else this.refundsByPaymentIntent.set(pi.id, [refund]);
    if (input.madeAtPsp === true) this.options.events.emit('refund.created', renderRefund(refund, this), request);
    if (refund.pendingReason === 'processing') {
      if (this.options.settleMs > 0 && input.next?.early_webhook !== true) this.options.later(() => this.settleRefund(refund));
      else this.settleRefund(refund, request);
    }
    return refund;
  }

  private settleRefund(refund: RefundRecord, request: EventRequest = ASYNC_CHANGE): void {
    if (refund.status !== 'pending') return;
    const pi = this.paymentIntents.get(refund.paymentIntentId);
    const failureReason = pi?.card.refundFailureReason ?? null;
    refund.pendingReason = null;
    const previous = { status: 'pending' };
    if (failureReason === null) {
      refund.status = 'succeeded';
      const rendered = renderRefund(refund, this);
      this.options.events.emit('refund.updated', rendered, request, previous);
      this.options.events.emit('charge.refund.updated', rendered, request, previous);
      const lateReason = pi?.card.refundLateFailureReason ?? null;
      if (lateReason !== null) {
        this.options.scenarios.after(
          this.options.scenarios.settings.late_failure_ms,
          () => this.failRefundLate(refund, lateReason),
          (error) => this.options.logger.warn({ error: error instanceof Error ? error.message : String(error) }, 'psp simulator (stripe) late refund failure failed'),
        );
      }
    } else {
      refund.status = 'failed';
      refund.failureReason = failureReason;
      const rendered = renderRefund(refund, this);
      this.options.events.emit('refund.failed', rendered, request, previous);
      this.options.events.emit('refund.updated', rendered, request, previous);
    }
  }

  /**
   * A succeeded refund fails now, as Stripe reports a card refund the network rejected days later:
   * charge.refund.updated, refund.failed and refund.updated, each with previous_attributes status
   * succeeded, made by Stripe itself (request id null). Its amount is refundable again.
   */
  failRefundLate(refund: RefundRecord, reason: RefundFailureReason): RefundRecord {
    if (refund.status !== 'succeeded') {
      throw invalidRequest(`Refund ${refund.id} is ${refund.status}: only a succeeded refund can fail later.`, { code: 'refund_not_succeeded' });
    }
    refund.status = 'failed';
    refund.failureReason = reason;
    const rendered = renderRefund(refund, this);
    const previous = { status: 'succeeded', failure_reason: null, failure_balance_transaction: null };
    this.options.events.emit('charge.refund.updated', rendered, ASYNC_CHANGE, previous);
    this.options.events.emit('refund.failed', rendered, ASYNC_CHANGE, previous);
    this.options.events.emit('refund.updated', rendered, ASYNC_CHANGE, previous);
    return refund;
  }

  /** A refund made in the Stripe Dashboard: no FinCore metadata, announced with refund.created. */
  createDashboardRefund(pi: PaymentIntentRecord, amount: number | undefined): RefundRecord {
    return this.createRefund(
      { paymentIntent: pi, amount, metadata: {}, reason: 'requested_by_customer', reference: null, madeAtPsp: true, next: this.options.scenarios.takeNext('refund') },
      { id: stripeId('req'), idempotency_key: null },
    );
  }

  dispute(id: string): DisputeRecord | undefined {
    return this.disputes.get(id);
  }

  /** A chargeback: charge.dispute.created (needs_response) and charge.dispute.funds_withdrawn. */
  openDispute(pi: PaymentIntentRecord, amount: number | undefined, reason: string | undefined): DisputeRecord {
    if (pi.status !== 'succeeded') throw invalidRequest(`PaymentIntent ${pi.id} has no succeeded charge to dispute.`, { code: 'charge_not_disputable' });
    const dispute: DisputeRecord = {
      id: stripeId('dp'),
      created: unixNow(),
      amount: amount ?? pi.amount,
      currency: pi.currency,
      paymentIntentId: pi.id,
      chargeId: pi.chargeId,
      status: 'needs_response',
      reason: reason ?? 'fraudulent',
    };
    this.disputes.set(dispute.id, dispute);
    this.options.events.emit('charge.dispute.created', renderDispute(dispute), ASYNC_CHANGE);
    this.options.events.emit('charge.dispute.funds_withdrawn', renderDispute(dispute), ASYNC_CHANGE);
    return dispute;
  }

  /** Closes a dispute: charge.dispute.closed; a won one also charge.dispute.funds_reinstated. */
  closeDispute(dispute: DisputeRecord, status: Extract<DisputeStatus, 'won' | 'lost' | 'warning_closed' | 'prevented'>): DisputeRecord {
    if (dispute.status === 'won' || dispute.status === 'lost' || dispute.status === 'warning_closed' || dispute.status === 'prevented') {
      throw invalidRequest(`Dispute ${dispute.id} is already closed (${dispute.status}).`, { code: 'dispute_already_closed' });
    }
    const previous = { status: dispute.status };
    dispute.status = status;
    this.options.events.emit('charge.dispute.closed', renderDispute(dispute), ASYNC_CHANGE, previous);
    if (status === 'won') this.options.events.emit('charge.dispute.funds_reinstated', renderDispute(dispute), ASYNC_CHANGE);
    return dispute;
  }

  /** The disputes in the native simulator's shape, for /sim/state (`charge` = the PaymentIntent id). */
  simDisputes(): SimDispute[] {
    return [...this.disputes.values()].map((d) => ({
      id: d.id,
      object: 'dispute',
      charge: d.paymentIntentId,
      charge_reference: this.paymentIntents.get(d.paymentIntentId)?.reference ?? d.paymentIntentId,
      amount: d.amount,
      currency: d.currency,
      status: d.status === 'won' || d.status === 'warning_closed' || d.status === 'prevented' ? 'won' : d.status === 'lost' ? 'lost' : 'open',
      reason: d.reason,
    }));
  }

  /** The PaymentIntents in the native simulator's charge shape, for /sim/state. */
  simCharges(): SimCharge[] {
    return this.allPaymentIntents().map((pi) => {
      const charge = renderCharge(pi, this);
      return {
        id: pi.id,
        object: 'charge',
        reference: pi.reference,
        amount: pi.amount,
        currency: pi.currency,
        payment_method: pi.card.token,
        status: pi.status === 'succeeded' ? 'succeeded' : pi.status === 'processing' ? 'pending' : 'failed',
        failure_code: charge.failure_code,
        failure_message: charge.failure_message,
        amount_refunded: this.refundsOf(pi.id).reduce((sum, r) => (r.status === 'succeeded' ? sum + r.amount : sum), 0),
      };
    });
  }

  /** The Refunds in the native refund shape; `charge` is the PaymentIntent id (the charges' id there). */
  simRefunds(): SimRefund[] {
    return this.allRefunds().map((refund) => ({
      id: refund.id,
      object: 'refund',
      reference: refund.reference,
      charge: refund.paymentIntentId,
      charge_reference: this.paymentIntents.get(refund.paymentIntentId)?.reference ?? refund.paymentIntentId,
      amount: refund.amount,
      currency: refund.currency,
      status: refund.status,
      failure_reason: refund.failureReason,
    }));
  }
}
