/**
 * The Stripe adapter's pure mapping: statuses, errors and events to FinCore's terms. The rule that
 * matters most: nothing but a decline or a permanent refusal ever fails money (unknown is not
 * failed), checked as a property over every error Stripe can raise.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PspPermanentError, PspTransientError } from '../../src/psp/gateway.ts';
import { mapPaymentIntent, mapRefund, mapStripeEvent, outcomeOfCreateError, StripeShapeError } from '../../src/psp/stripe/mapping.ts';

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
