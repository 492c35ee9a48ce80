/**
 * Stripe webhook intake over real HTTP (`POST /v1/webhooks/stripe`, FINCORE_PSP=stripe): the
 * SDK's signature check on the raw body, dedup by event id, the mapping to transitions, events
 * FinCore does not act on acknowledged and ignored, and no regression of a terminal state.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Stripe from 'stripe';
import { call, createMerchant, settledCharge, startTestFinCore, type ChargeBody, type ErrorBody, type TestFinCore } from './helpers.ts';

const SECRET = 'whsec_stripe_intake_test';
const stripe = new Stripe('sk_test_signing_only');

describe('Stripe webhook intake', () => {
  let fincore: TestFinCore;
  let apiKey: string;

  before(async () => {
    fincore = await startTestFinCore({ FINCORE_PSP: 'stripe', STRIPE_WEBHOOK_SECRET: SECRET });
    apiKey = (await createMerchant(fincore.url)).apiKey;
  });
  after(() => fincore.stop());

  function post(payload: string, signature?: string) {
    return call<{ received?: boolean; duplicate?: boolean; ignored?: boolean } & Partial<ErrorBody>>(fincore.url, 'POST', '/v1/webhooks/stripe', {
      rawBody: payload,
      headers: { 'content-type': 'application/json', ...(signature === undefined ? {} : { 'stripe-signature': signature }) },
    });
  }
  const signed = (payload: string, secret = SECRET, timestamp?: number) => stripe.webhooks.generateTestHeaderString({ payload, secret, ...(timestamp === undefined ? {} : { timestamp }) });
  const event = (id: string, type: string, object: Record<string, unknown>) => JSON.stringify({ id, object: 'event', api_version: '2026-10-28.endive', created: Math.floor(Date.now() / 1000), type, livemode: false, pending_webhooks: 1, request: { id: null, idempotency_key: null }, data: { object } });

  it('refuses a missing, wrong or stale signature with 400 in the contract shape', async () => {
    const payload = event('evt_sig', 'payment_intent.succeeded', { object: 'payment_intent', id: 'pi_x', status: 'succeeded', metadata: { fincore_id: 'ch_x' } });
    for (const answer of [await post(payload), await post(payload, signed(payload, 'whsec_wrong')), await post(payload, signed(payload, SECRET, Math.floor(Date.now() / 1000) - 600))]) {
      assert.equal(answer.status, 400);
      assert.equal(answer.body.error?.type, 'invalid_request_error');
      assert.equal(answer.body.error?.param, 'Stripe-Signature');
    }
    const tampered = payload.replace('succeeded', 'canceled');
    assert.equal((await post(tampered, signed(payload))).status, 400);
  });

  it('acknowledges events FinCore does not act on, and events about objects it did not create', async () => {
    const other = event('evt_other', 'customer.created', { object: 'customer', id: 'cus_1', metadata: {} });
    assert.deepEqual((await post(other, signed(other))).body, { received: true, duplicate: false, ignored: true, malformed: false });
    const foreign = event('evt_foreign', 'payment_intent.succeeded', { object: 'payment_intent', id: 'pi_foreign', status: 'succeeded', metadata: {} });
    assert.equal((await post(foreign, signed(foreign))).body.ignored, true);
  });

  it('a late payment_failed after success is never applied: the charge goes to review (issue 16); a repeated event id is a duplicate', async () => {
    const charge = await settledCharge(fincore.url, apiKey, 2000);
    assert.equal(charge.status, 'succeeded');
    const { rows } = await fincore.db.pool.query<{ psp_reference: string }>('SELECT psp_reference FROM payments WHERE id = $1', [charge.id]);
    const stale = event('evt_stale_fail', 'payment_intent.payment_failed', { object: 'payment_intent', id: rows[0]?.psp_reference, amount: 2000, currency: 'usd', status: 'requires_payment_method', last_payment_error: { code: 'card_declined', message: 'declined' }, metadata: { fincore_id: charge.id } });
    assert.deepEqual((await post(stale, signed(stale))).body, { received: true, duplicate: false, ignored: false, malformed: false });
    assert.deepEqual((await post(stale, signed(stale))).body, { received: true, duplicate: true, ignored: false, malformed: false });
    assert.equal((await call<ChargeBody>(fincore.url, 'GET', `/v1/charges/${charge.id}`, { key: apiKey })).body.status, 'requires_review');
    const reviewed = await fincore.db.pool.query<{ review_reason: string }>('SELECT review_reason FROM payments WHERE id = $1', [charge.id]);
    assert.equal(reviewed.rows[0]?.review_reason, 'failed_after_succeeded');
  });

  it('refund.created for a refund made in the Stripe Dashboard (no fincore_id) is acted on, not ignored', async () => {
    const payload = event('evt_dashboard_refund', 'refund.created', { object: 'refund', id: 're_dashboard_unknown', amount: 100, currency: 'usd', charge: 'ch_unknown', payment_intent: 'pi_unknown_to_fincore', status: 'succeeded', metadata: {} });
    const answer = await post(payload, signed(payload));
    assert.equal(answer.status, 200);
    assert.equal(answer.body.ignored, false, 'kept and parked (its charge is unknown), never ignored');
  });

  it('the simulator-format intake is not served when the PSP is Stripe', async () => {
    assert.equal((await call(fincore.url, 'POST', '/v1/webhooks/psp', { rawBody: '{}', headers: { 'content-type': 'application/json' } })).status, 404);
  });
});
