/**
 * The PSP simulator's Stripe-compatible mode, driven by the official `stripe` SDK as the client
 * (it was not written for the simulator, so it checks the wire format), with a small webhook
 * receiver that verifies every delivery with `stripe.webhooks.constructEvent`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { startPspSimulator, type PspSimulator, type PspSimulatorState, type SimFaults } from '../psp-simulator/index.ts';
import { asList, fingerprint, parseForm, FormError } from '../psp-simulator/stripe/form.ts';
import { parseSearchQuery } from '../psp-simulator/stripe/search.ts';
import { StripeApiError } from '../psp-simulator/stripe/errors.ts';

const STRIPE_SECRET = 'whsec_stripe_mode_test';
const NATIVE_SECRET = 'whsec_native_unused';
const API_KEY = 'sk_test_fincore_simulator';

interface Delivery {
  rawBody: string;
  /** The verified event; null when constructEvent refused the delivery. */
  event: Stripe.Event | null;
  error: string | null;
  answered: number;
}

const deliveries: Delivery[] = [];
/** Object ids whose first verified delivery the receiver answers 500. */
const failFirstDeliveryFor = new Set<string>();
const failedOnce = new Set<string>();
let receiver: Server;
let receiverUrl = '';
const simulators: PspSimulator[] = [];
let sim: PspSimulator;
let stripe: Stripe;
let counter = 0;

