/**
 * The Stripe adapter's pure mapping: statuses, errors and events to FinCore's terms. The rule that
 * matters most: nothing but a decline or a permanent refusal ever fails money (unknown is not
 * failed), checked as a property over every error Stripe can raise.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PspPermanentError, PspTransientError } from '../../../src/psp/gateway.ts';
import { disputeStatusOf, mapDispute, mapPaymentIntent, mapRefund, mapStripeEvent, outcomeOfCreateError, StripeShapeError } from '../../../src/psp/stripe/mapping.ts';

function stripeError(type: string, statusCode: number | undefined, code?: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`${type} ${code ?? ''}`), { type, statusCode, code, ...extra });
}

const pi = (status: string, extra: Record<string, unknown> = {}) => ({ object: 'payment_intent', id: 'pi_1', status, metadata: { fincore_id: 'ch_1' }, ...extra });
const refund = (status: string, extra: Record<string, unknown> = {}) => ({ object: 'refund', id: 're_s1', status, metadata: { fincore_id: 're_1' }, ...extra });

describe('Stripe mapping', () => {
  it('maps PaymentIntent statuses: only succeeded, a failed confirm and canceled are decisions', () => {
    assert.equal(mapPaymentIntent(pi('succeeded')).status, 'succeeded');
    for (const status of ['processing', 'requires_action', 'requires_capture', 'requires_confirmation']) assert.equal(mapPaymentIntent(pi(status)).status, 'pending', status);
    assert.equal(mapPaymentIntent(pi('requires_payment_method')).status, 'pending', 'not yet confirmed is not failed');
    const declined = mapPaymentIntent(pi('requires_payment_method', { last_payment_error: { code: 'card_declined', message: 'Your card was declined.' } }));
    assert.deepEqual(declined, { pspReference: 'pi_1', status: 'failed', failureCode: 'card_declined', failureMessage: 'Your card was declined.' }, 'no amount in the object: none reported');
    assert.equal(mapPaymentIntent(pi('canceled')).status, 'failed');
    assert.throws(() => mapPaymentIntent(pi('exploded')), StripeShapeError);
    assert.throws(() => mapPaymentIntent(refund('succeeded')), StripeShapeError);
  });

  it('maps Refund statuses, with the failure reason', () => {
    assert.equal(mapRefund(refund('succeeded')).status, 'succeeded');
    assert.equal(mapRefund(refund('pending')).status, 'pending');
    assert.equal(mapRefund(refund('requires_action')).status, 'pending');
    const failed = mapRefund(refund('failed', { failure_reason: 'expired_or_canceled_card' }));
    assert.equal(failed.status, 'failed');
    assert.match(failed.failureMessage ?? '', /expired_or_canceled_card/);
  });

  it('a card error is a decided failure with the PaymentIntent id; permanent refusals fail; the rest is transient', () => {
    const decline = outcomeOfCreateError(stripeError('StripeCardError', 402, 'card_declined', { payment_intent: { id: 'pi_9' } }), 'create');
    assert.deepEqual(decline, { pspReference: 'pi_9', status: 'failed', failureCode: 'card_declined', failureMessage: 'StripeCardError card_declined' });
    assert.throws(() => outcomeOfCreateError(stripeError('StripeInvalidRequestError', 400, 'amount_too_large'), 'refund'), PspPermanentError);
    assert.throws(() => outcomeOfCreateError(stripeError('StripeInvalidRequestError', 400, 'charge_already_refunded'), 'refund'), PspPermanentError);
    assert.throws(() => outcomeOfCreateError(stripeError('StripeInvalidRequestError', 409, 'idempotency_key_in_use'), 'create'), PspTransientError);
    for (const type of ['StripeAPIError', 'StripeConnectionError', 'StripeRateLimitError', 'StripeIdempotencyError', 'StripeAuthenticationError', 'StripePermissionError']) {
      assert.throws(() => outcomeOfCreateError(stripeError(type, type === 'StripeConnectionError' ? undefined : 500), 'create'), PspTransientError, type);
    }
    assert.throws(() => outcomeOfCreateError(new Error('socket hang up'), 'create'), PspTransientError);
  });

  it('property: only a StripeCardError yields a failed outcome; no other error ever decides money', () => {
    const types = ['StripeCardError', 'StripeInvalidRequestError', 'StripeAPIError', 'StripeConnectionError', 'StripeRateLimitError', 'StripeIdempotencyError', 'StripeAuthenticationError', 'StripePermissionError'];
    fc.assert(
      fc.property(fc.constantFrom(...types), fc.option(fc.integer({ min: 400, max: 599 }), { nil: undefined }), fc.option(fc.string(), { nil: undefined }), (type, statusCode, code) => {
        let outcome;
        try {
          outcome = outcomeOfCreateError(stripeError(type, statusCode, code), 'create');
        } catch (error) {
          assert.ok(error instanceof PspTransientError || error instanceof PspPermanentError);
          // A 5xx or an unreachable Stripe is never permanent.
          if (statusCode === undefined || statusCode >= 500) assert.ok(error instanceof PspTransientError, `${type} ${statusCode} must be transient`);
          return;
        }
        assert.equal(type, 'StripeCardError');
        assert.equal(outcome.status, 'failed');
      }),
    );
  });

  it('maps the events FinCore acts on and ignores the rest', () => {
    const event = (type: string, object: unknown) => ({ object: 'event', id: 'evt_1', type, data: { object } });
    const charge = mapStripeEvent(event('payment_intent.succeeded', pi('succeeded')));
    assert.equal(charge?.objectType, 'charge');
    assert.equal(charge?.reference, 'ch_1');
    assert.equal(charge?.outcome.status, 'succeeded');
    assert.equal((mapStripeEvent(event('payment_intent.payment_failed', pi('requires_payment_method', { last_payment_error: { code: 'card_declined' } }))) as { outcome: { status: string } } | null)?.outcome.status, "failed");
    for (const type of ['refund.updated', 'charge.refund.updated', 'refund.failed']) assert.equal(mapStripeEvent(event(type, refund(type === 'refund.failed' ? 'failed' : 'succeeded')))?.objectType, 'refund', type);
    assert.equal(mapStripeEvent(event('customer.created', { object: 'customer', id: 'cus_1', metadata: {} })), null);
    assert.equal(mapStripeEvent(event('payment_intent.succeeded', { ...pi('succeeded'), metadata: {} })), null, 'not created by FinCore');
    assert.throws(() => mapStripeEvent({ object: 'event', id: 'evt_2' }), StripeShapeError);
  });
});

describe('Stripe mapping of the PSP-truth events (issue 16)', () => {
  const event = (type: string, object: unknown, extra: Record<string, unknown> = {}) => ({ object: 'event', id: `evt_${type}`, type, data: { object, ...extra } });
  const stripeRefund = (fields: Record<string, unknown> = {}) => ({
    object: 'refund',
    id: 're_S1',
    amount: 30000,
    currency: 'usd',
    charge: 'ch_S1',
    payment_intent: 'pi_S1',
    status: 'succeeded',
    metadata: { fincore_id: 're_1', fincore_charge_id: 'ch_1' },
    ...fields,
  });
  const dispute = (fields: Record<string, unknown> = {}) => ({
    object: 'dispute',
    id: 'dp_1',
    amount: 5000,
    currency: 'eur',
    charge: 'ch_S1',
    payment_intent: 'pi_S1',
    status: 'needs_response',
    reason: 'fraudulent',
    is_charge_refundable: false,
    metadata: {},
    ...fields,
  });

  it('every PaymentIntent and Refund outcome carries the amount and currency Stripe reports (lower case)', () => {
    assert.deepEqual(mapPaymentIntent(pi('succeeded', { amount: 2000, currency: 'USD' })), { pspReference: 'pi_1', status: 'succeeded', failureCode: null, failureMessage: null, amount: 2000, currency: 'usd' });
    assert.deepEqual(mapRefund(stripeRefund({ amount: 99_999, currency: 'eur' })), { pspReference: 're_S1', status: 'succeeded', failureCode: null, failureMessage: null, amount: 99_999, currency: 'eur' });
    const declined = mapPaymentIntent(pi('requires_payment_method', { amount: 700, currency: 'gbp', last_payment_error: { code: 'card_declined' } }));
    assert.equal(declined.amount, 700);
    assert.equal(declined.currency, 'gbp');
  });

  it('charge.refund.updated from succeeded to failed (Stripe\'s late card-refund failure) is an ordinary failed report for the refund', () => {
    // Shaped after a real Stripe event (zulip fixture refund_event.json, API 2020-03-02).
    const late = event(
      'charge.refund.updated',
      stripeRefund({ status: 'failed', failure_reason: 'expired_or_canceled_card', failure_balance_transaction: 'txn_1' }),
      { previous_attributes: { status: 'succeeded', failure_reason: null, failure_balance_transaction: null } },
    );
    const mapped = mapStripeEvent({ ...late, request: { id: null, idempotency_key: null } });
    assert.ok(mapped && mapped.objectType === 'refund');
    assert.equal(mapped.type, 'charge.refund.updated');
    assert.equal(mapped.reference, 're_1');
    assert.equal(mapped.chargeReference, 'ch_1');
    assert.equal(mapped.chargePspReference, 'pi_S1', 'FinCore records the PaymentIntent id as the charge\'s PSP id');
    assert.deepEqual(mapped.outcome, { pspReference: 're_S1', status: 'failed', failureCode: null, failureMessage: 'Stripe could not carry out the refund (expired_or_canceled_card).', amount: 30000, currency: 'usd' });
  });

  it('refund.created, refund.updated, refund.failed and charge.refund.updated all map to refund reports', () => {
    for (const [type, status] of [['refund.created', 'pending'], ['refund.updated', 'succeeded'], ['refund.failed', 'failed'], ['charge.refund.updated', 'succeeded']] as const) {
      const mapped = mapStripeEvent(event(type, stripeRefund({ status })));
      assert.ok(mapped && mapped.objectType === 'refund', type);
      assert.equal(mapped.outcome.status, status, type);
      assert.equal(mapped.reference, 're_1', type);
    }
  });

  it('a refund made in the Stripe Dashboard (no fincore_id) maps with reference null and its PaymentIntent, never ignored', () => {
    for (const type of ['refund.created', 'charge.refund.updated', 'refund.updated']) {
      const mapped = mapStripeEvent(event(type, stripeRefund({ metadata: {} })));
      assert.ok(mapped && mapped.objectType === 'refund', type);
      assert.equal(mapped.reference, null);
      assert.equal(mapped.chargeReference, null);
      assert.equal(mapped.chargePspReference, 'pi_S1');
      assert.equal(mapped.outcome.amount, 30000);
    }
    // Expanded payment_intent, metadata null, a foreign fincore_id of another kind: still reference null.
    const expanded = mapStripeEvent(event('refund.created', stripeRefund({ payment_intent: { object: 'payment_intent', id: 'pi_S2' }, metadata: null })));
    assert.ok(expanded && expanded.objectType === 'refund');
    assert.equal(expanded.chargePspReference, 'pi_S2');
    const foreign = mapStripeEvent(event('refund.created', stripeRefund({ metadata: { fincore_id: 'ch_1' } })));
    assert.ok(foreign && foreign.objectType === 'refund');
    assert.equal(foreign.reference, null, 'a fincore_id that is not a refund id names no FinCore refund');
  });

  it('Stripe dispute statuses: won and lost are final, warning_closed and prevented count as won, everything else is open', () => {
    const expected: Record<string, string> = {
      won: 'won',
      lost: 'lost',
      warning_closed: 'won',
      prevented: 'won',
      warning_needs_response: 'open',
      warning_under_review: 'open',
      needs_response: 'open',
      under_review: 'open',
      charge_refunded: 'open',
      some_future_status: 'open',
    };
    for (const [stripeStatus, status] of Object.entries(expected)) assert.equal(disputeStatusOf(stripeStatus), status, stripeStatus);
  });

  it('charge.dispute.created|updated|closed|funds_withdrawn|funds_reinstated map to dispute reports on the PaymentIntent', () => {
    const cases = [
      ['charge.dispute.created', 'needs_response', 'open'],
      ['charge.dispute.updated', 'under_review', 'open'],
      ['charge.dispute.funds_withdrawn', 'needs_response', 'open'],
      ['charge.dispute.closed', 'lost', 'lost'],
      ['charge.dispute.closed', 'warning_closed', 'won'],
      ['charge.dispute.funds_reinstated', 'won', 'won'],
    ] as const;
    for (const [type, stripeStatus, status] of cases) {
      const mapped = mapStripeEvent(event(type, dispute({ status: stripeStatus })));
      assert.ok(mapped && mapped.objectType === 'dispute', type);
      const { eventId: _e, payload: _p, ...report } = mapped;
      assert.deepEqual(report, { type, objectType: 'dispute', pspReference: 'dp_1', chargeReference: null, chargePspReference: 'pi_S1', amount: 5000, currency: 'eur', status, pspStatus: stripeStatus, reason: 'fraudulent' }, type);
    }
  });

  it('a dispute names its charge by the PaymentIntent, else the charge id; an expanded charge gives FinCore\'s id; amount and currency are required', () => {
    assert.equal(mapDispute(dispute({ payment_intent: null })).chargePspReference, 'ch_S1');
    assert.equal(mapDispute(dispute({ charge: { object: 'charge', id: 'ch_S1', metadata: { fincore_id: 'ch_1' } } })).chargeReference, 'ch_1');
    assert.throws(() => mapDispute(dispute({ amount: undefined })), StripeShapeError);
    assert.throws(() => mapDispute(dispute({ charge: null, payment_intent: null })), StripeShapeError);
    assert.throws(() => mapDispute(stripeRefund()), StripeShapeError);
  });
});