function unique(prefix: string): string {
  counter += 1;
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${counter}`;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** The event's data.object as a plain record (the SDK types it per event type). */
function objectOf(event: Stripe.Event): Record<string, unknown> {
  return event.data.object as unknown as Record<string, unknown>;
}

/** Verified, acknowledged events about one object, in arrival order. */
function eventsFor(objectId: string): Stripe.Event[] {
  return deliveries.flatMap((d) => (d.event !== null && d.answered === 200 && objectOf(d.event)['id'] === objectId ? [d.event] : []));
}

function waitForEvent(objectId: string, type: string): Promise<Stripe.Event> {
  return waitFor(`${type} for ${objectId}`, () => eventsFor(objectId).find((e) => e.type === type));
}

function clientFor(target: PspSimulator, key = API_KEY): Stripe {
  return new Stripe(key, { host: '127.0.0.1', port: target.port, protocol: 'http', maxNetworkRetries: 0 });
}

async function startSim(
  extra: { settleMs?: number; faults?: Partial<SimFaults>; withStripeWebhooks?: boolean } = {},
): Promise<PspSimulator> {
  const started = await startPspSimulator({
    port: 0,
    webhookUrl: `${receiverUrl}/native`,
    webhookSecret: NATIVE_SECRET,
    settleMs: extra.settleMs ?? 30,
    faults: extra.faults,
    stripe: extra.withStripeWebhooks === false ? undefined : { webhookUrl: () => `${receiverUrl}/stripe`, webhookSecret: STRIPE_SECRET },
  });
  simulators.push(started);
  return started;
}

async function simState(target: PspSimulator = sim): Promise<PspSimulatorState> {
  const res = await fetch(`${target.url}/sim/state`);
  assert.equal(res.status, 200);
  return (await res.json()) as PspSimulatorState;
}

async function setFaults(target: PspSimulator, faults: Partial<SimFaults>): Promise<void> {
  const res = await fetch(`${target.url}/sim/faults`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(faults),
  });
  assert.equal(res.status, 200);
}

interface RawAnswer {
  status: number;
  text: string;
  headers: Headers;
  json: { error?: { type?: string; code?: string; param?: string; message?: string }; id?: string; status?: string };
}

/** A form-encoded Stripe call without the SDK, to see headers and exact bodies. */
async function raw(
  target: PspSimulator,
  method: 'GET' | 'POST',
  path: string,
  options: { form?: string; idempotencyKey?: string; headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<RawAnswer> {
  const headers: Record<string, string> = {
    Authorization: `Bearer ${API_KEY}`,
    'Content-Type': 'application/x-www-form-urlencoded',
    ...(options.idempotencyKey === undefined ? {} : { 'Idempotency-Key': options.idempotencyKey }),
    ...options.headers,
  };
  const res = await fetch(`${target.url}${path}`, { method, headers, body: options.form, signal: options.signal });
  const text = await res.text();
  return { status: res.status, text, headers: res.headers, json: JSON.parse(text) as RawAnswer['json'] };
}

function visaIntent(fincoreId: string, amount = 2000): Stripe.PaymentIntentCreateParams {
  return {
    amount,
    currency: 'usd',
    payment_method: 'pm_card_visa',
    confirm: true,
    automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
    metadata: { fincore_id: fincoreId },
  };
}

/** A pm_card_visa PaymentIntent that has settled (its payment_intent.succeeded arrived). */
async function succeededIntent(fincoreId: string, amount = 2000, paymentMethod = 'pm_card_visa'): Promise<Stripe.PaymentIntent> {
  const pi = await stripe.paymentIntents.create({ ...visaIntent(fincoreId, amount), payment_method: paymentMethod });
  await waitForEvent(pi.id, 'payment_intent.succeeded');
  return pi;
}

function isStripeError<T extends abstract new (...args: never[]) => Error>(
  kind: T,
  check: (err: InstanceType<T>) => void = () => undefined,
): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof kind, `expected ${kind.name}, got ${err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err)}`);
    check(err as InstanceType<T>);
    return true;
  };
}

before(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.url !== '/stripe') {
        res.writeHead(200).end('{}');
        return;
      }
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const delivery: Delivery = { rawBody, event: null, error: null, answered: 200 };
      try {
        const header = req.headers['stripe-signature'];
        delivery.event = Stripe.webhooks.constructEvent(rawBody, typeof header === 'string' ? header : '', STRIPE_SECRET);
        const objectId = String(objectOf(delivery.event)['id']);
        if (failFirstDeliveryFor.has(objectId) && !failedOnce.has(objectId)) {
          failedOnce.add(objectId);
          delivery.answered = 500;
        }
      } catch (err) {
        delivery.error = err instanceof Error ? err.message : String(err);
        delivery.answered = 400;
      }
      deliveries.push(delivery);
      res.writeHead(delivery.answered, { 'Content-Type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  sim = await startSim();
  stripe = clientFor(sim);
});

after(async () => {
  await Promise.all(simulators.map((s) => s.close()));
  receiver.closeAllConnections();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
  // Every Stripe delivery passed the SDK's signature check.
  assert.deepEqual(deliveries.filter((d) => d.error !== null).map((d) => d.error), []);
});

describe('payment intents', () => {
  test('pm_card_visa: processing, then a signed payment_intent.succeeded the SDK verifies', async () => {
    const fincoreId = unique('ch');
    const pi = await stripe.paymentIntents.create({ ...visaIntent(fincoreId, 5000), currency: 'USD' });
    assert.match(pi.id, /^pi_[0-9A-Za-z]{24}$/);
    assert.equal(pi.object, 'payment_intent');
    assert.equal(pi.status, 'processing');
    assert.equal(pi.amount, 5000);
    assert.equal(pi.amount_received, 0);
    assert.equal(pi.currency, 'usd');
    assert.match(String(pi.latest_charge), /^ch_/);
    assert.match(String(pi.payment_method), /^pm_/);
    assert.notEqual(pi.payment_method, 'pm_card_visa', 'a test token becomes a new PaymentMethod id, as in Stripe');
    assert.equal(pi.last_payment_error, null);
    assert.deepEqual(pi.metadata, { fincore_id: fincoreId });
    assert.ok(Math.abs(pi.created - Date.now() / 1000) < 5);

    const event = await waitForEvent(pi.id, 'payment_intent.succeeded');
    assert.match(event.id, /^evt_/);
    assert.equal(event.object, 'event');
    assert.equal(event.livemode, false);
    assert.equal(typeof event.api_version, 'string');
    assert.deepEqual(event.request, { id: null, idempotency_key: null }, 'settling is not caused by a request');
    const object = objectOf(event);
    assert.equal(object['status'], 'succeeded');
    assert.equal(object['amount_received'], 5000);
    assert.equal(object['latest_charge'], pi.latest_charge);

    // The signature really covers the body: another secret or a changed body is refused.
    const delivery = deliveries.find((d) => d.event?.id === event.id);
    assert.ok(delivery !== undefined);
    const header = Stripe.webhooks.generateTestHeaderString({ payload: delivery.rawBody, secret: STRIPE_SECRET });
    assert.equal(Stripe.webhooks.constructEvent(delivery.rawBody, header, STRIPE_SECRET).id, event.id);
    assert.throws(
      () => Stripe.webhooks.constructEvent(delivery.rawBody, header, 'whsec_other'),
      (err: unknown) => err instanceof Stripe.errors.StripeSignatureVerificationError,
    );

    const retrieved = await stripe.paymentIntents.retrieve(pi.id, { expand: ['latest_charge'] });
    assert.equal(retrieved.status, 'succeeded');
    assert.equal(retrieved.amount_received, 5000);
    const charge = retrieved.latest_charge as Stripe.Charge;
    assert.equal(charge.object, 'charge');
    assert.equal(charge.id, pi.latest_charge);
    assert.equal(charge.status, 'succeeded');
    assert.equal(charge.payment_intent, pi.id);
  });

  test('with settleMs 0 the PaymentIntent answers succeeded and the webhook is still sent', async () => {
    const instant = await startSim({ settleMs: 0 });
    const client = clientFor(instant);
    const pi = await client.paymentIntents.create(visaIntent(unique('ch'), 1500), { idempotencyKey: 'instant-key-1' });
    assert.equal(pi.status, 'succeeded');
    assert.equal(pi.amount_received, 1500);
    const event = await waitForEvent(pi.id, 'payment_intent.succeeded');
    assert.equal(event.request?.idempotency_key, 'instant-key-1');
    assert.equal(event.request?.id, pi.lastResponse.requestId);

    const refund = await client.refunds.create({ payment_intent: pi.id, amount: 500 });
    assert.equal(refund.status, 'succeeded');
    await waitForEvent(refund.id, 'refund.updated');
  });

  test('pm_card_chargeDeclined: StripeCardError card_declined, a payment_intent.payment_failed webhook', async () => {
    const fincoreId = unique('ch');
    let declined: Stripe.PaymentIntent | undefined;
    await assert.rejects(
      stripe.paymentIntents.create({ ...visaIntent(fincoreId, 1200), payment_method: 'pm_card_chargeDeclined' }),
      isStripeError(Stripe.errors.StripeCardError, (err) => {
        assert.equal(err.statusCode, 402);
        assert.equal(err.code, 'card_declined');
        assert.equal(err.decline_code, 'generic_decline');
        assert.equal(err.message, 'Your card was declined.');
        assert.ok(err.payment_intent !== undefined);
        declined = err.payment_intent;
      }),
    );
    assert.ok(declined !== undefined);
    assert.equal(declined.status, 'requires_payment_method');
    assert.equal(declined.metadata['fincore_id'], fincoreId);
    assert.equal(declined.last_payment_error?.code, 'card_declined');

    const event = await waitForEvent(declined.id, 'payment_intent.payment_failed');
    assert.equal(objectOf(event)['status'], 'requires_payment_method');
    const retrieved = await stripe.paymentIntents.retrieve(declined.id);
    assert.equal(retrieved.status, 'requires_payment_method');
    assert.equal(retrieved.last_payment_error?.decline_code, 'generic_decline');

    // Nothing to refund on a declined payment.
    await assert.rejects(
      stripe.refunds.create({ payment_intent: declined.id }),
      isStripeError(Stripe.errors.StripeInvalidRequestError, (err) => assert.equal(err.code, 'charge_not_refundable')),
    );
  });
});

describe('refunds', () => {
  test('a refund is pending, then succeeded with refund.updated and charge.refund.updated', async () => {
    const pi = await succeededIntent(unique('ch'), 3000);
    const refundRef = unique('re');
    const refund = await stripe.refunds.create({ payment_intent: pi.id, amount: 1000, metadata: { fincore_id: refundRef } });
    assert.match(refund.id, /^re_/);
    assert.equal(refund.object, 'refund');
    assert.equal(refund.status, 'pending');
    assert.equal(refund.payment_intent, pi.id);
    assert.equal(refund.charge, pi.latest_charge);
    assert.equal(refund.amount, 1000);
    assert.equal(refund.currency, 'usd');
    assert.equal(refund.failure_reason, undefined);
    assert.deepEqual(refund.metadata, { fincore_id: refundRef });

    const updated = await waitForEvent(refund.id, 'refund.updated');
    assert.equal(objectOf(updated)['status'], 'succeeded');
    assert.deepEqual(updated.data.previous_attributes, { status: 'pending' });
    const chargeEvent = await waitForEvent(refund.id, 'charge.refund.updated');
    assert.equal(objectOf(chargeEvent)['status'], 'succeeded');
    assert.equal(eventsFor(refund.id).some((e) => e.type === 'refund.failed'), false);
    assert.equal((await stripe.refunds.retrieve(refund.id)).status, 'succeeded');
  });

  test('pm_card_refundFail: the refund fails with refund.failed and frees its amount', async () => {
    const pi = await succeededIntent(unique('ch'), 3000, 'pm_card_refundFail');
    const refund = await stripe.refunds.create({ payment_intent: pi.id, amount: 1000 });
    assert.equal(refund.status, 'pending');

    const failed = await waitForEvent(refund.id, 'refund.failed');
    assert.equal(objectOf(failed)['status'], 'failed');
    assert.equal(objectOf(failed)['failure_reason'], 'expired_or_canceled_card');
    await waitForEvent(refund.id, 'refund.updated');
    const retrieved = await stripe.refunds.retrieve(refund.id);
    assert.equal(retrieved.status, 'failed');
    assert.equal(retrieved.failure_reason, 'expired_or_canceled_card');

    // The failed 1000 is refundable again: the whole 3000 can be asked for.
    const full = await stripe.refunds.create({ payment_intent: pi.id });
    assert.equal(full.amount, 3000);
  });

  test('a refund of a still-processing PaymentIntent waits for it (charge_pending), then settles', async () => {
    const pi = await stripe.paymentIntents.create(visaIntent(unique('ch'), 1000));
    assert.equal(pi.status, 'processing');
    const refund = await stripe.refunds.create({ payment_intent: pi.id, amount: 400 });
    assert.equal(refund.status, 'pending');
    assert.equal(refund.pending_reason, 'charge_pending');
    const settled = await waitForEvent(refund.id, 'refund.updated');
    assert.equal(objectOf(settled)['status'], 'succeeded');
    const paid = deliveries.findIndex((d) => d.event !== null && d.event.type === 'payment_intent.succeeded' && objectOf(d.event)['id'] === pi.id);
    const refunded = deliveries.findIndex((d) => d.event?.id === settled.id);
    assert.ok(paid !== -1 && paid < refunded, 'the payment succeeded before its refund');
  });

  test('partial refunds up to the amount; amount_too_large and charge_already_refunded', async () => {
    const pi = await succeededIntent(unique('ch'), 2000);
    const first = await stripe.refunds.create({ payment_intent: pi.id, amount: 1500 });
    await assert.rejects(
      stripe.refunds.create({ payment_intent: pi.id, amount: 501 }),
      isStripeError(Stripe.errors.StripeInvalidRequestError, (err) => {
        assert.equal(err.statusCode, 400);
        assert.equal(err.code, 'amount_too_large');
        assert.equal(err.param, 'amount');
      }),
    );
    // No amount: the rest. By charge id this time.
    const rest = await stripe.refunds.create({ charge: String(pi.latest_charge) });
    assert.equal(rest.amount, 500);
    assert.equal(rest.payment_intent, pi.id);
    await assert.rejects(
      stripe.refunds.create({ payment_intent: pi.id, amount: 1 }),
      isStripeError(Stripe.errors.StripeInvalidRequestError, (err) => assert.equal(err.code, 'charge_already_refunded')),
    );

    await waitForEvent(first.id, 'refund.updated');
    await waitForEvent(rest.id, 'refund.updated');
    const charge = (await stripe.paymentIntents.retrieve(pi.id, { expand: ['latest_charge'] })).latest_charge as Stripe.Charge;
    assert.equal(charge.amount_refunded, 2000);
    assert.equal(charge.refunded, true);
  });

  test('GET /v1/refunds?payment_intent= lists newest first with has_more and cursors', async () => {
    const pi = await succeededIntent(unique('ch'), 3000);
    const other = await succeededIntent(unique('ch'), 3000);
    const a = await stripe.refunds.create({ payment_intent: pi.id, amount: 100 });
    const b = await stripe.refunds.create({ payment_intent: pi.id, amount: 200 });
    const c = await stripe.refunds.create({ payment_intent: pi.id, amount: 300 });
    await stripe.refunds.create({ payment_intent: other.id, amount: 400 });

    const all = await stripe.refunds.list({ payment_intent: pi.id });
    assert.equal(all.object, 'list');
    assert.equal(all.url, '/v1/refunds');
    assert.equal(all.has_more, false);
    assert.deepEqual(all.data.map((r) => r.id), [c.id, b.id, a.id]);

    const page1 = await stripe.refunds.list({ payment_intent: pi.id, limit: 2 });
    assert.deepEqual(page1.data.map((r) => r.id), [c.id, b.id]);
    assert.equal(page1.has_more, true);
    const page2 = await stripe.refunds.list({ payment_intent: pi.id, limit: 2, starting_after: b.id });
    assert.deepEqual(page2.data.map((r) => r.id), [a.id]);
    assert.equal(page2.has_more, false);
    const back = await stripe.refunds.list({ payment_intent: pi.id, limit: 1, ending_before: a.id });
    assert.deepEqual(back.data.map((r) => r.id), [b.id]);

    // The SDK's auto-pagination walks the same list.
    const walked: string[] = [];
    for await (const refund of stripe.refunds.list({ payment_intent: pi.id, limit: 1 })) walked.push(refund.id);
    assert.deepEqual(walked, [c.id, b.id, a.id]);

    await assert.rejects(
      stripe.refunds.list({ payment_intent: 'pi_doesnotexist' }),
      isStripeError(Stripe.errors.StripeInvalidRequestError, (err) => assert.equal(err.code, 'resource_missing')),
    );
  });
});

describe('search', () => {
  test("search by metadata['fincore_id'] returns a search_result with just that PaymentIntent", async () => {
    const wanted = unique('ch');
    const pi = await stripe.paymentIntents.create(visaIntent(wanted, 900));
    await stripe.paymentIntents.create(visaIntent(unique('ch'), 900));

    const found = await stripe.paymentIntents.search({ query: `metadata['fincore_id']:'${wanted}'` });
    assert.equal(found.object, 'search_result');
    assert.equal(found.has_more, false);
    assert.deepEqual(found.data.map((p) => p.id), [pi.id]);
    assert.equal(found.data[0]?.metadata['fincore_id'], wanted);

    const quoted = await stripe.paymentIntents.search({ query: `metadata["fincore_id"]:"${wanted}" AND amount:900` });
    assert.deepEqual(quoted.data.map((p) => p.id), [pi.id]);
    await waitForEvent(pi.id, 'payment_intent.succeeded');
    const settled = await stripe.paymentIntents.search({ query: `status:'succeeded' AND metadata['fincore_id']:'${wanted}'` });
    assert.deepEqual(settled.data.map((p) => p.id), [pi.id]);
    const none = await stripe.paymentIntents.search({ query: `metadata['fincore_id']:'${unique('absent')}'` });
    assert.deepEqual(none.data, []);

    await assert.rejects(
      stripe.paymentIntents.search({ query: `metadata['fincore_id']='${wanted}'` }),
      isStripeError(Stripe.errors.StripeInvalidRequestError, (err) => assert.equal(err.param, 'query')),
    );
    await assert.rejects(
      stripe.paymentIntents.search({ query: `customer_email:'a@b.c'` }),
      isStripeError(Stripe.errors.StripeInvalidRequestError, (err) => assert.match(err.message, /unsupported search field/)),
    );
  });

  test('search pages with limit and next_page', async () => {
    const tag = unique('batch');
    const created: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      created.push((await stripe.paymentIntents.create({ ...visaIntent(unique('ch'), 700), metadata: { batch: tag } })).id);
    }
    const first = await stripe.paymentIntents.search({ query: `metadata['batch']:'${tag}'`, limit: 2 });
    assert.equal(first.has_more, true);
    assert.ok(first.next_page !== null);
    const second = await stripe.paymentIntents.search({ query: `metadata['batch']:'${tag}'`, limit: 2, page: first.next_page });
    assert.equal(second.has_more, false);
    assert.deepEqual([...first.data, ...second.data].map((p) => p.id), [...created].reverse());
  });
});

describe('idempotency', () => {
  const visaForm = (fincoreId: string, amount = 1200): string =>
    `amount=${amount}&currency=usd&payment_method=pm_card_visa&confirm=true&metadata[fincore_id]=${fincoreId}`;

  test('same key and parameters replay the answer byte for byte with Idempotent-Replayed', async () => {
    const fincoreId = unique('ch');
    const key = unique('idem');
    const first = await raw(sim, 'POST', '/v1/payment_intents', { form: visaForm(fincoreId), idempotencyKey: key });
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('idempotent-replayed'), null);
    const second = await raw(sim, 'POST', '/v1/payment_intents', { form: visaForm(fincoreId), idempotencyKey: key });
    assert.equal(second.status, 200);
    assert.equal(second.headers.get('idempotent-replayed'), 'true');
    assert.equal(second.headers.get('original-request'), first.headers.get('request-id'));
    assert.equal(second.text, first.text);

    // The SDK encodes the same parameters its own way: still the same request, same object.
    const viaSdk = await stripe.paymentIntents.create(
      { amount: 1200, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, metadata: { fincore_id: fincoreId } },
      { idempotencyKey: key },
    );
    assert.equal(viaSdk.id, first.json.id);
    assert.equal(viaSdk.lastResponse.headers['idempotent-replayed'], 'true');
    assert.equal(viaSdk.status, 'processing', 'the replay is the original answer, even after settling');

    await assert.rejects(
      stripe.paymentIntents.create({ amount: 1300, currency: 'usd', payment_method: 'pm_card_visa', confirm: true }, { idempotencyKey: key }),
      isStripeError(Stripe.errors.StripeIdempotencyError, (err) => assert.equal(err.statusCode, 400)),
    );
    await assert.rejects(
      stripe.refunds.create({ payment_intent: String(first.json.id) }, { idempotencyKey: key }),
      isStripeError(Stripe.errors.StripeIdempotencyError, (err) => assert.match(err.message, /same endpoint/)),
    );

    const state = await simState();
    assert.equal(state.charges.filter((c) => c.reference === fincoreId).length, 1);
    assert.equal(state.create_requests[`charges ${key}`], 4);
  });

  test('a declined payment is replayed as the same 402', async () => {
    const key = unique('idem');
    const form = `amount=1200&currency=usd&payment_method=pm_card_chargeDeclined&confirm=true&metadata[fincore_id]=${unique('ch')}`;
    const first = await raw(sim, 'POST', '/v1/payment_intents', { form, idempotencyKey: key });
    const second = await raw(sim, 'POST', '/v1/payment_intents', { form, idempotencyKey: key });
    assert.equal(first.status, 402);
    assert.equal(first.json.error?.type, 'card_error');
    assert.equal(second.status, 402);
    assert.equal(second.headers.get('idempotent-replayed'), 'true');
    assert.equal(second.text, first.text);
  });

  test('a request refused for its parameters stores nothing: the key can be used again', async () => {
    const key = unique('idem');
    const missing = await raw(sim, 'POST', '/v1/payment_intents', { form: 'currency=usd&payment_method=pm_card_visa&confirm=true', idempotencyKey: key });
    assert.equal(missing.status, 400);
    assert.equal(missing.json.error?.code, 'parameter_missing');
    const fixed = await raw(sim, 'POST', '/v1/payment_intents', { form: visaForm(unique('ch')), idempotencyKey: key });
    assert.equal(fixed.status, 200);
    assert.equal(fixed.headers.get('idempotent-replayed'), null);
  });

  test('a key whose request is still running gets 409 idempotency_key_in_use', async () => {
    const held = await startSim({ faults: { timeout_rate: 1, timeout_hold_ms: 5000 } });
    const key = unique('idem');
    const form = visaForm(unique('ch'));
    const controller = new AbortController();
    const first = raw(held, 'POST', '/v1/payment_intents', { form, idempotencyKey: key, signal: controller.signal }).then(
      () => 'answered',
      () => 'aborted',
    );
    const created = await waitFor('the held PaymentIntent', async () => (await simState(held)).charges[0]);
    await setFaults(held, { timeout_rate: 0 });

    const busy = await raw(held, 'POST', '/v1/payment_intents', { form, idempotencyKey: key });
    assert.equal(busy.status, 409);
    assert.equal(busy.json.error?.type, 'idempotency_error');
    assert.equal(busy.json.error?.code, 'idempotency_key_in_use');
    await assert.rejects(
      clientFor(held).paymentIntents.create(
        { amount: 1200, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, metadata: { fincore_id: 'x' } },
        { idempotencyKey: key },
      ),
      (err: unknown) => err instanceof Stripe.errors.StripeError && err.statusCode === 409,
    );

    // The client gives up; the lock goes with its connection and the stored answer replays.
    controller.abort();
    assert.equal(await first, 'aborted');
    const replay = await waitFor('the key to be unlocked', async () => {
      const answer = await raw(held, 'POST', '/v1/payment_intents', { form, idempotencyKey: key });
      return answer.status === 409 ? undefined : answer;
    });
    assert.equal(replay.status, 200);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assert.equal(replay.json.id, created.id);
    assert.equal((await simState(held)).charges.length, 1);
  });
});

describe('errors and auth', () => {
  test('an unknown id is 404 resource_missing (StripeInvalidRequestError)', async () => {
    await assert.rejects(
      stripe.paymentIntents.retrieve('pi_doesnotexist'),
      isStripeError(Stripe.errors.StripeInvalidRequestError, (err) => {
        assert.equal(err.statusCode, 404);
        assert.equal(err.code, 'resource_missing');
        assert.match(err.message, /No such payment_intent: 'pi_doesnotexist'/);
      }),
    );
    await assert.rejects(
      stripe.refunds.retrieve('re_doesnotexist'),
      isStripeError(Stripe.errors.StripeInvalidRequestError, (err) => assert.equal(err.code, 'resource_missing')),
    );
    await assert.rejects(
      stripe.refunds.create({ payment_intent: 'pi_doesnotexist' }),
      isStripeError(Stripe.errors.StripeInvalidRequestError, (err) => {
        assert.equal(err.statusCode, 400);
        assert.equal(err.param, 'payment_intent');
      }),
    );
  });

  test('no key or a malformed key is 401 (StripeAuthenticationError); any sk_test_ key works', async () => {
    for (const key of ['not_a_key', 'sk_live_abcdefghijklmnop', 'pk_test_abcdefghijklmnop']) {
      await assert.rejects(
        clientFor(sim, key).paymentIntents.retrieve('pi_x'),
        isStripeError(Stripe.errors.StripeAuthenticationError, (err) => assert.equal(err.statusCode, 401)),
        key,
      );
    }
    const anonymous = await fetch(`${sim.url}/v1/payment_intents/pi_x`);
    assert.equal(anonymous.status, 401);
    const body = (await anonymous.json()) as { error: { type: string; message: string } };
    assert.equal(body.error.type, 'invalid_request_error');
    assert.match(body.error.message, /did not provide an API key/);

    const other = await clientFor(sim, 'sk_test_someone_else').paymentIntents.create(visaIntent(unique('ch'), 800));
    assert.equal((await stripe.paymentIntents.retrieve(other.id)).id, other.id, 'one test account for every sk_test_ key');
  });

  test('Stripe-Version is accepted and echoed; a malformed one is refused', async () => {
    const ok = await raw(sim, 'GET', '/v1/refunds?limit=1', { headers: { 'Stripe-Version': '2024-06-20' } });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('stripe-version'), '2024-06-20');
    assert.match(ok.headers.get('request-id') ?? '', /^req_/);
    const bad = await raw(sim, 'GET', '/v1/refunds?limit=1', { headers: { 'Stripe-Version': 'yesterday' } });
    assert.equal(bad.status, 400);
  });

  test('parameter errors are Stripe-shaped', async () => {
    const expectInvalid = async (params: Record<string, unknown>, code: string | undefined, param: string): Promise<void> => {
      await assert.rejects(
        stripe.rawRequest('POST', '/v1/payment_intents', params),
        isStripeError(Stripe.errors.StripeInvalidRequestError, (err) => {
          assert.equal(err.statusCode, 400);
          assert.equal(err.code, code);
          assert.equal(err.param, param);
        }),
        JSON.stringify(params),
      );
    };
    const base = { amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', confirm: 'true' };
    await expectInvalid({ currency: 'usd', payment_method: 'pm_card_visa', confirm: 'true' }, 'parameter_missing', 'amount');
    await expectInvalid({ ...base, currency: undefined }, 'parameter_missing', 'currency');
    await expectInvalid({ ...base, amount: 'ten' }, 'parameter_invalid_integer', 'amount');
    await expectInvalid({ ...base, amount: '' }, 'parameter_invalid_empty', 'amount');
    await expectInvalid({ ...base, currency: 'xyz' }, undefined, 'currency');
    await expectInvalid({ ...base, amount: 10 }, 'amount_too_small', 'amount');
    await expectInvalid({ ...base, amout: 5 }, 'parameter_unknown', 'amout');
    await expectInvalid({ ...base, payment_method: 'pm_card_amex' }, 'resource_missing', 'payment_method');
    await expectInvalid({ ...base, expand: ['customer'] }, undefined, 'expand');
    await assert.rejects(
      stripe.rawRequest('POST', '/v1/refunds', { amount: 100 }),
      isStripeError(Stripe.errors.StripeInvalidRequestError, (err) => assert.equal(err.code, 'parameter_missing')),
    );
    const state = await simState();
    assert.equal(state.charges.some((c) => c.payment_method === 'pm_card_amex'), false);
  });

  test('native routes keep working beside the Stripe ones', async () => {
    // A native JSON refund call (no Authorization) still reaches the native API.
    const native = await fetch(`${sim.url}/v1/refunds`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': unique('native') },
      body: JSON.stringify({ charge: 'simch_nope', amount: 1, reference: 'r' }),
    });
    assert.equal(native.status, 400);
    assert.deepEqual(((await native.json()) as { error: { code: string } }).error.code, 'charge_not_found');
    const nativeLookup = await fetch(`${sim.url}/v1/refunds?reference=${unique('none')}`);
    assert.equal(nativeLookup.status, 404);
    assert.equal(((await nativeLookup.json()) as { error: { type?: string } }).error.type, undefined);

    // The same path with a form body and no key is Stripe's, and Stripe wants a key.
    const stripeAnonymous = await fetch(`${sim.url}/v1/refunds`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'payment_intent=pi_x',
    });
    assert.equal(stripeAnonymous.status, 401);
    // Stripe endpoints the simulator does not serve are Stripe's 404.
    const unserved = await raw(sim, 'POST', '/v1/payment_intents/pi_x/confirm', { form: '' });
    assert.equal(unserved.status, 404);
    assert.match(unserved.json.error?.message ?? '', /Unrecognized request URL/);
  });
});

describe('faults', () => {
  test('failure_rate 1: StripeAPIError 500, nothing created, nothing counted but the fault', async () => {
    const failing = await startSim({ faults: { failure_rate: 1 } });
    const client = clientFor(failing);
    await assert.rejects(
      client.paymentIntents.create(visaIntent(unique('ch')), { idempotencyKey: 'fail-key' }),
      isStripeError(Stripe.errors.StripeAPIError, (err) => {
        assert.equal(err.statusCode, 500);
        assert.equal(err.rawType, 'api_error');
      }),
    );
    let state = await simState(failing);
    assert.deepEqual(state.charges, []);
    assert.deepEqual(state.create_requests, {});
    assert.equal(state.faults_injected.failure, 1);
    // GETs are not failed.
    await assert.rejects(client.paymentIntents.retrieve('pi_x'), isStripeError(Stripe.errors.StripeInvalidRequestError));

    await setFaults(failing, { failure_rate: 0 });
    const created = await client.paymentIntents.create(visaIntent(unique('ch')), { idempotencyKey: 'fail-key' });
    assert.equal(created.lastResponse.headers['idempotent-replayed'], undefined, 'the failed try stored nothing');
    state = await simState(failing);
    assert.equal(state.charges.length, 1);
  });

  test('lost_response_rate 1: the PaymentIntent exists, the client sees a connection error, a retry returns it', async () => {
    const losing = await startSim({ faults: { lost_response_rate: 1 } });
    const client = clientFor(losing);
    const fincoreId = unique('ch');
    const key = unique('lost');
    await assert.rejects(client.paymentIntents.create(visaIntent(fincoreId), { idempotencyKey: key }), isStripeError(Stripe.errors.StripeConnectionError));
    let state = await simState(losing);
    assert.equal(state.charges.length, 1);
    assert.equal(state.charges[0]?.reference, fincoreId);
    assert.ok(state.faults_injected.lost_response >= 1);
    // The SDK retries a closed connection once by itself, with the same key: no second object.
    assert.equal(state.create_requests[`charges ${key}`], state.faults_injected.lost_response);

    await setFaults(losing, { lost_response_rate: 0 });
    const retried = await client.paymentIntents.create(visaIntent(fincoreId), { idempotencyKey: key });
    assert.equal(retried.id, state.charges[0]?.id);
    assert.equal(retried.lastResponse.headers['idempotent-replayed'], 'true');
    state = await simState(losing);
    assert.equal(state.charges.length, 1);
  });

  test('webhook_duplicate_rate 1: every Stripe event arrives twice with one id, and is counted', async () => {
    const doubling = await startSim({ settleMs: 0, faults: { webhook_duplicate_rate: 1 } });
    const pi = await clientFor(doubling).paymentIntents.create(visaIntent(unique('ch')));
    await waitFor('two deliveries', () => (eventsFor(pi.id).length >= 2 ? true : undefined));
    await sleep(50);
    const received = eventsFor(pi.id);
    assert.equal(received.length, 2);
    assert.equal(received[0]?.id, received[1]?.id);
    const state = await simState(doubling);
    assert.equal(state.faults_injected.webhook_duplicate, 1);
    assert.equal(state.webhooks.duplicated, 1);
    assert.equal(state.webhooks.acknowledged, 2);
  });

  test('webhook_drop_rate 1: the event never arrives and is counted', async () => {
    const dropping = await startSim({ settleMs: 0, faults: { webhook_drop_rate: 1 } });
    const pi = await clientFor(dropping).paymentIntents.create(visaIntent(unique('ch')));
    await sleep(150);
    assert.deepEqual(eventsFor(pi.id), []);
    const state = await simState(dropping);
    assert.equal(state.faults_injected.webhook_drop, 1);
    assert.equal(state.webhooks.dropped, 1);
  });

  test('a Stripe webhook answered 500 is retried with the same event id', async () => {
    const pi = await stripe.paymentIntents.create(visaIntent(unique('ch')));
    failFirstDeliveryFor.add(pi.id);
    const event = await waitForEvent(pi.id, 'payment_intent.succeeded');
    const attempts = deliveries.filter((d) => d.event !== null && objectOf(d.event)['id'] === pi.id);
    assert.deepEqual(attempts.map((d) => d.answered), [500, 200]);
    assert.equal(attempts[0]?.event?.id, event.id);
  });

  test('latency_ms delays Stripe calls too', async () => {
    const slow = await startSim({ faults: { latency_ms: 150 } });
    const started = Date.now();
    await assert.rejects(clientFor(slow).refunds.retrieve('re_x'), isStripeError(Stripe.errors.StripeInvalidRequestError));
    assert.ok(Date.now() - started >= 140);
  });
});

describe('/sim/state', () => {
  test('Stripe objects appear among charges and refunds in the native shape', async () => {
    const chargeRef = unique('ch');
    const refundRef = unique('re');
    const chargeKey = unique('key');
    const pi = await stripe.paymentIntents.create(visaIntent(chargeRef, 2500), { idempotencyKey: chargeKey });
    await waitForEvent(pi.id, 'payment_intent.succeeded');
    const refund = await stripe.refunds.create({ payment_intent: pi.id, amount: 700, metadata: { fincore_id: refundRef } });
    await waitForEvent(refund.id, 'refund.updated');
    // Without metadata.fincore_id the Idempotency-Key is the reference.
    const keyOnly = unique('key');
    const bare = await stripe.paymentIntents.create({ ...visaIntent('unused'), metadata: {} }, { idempotencyKey: keyOnly });

    const state = await simState();
    assert.deepEqual(
      state.charges.find((c) => c.id === pi.id),
      {
        id: pi.id,
        object: 'charge',
        reference: chargeRef,
        amount: 2500,
        currency: 'usd',
        payment_method: 'pm_card_visa',
        status: 'succeeded',
        failure_code: null,
        failure_message: null,
        amount_refunded: 700,
      },
    );
    assert.deepEqual(
      state.refunds.find((r) => r.id === refund.id),
      { id: refund.id, object: 'refund', reference: refundRef, charge: pi.id, charge_reference: chargeRef, amount: 700, currency: 'usd', status: 'succeeded', failure_reason: null },
    );
    assert.equal(state.charges.find((c) => c.id === bare.id)?.reference, keyOnly);
    assert.equal(state.create_requests[`charges ${chargeKey}`], 1);
    const declinedOrPending = state.charges.filter((c) => c.payment_method === 'pm_card_chargeDeclined');
    assert.ok(declinedOrPending.every((c) => c.status === 'failed' && c.failure_code === 'card_declined'));
  });

  test('without the stripe option the routes answer but no Stripe webhook is sent', async () => {
    const quiet = await startSim({ settleMs: 0, withStripeWebhooks: false });
    const pi = await clientFor(quiet).paymentIntents.create(visaIntent(unique('ch')));
    assert.equal(pi.status, 'succeeded');
    await sleep(100);
    assert.deepEqual(eventsFor(pi.id), []);
    assert.equal((await simState(quiet)).webhooks.sent, 0);

    await assert.rejects(
      startPspSimulator({ port: 0, webhookUrl: `${receiverUrl}/native`, webhookSecret: NATIVE_SECRET, stripe: { webhookUrl: `${receiverUrl}/stripe`, webhookSecret: '' } }),
      /stripe\.webhookSecret must not be empty/,
    );
  });
});

describe('form encoding and search query parsing', () => {
  test('bracket notation: hashes, [] arrays, indexed arrays, + and %-escapes', () => {
    const form = parseForm(
      'amount=100&metadata[fincore_id]=ch_1&metadata[note]=a+b%26c&expand[]=latest_charge&expand[]=payment_method' +
        '&payment_method_types[0]=card&automatic_payment_methods%5Benabled%5D=true&items[][price]=p1&items[][qty]=2&items[][price]=p2',
    );
    assert.equal(form['amount'], '100');
    assert.deepEqual({ ...(form['metadata'] as object) }, { fincore_id: 'ch_1', note: 'a b&c' });
    assert.deepEqual(form['expand'], ['latest_charge', 'payment_method']);
    assert.deepEqual(asList(form['payment_method_types']), ['card']);
    assert.deepEqual({ ...(form['automatic_payment_methods'] as object) }, { enabled: 'true' });
    const items = form['items'];
    assert.ok(Array.isArray(items));
    assert.deepEqual(items.map((item) => ({ ...(item as object) })), [{ price: 'p1', qty: '2' }, { price: 'p2' }]);
    assert.equal(asList(form['metadata']), undefined, 'a hash with non-integer keys is not a list');

    assert.equal(fingerprint(parseForm('a=1&m[x]=1&m[y]=2')), fingerprint(parseForm('m[y]=2&a=1&m[x]=1')));
    assert.notEqual(fingerprint(parseForm('a=1')), fingerprint(parseForm('a=2')));
    for (const bad of ['a=1&a[b]=2', 'a[b]=2&a=1', 'a[]=1&a[b]=2', 'a[b=1', 'a=%zz']) {
      assert.throws(() => parseForm(bad), FormError, bad);
    }
  });

  test('search queries: metadata, status, numbers, AND / OR, negation; errors', () => {
    assert.deepEqual(parseSearchQuery(`metadata['fincore_id']:'ch_1'`), {
      clauses: [{ negated: false, field: 'metadata', key: 'fincore_id', value: 'ch_1' }],
      join: 'AND',
    });
    assert.deepEqual(parseSearchQuery(`status:"succeeded" OR -amount>=100 OR metadata['k']:'it\\'s'`), {
      clauses: [
        { negated: false, field: 'status', value: 'succeeded' },
        { negated: true, field: 'amount', op: '>=', value: 100 },
        { negated: false, field: 'metadata', key: 'k', value: "it's" },
      ],
      join: 'OR',
    });
    for (const bad of ['', `status:'a' AND currency:'b' OR amount:1`, `status:succeeded`, `metadata['k']:'v' metadata['j']:'w'`, `email:'x'`, `metadata['k]:'v'`]) {
      assert.throws(() => parseSearchQuery(bad), (err: unknown) => err instanceof StripeApiError && err.status === 400, bad);
    }
  });
});

describe("the PSP's truth cases in Stripe mode (issue 16)", () => {
  async function control(path: string, body: Record<string, unknown> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${sim.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  for (const [paymentMethod, reason] of [
    ['pm_card_refundFailsLater', 'expired_or_canceled_card'],
    ['pm_card_refundReversed', 'lost_or_stolen_card'],
  ] as const) {
    test(`${paymentMethod}: the refund succeeds, then charge.refund.updated / refund.failed / refund.updated say failed with previous_attributes status succeeded`, async () => {
      await control('/sim/settings', { late_failure_ms: 100 });
      const pi = await succeededIntent(unique('ch'), 3000, paymentMethod);
      const refund = await stripe.refunds.create({ payment_intent: pi.id, amount: 1000, metadata: { fincore_id: unique('re') } });
      const succeeded = await waitForEvent(refund.id, 'charge.refund.updated');
      assert.equal(objectOf(succeeded)['status'], 'succeeded');
      for (const type of ['charge.refund.updated', 'refund.failed', 'refund.updated']) {
        const late = await waitFor(`late ${type}`, () => eventsFor(refund.id).find((e) => e.type === type && objectOf(e)['status'] === 'failed'));
        assert.equal(objectOf(late)['failure_reason'], reason);
        assert.deepEqual(late.data.previous_attributes, { status: 'succeeded', failure_reason: null, failure_balance_transaction: null });
        assert.equal(late.request?.id ?? null, null, 'made by Stripe itself');
      }
      assert.equal((await stripe.refunds.retrieve(refund.id)).status, 'failed');
      // Refundable again: the whole charge can be refunded now.
      assert.equal((await stripe.refunds.create({ payment_intent: pi.id })).amount, 3000);
    });
  }

  test('POST /sim/refunds/{id}/fail: a succeeded refund fails now; a reason outside Stripe\'s list is refused', async () => {
    const pi = await succeededIntent(unique('ch'));
    const fincoreId = unique('re');
    const refund = await stripe.refunds.create({ payment_intent: pi.id, amount: 500, metadata: { fincore_id: fincoreId } });
    await waitFor('settled', async () => ((await stripe.refunds.retrieve(refund.id)).status === 'succeeded' ? true : undefined));
    assert.equal((await control(`/sim/refunds/${fincoreId}/fail`, { reason: 'made_up' })).status, 400);
    const failed = await control(`/sim/refunds/${fincoreId}/fail`, { reason: 'declined' });
    assert.equal(failed.status, 200, JSON.stringify(failed.body));
    assert.deepEqual([failed.body['id'], failed.body['status'], failed.body['failure_reason']], [refund.id, 'failed', 'declined']);
    await waitForEvent(refund.id, 'refund.failed');
    assert.equal((await control(`/sim/refunds/${refund.id}/fail`)).status, 400, 'already failed');
  });

  test('POST /sim/next-refund and /sim/next-charge: the next PaymentIntent / Refund is for another amount or currency, in answers and events', async () => {
    await control('/sim/next-charge', { amount: 2100, currency: 'eur' });
    const pi = await stripe.paymentIntents.create(visaIntent(unique('ch'), 2000));
    assert.deepEqual([pi.amount, pi.currency], [2100, 'eur']);
    const succeeded = await waitForEvent(pi.id, 'payment_intent.succeeded');
    assert.deepEqual([objectOf(succeeded)['amount'], objectOf(succeeded)['currency']], [2100, 'eur']);
    await control('/sim/next-refund', { amount: 1999 });
    const refund = await stripe.refunds.create({ payment_intent: pi.id, amount: 100, metadata: { fincore_id: unique('re') } });
    assert.equal(refund.amount, 1999);
    assert.equal(objectOf(await waitForEvent(refund.id, 'charge.refund.updated'))['amount'], 1999);
    // Used up.
    assert.equal((await stripe.refunds.create({ payment_intent: pi.id, amount: 100 })).amount, 100);
  });

  test('POST /sim/next-charge {early_webhook}: payment_intent.succeeded arrives before the create answer, which says succeeded', async () => {
    await control('/sim/settings', { early_webhook_hold_ms: 250 });
    await control('/sim/next-charge', { early_webhook: true });
    const fincoreId = unique('ch');
    let answered = false;
    const creating = stripe.paymentIntents.create(visaIntent(fincoreId)).then((pi) => {
      answered = true;
      return pi;
    });
    const early = await waitFor('the early event', () =>
      deliveries.find((d) => d.event?.type === 'payment_intent.succeeded' && (objectOf(d.event)['metadata'] as Record<string, string>)['fincore_id'] === fincoreId),
    );
    assert.equal(answered, false, 'the webhook came first');
    const pi = await creating;
    assert.equal(pi.status, 'succeeded');
    assert.equal(objectOf(early.event!)['id'], pi.id);

    await control('/sim/next-refund', { early_webhook: true });
    let refundAnswered = false;
    const refunding = stripe.refunds.create({ payment_intent: pi.id, amount: 100 }).then((r) => {
      refundAnswered = true;
      return r;
    });
    const earlyRefund = await waitFor('the early refund event', () =>
      deliveries.find((d) => d.event?.type === 'charge.refund.updated' && objectOf(d.event)['payment_intent'] === pi.id),
    );
    assert.equal(refundAnswered, false);
    assert.equal(objectOf(earlyRefund.event!)['id'], (await refunding).id);
  });

  test('POST /sim/charges/{id}/refunds: a Dashboard refund without fincore_id, refund.created then settled', async () => {
    const fincoreId = unique('ch');
    const pi = await succeededIntent(fincoreId, 4000);
    const made = await control(`/sim/charges/${fincoreId}/refunds`, { amount: 1500 });
    assert.equal(made.status, 200, JSON.stringify(made.body));
    const id = String(made.body['id']);
    assert.match(id, /^re_/);
    assert.deepEqual(made.body['metadata'], {});
    const created = await waitForEvent(id, 'refund.created');
    assert.equal(objectOf(created)['payment_intent'], pi.id);
    assert.equal(objectOf(created)['amount'], 1500);
    assert.equal(created.request?.idempotency_key ?? null, null, 'not a request of the merchant');
    assert.equal(objectOf(await waitForEvent(id, 'charge.refund.updated'))['status'], 'succeeded');
    // By PaymentIntent id and by charge id too; the rest by default.
    assert.equal((await control(`/sim/charges/${pi.id}/refunds`, { amount: 500 })).status, 200);
    assert.equal((await control(`/sim/charges/${String(pi.latest_charge)}/refunds`)).body['amount'], 2000);
    assert.equal((await control(`/sim/charges/${pi.id}/refunds`)).status, 400, 'nothing left');
    const state = await simState();
    assert.equal(state.refunds.find((r) => r.id === id)?.reference, null);
    assert.equal(state.refunds.find((r) => r.id === id)?.charge_reference, fincoreId);
  });

  test('disputes: charge.dispute.created + funds_withdrawn (needs_response), closed won (+ funds_reinstated) or lost, Stripe-shaped', async () => {
    for (const outcome of ['won', 'lost', 'warning_closed'] as const) {
      const pi = await succeededIntent(unique('ch'));
      const opened = await control(`/sim/charges/${pi.id}/disputes`, { reason: 'fraudulent' });
      assert.equal(opened.status, 200, JSON.stringify(opened.body));
      const id = String(opened.body['id']);
      assert.match(id, /^dp_/);
      const created = await waitForEvent(id, 'charge.dispute.created');
      const dispute = objectOf(created);
      assert.deepEqual(
        [dispute['object'], dispute['status'], dispute['amount'], dispute['currency'], dispute['payment_intent'], dispute['charge'], dispute['reason'], dispute['is_charge_refundable']],
        ['dispute', 'needs_response', 2000, 'usd', pi.id, pi.latest_charge, 'fraudulent', false],
      );
      await waitForEvent(id, 'charge.dispute.funds_withdrawn');
      assert.equal((await control(`/sim/disputes/${id}/close`, { status: outcome })).body['status'], outcome);
      const closed = await waitForEvent(id, 'charge.dispute.closed');
      assert.equal(objectOf(closed)['status'], outcome);
      assert.deepEqual(closed.data.previous_attributes, { status: 'needs_response' });
      if (outcome === 'won') await waitForEvent(id, 'charge.dispute.funds_reinstated');
      assert.equal((await control(`/sim/disputes/${id}/close`, { status: 'lost' })).status, 400);
      const simStatus = (await simState()).disputes.find((d) => d.id === id)?.status;
      assert.equal(simStatus, outcome === 'lost' ? 'lost' : 'won');
    }
    assert.equal((await control('/sim/disputes/dp_nope/close', { status: 'won' })).status, 404);
  });
});
