/**
 * Drives the PSP simulator through the FinCore simulator adapter, with a tiny webhook receiver
 * that verifies every delivery through the adapter.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startPspSimulator, type PspSimulator, type PspSimulatorState } from '../psp-simulator/index.ts';
import { createSimulatorGateway } from '../src/psp/simulator/adapter.ts';
import { PspPermanentError, PspTransientError, type PspGateway, type PspObjectEvent, type PspWebhookEvent } from '../src/psp/gateway.ts';

const SECRET = 'whsec_integration_test';

interface Delivery {
  eventId: string | null;
  answered: number;
  event: PspObjectEvent | null;
  error: string | null;
}

const deliveries: Delivery[] = [];
/** References whose first delivery the receiver answers with 500. */
const failFirstDeliveryFor = new Set<string>();
const failedOnce = new Set<string>();

let receiver: Server;
let simulator: PspSimulator;
let gateway: PspGateway;
let counter = 0;

function uniqueRef(prefix: 'ch' | 're'): string {
  counter += 1;
  return `${prefix}_test_${process.pid}_${counter}`;
}

function headersRecord(headers: IncomingHttpHeaders): Record<string, string | string[] | undefined> {
  return { ...headers };
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function eventsFor(reference: string): PspObjectEvent[] {
  return deliveries.flatMap((d) => (d.event !== null && d.answered === 200 && d.event.reference === reference ? [d.event] : []));
}

function waitForEvent(reference: string): Promise<PspObjectEvent> {
  return waitFor(`a webhook for ${reference}`, () => eventsFor(reference)[0]);
}

async function simState(): Promise<PspSimulatorState> {
  const res = await fetch(`${simulator.url}/sim/state`);
  assert.equal(res.status, 200);
  return (await res.json()) as PspSimulatorState;
}

before(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const delivery: Delivery = { eventId: null, answered: 200, event: null, error: null };
      try {
        const event = gateway.verifyWebhook(Buffer.concat(chunks), headersRecord(req.headers), Date.now()) as PspObjectEvent;
        delivery.event = event;
        delivery.eventId = event.eventId;
        if (failFirstDeliveryFor.has(event.reference ?? "") && !failedOnce.has(event.reference ?? "")) {
          failedOnce.add(event.reference ?? "");
          delivery.answered = 500;
        }
      } catch (err) {
        delivery.error = err instanceof Error ? err.message : String(err);
        delivery.answered = 400;
      }
      deliveries.push(delivery);
      res.writeHead(delivery.answered, { 'Content-Type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const { port } = receiver.address() as AddressInfo;
  simulator = await startPspSimulator({
    port: 0,
    webhookUrl: `http://127.0.0.1:${port}/v1/webhooks/psp`,
    webhookSecret: SECRET,
    settleMs: 20,
  });
  gateway = createSimulatorGateway({ baseUrl: simulator.url, webhookSecret: SECRET, timeoutMs: 2000 });
});

after(async () => {
  await simulator?.close();
  receiver?.closeAllConnections();
  await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
});

test('a pm_card_visa charge settles and a verified charge.succeeded webhook arrives', async () => {
  const reference = uniqueRef('ch');
  const created = await gateway.createCharge({ reference, amount: 5000, currency: 'usd', paymentMethod: 'pm_card_visa' });
  assert.match(created.pspReference, /^simch_[0-9a-f]+$/);
  assert.equal(created.status, 'pending');
  assert.equal(created.failureCode, null);

  const event = await waitForEvent(reference);
  assert.equal(event.type, 'charge.succeeded');
  assert.equal(event.objectType, 'charge');
  assert.match(event.eventId, /^simevt_[0-9a-f]+$/);
  assert.deepEqual(event.outcome, {
    pspReference: created.pspReference,
    status: 'succeeded',
    failureCode: null,
    failureMessage: null,
    amount: 5000,
    currency: 'usd',
  });
  assert.deepEqual(await gateway.getCharge({ reference, pspReference: null }), event.outcome);
  assert.deepEqual(await gateway.getCharge({ reference: 'ch_unknown_to_the_psp', pspReference: created.pspReference }), event.outcome, 'by the PSP id when FinCore has it');
});

test('a declined card gives charge.failed with card_declined', async () => {
  const reference = uniqueRef('ch');
  const created = await gateway.createCharge({
    reference,
    amount: 1200,
    currency: 'eur',
    paymentMethod: 'pm_card_chargeDeclined',
  });
  assert.equal(created.status, 'pending');
  const event = await waitForEvent(reference);
  assert.equal(event.type, 'charge.failed');
  assert.equal(event.outcome.status, 'failed');
  assert.equal(event.outcome.failureCode, 'card_declined');
  assert.equal(event.outcome.failureMessage, 'Your card was declined.');

  // A failed charge is not refundable.
  await assert.rejects(
    gateway.createRefund({ reference: uniqueRef('re'), chargeReference: reference, chargePspReference: null, amount: 100, currency: 'eur' }),
    (err: unknown) => err instanceof PspPermanentError && err.code === 'charge_not_refundable',
  );
});

test('a refund of a pm_card_refundFail charge gives refund.failed', async () => {
  const chargeRef = uniqueRef('ch');
  await gateway.createCharge({ reference: chargeRef, amount: 3000, currency: 'usd', paymentMethod: 'pm_card_refundFail' });
  assert.equal((await waitForEvent(chargeRef)).type, 'charge.succeeded');

  const refundRef = uniqueRef('re');
  // chargePspReference null: the adapter sends charge_reference instead.
  const created = await gateway.createRefund({
    reference: refundRef,
    chargeReference: chargeRef,
    chargePspReference: null,
    amount: 1000,
    currency: 'usd',
  });
  assert.match(created.pspReference, /^simre_[0-9a-f]+$/);
  assert.equal(created.status, 'pending');

  const event = await waitForEvent(refundRef);
  assert.equal(event.type, 'refund.failed');
  assert.equal(event.objectType, 'refund');
  assert.equal(event.outcome.pspReference, created.pspReference);
  assert.equal(event.outcome.status, 'failed');
  assert.equal(event.outcome.failureCode, null);
  assert.equal(event.outcome.failureMessage, 'Refund declined by the card issuer.');
  assert.deepEqual(await gateway.getRefund({ reference: refundRef, pspReference: null }), event.outcome);
});

test('a refund of a visa charge succeeds; over-refunding is amount_too_large', async () => {
  const chargeRef = uniqueRef('ch');
  const charge = await gateway.createCharge({ reference: chargeRef, amount: 2000, currency: 'usd', paymentMethod: 'pm_card_visa' });
  await waitForEvent(chargeRef);

  const refundRef = uniqueRef('re');
  await gateway.createRefund({
    reference: refundRef,
    chargeReference: chargeRef,
    chargePspReference: charge.pspReference,
    amount: 1500,
    currency: 'usd',
  });
  const event = await waitForEvent(refundRef);
  assert.equal(event.type, 'refund.succeeded');
  assert.equal(event.outcome.failureMessage, null);

  await assert.rejects(
    gateway.createRefund({
      reference: uniqueRef('re'),
      chargeReference: chargeRef,
      chargePspReference: charge.pspReference,
      amount: 501,
      currency: 'usd',
    }),
    (err: unknown) => err instanceof PspPermanentError && err.code === 'amount_too_large',
  );
  const state = await simState();
  assert.equal(state.charges.find((c) => c.reference === chargeRef)?.amount_refunded, 1500);
});

test('repeating createCharge with the same reference returns the same pspReference and makes one charge', async () => {
  const reference = uniqueRef('ch');
  const request = { reference, amount: 700, currency: 'usd', paymentMethod: 'pm_card_mastercard' };
  const first = await gateway.createCharge(request);
  const second = await gateway.createCharge(request);
  assert.equal(second.pspReference, first.pspReference);
  await waitForEvent(reference);
  const third = await gateway.createCharge(request);
  assert.equal(third.pspReference, first.pspReference);

  const state = await simState();
  assert.equal(state.charges.filter((c) => c.reference === reference).length, 1);
  // Let any stray second settlement show itself before counting webhooks.
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal(eventsFor(reference).length, 1);
});

test('getCharge / getRefund of an unknown reference return null', async () => {
  assert.equal(await gateway.getCharge({ reference: 'ch_never_seen', pspReference: null }), null);
  assert.equal(await gateway.getRefund({ reference: 're_never_seen', pspReference: null }), null);
});

test('an unknown payment method is a permanent error; the adapter knows the six methods', async () => {
  await assert.rejects(
    gateway.createCharge({ reference: uniqueRef('ch'), amount: 100, currency: 'usd', paymentMethod: 'pm_card_amex' }),
    (err: unknown) => err instanceof PspPermanentError && err.code === 'invalid_payment_method',
  );
  for (const pm of ['pm_card_visa', 'pm_card_mastercard', 'pm_card_chargeDeclined', 'pm_card_refundFail', 'pm_card_refundFailsLater', 'pm_card_refundReversed']) {
    assert.equal(gateway.supportsPaymentMethod(pm), true, pm);
  }
  assert.equal(gateway.supportsPaymentMethod('pm_card_amex'), false);
});

test('webhook delivery is retried when the receiver answers 500 the first time', async () => {
  const reference = uniqueRef('ch');
  failFirstDeliveryFor.add(reference);
  await gateway.createCharge({ reference, amount: 900, currency: 'usd', paymentMethod: 'pm_card_visa' });
  const event = await waitForEvent(reference);
  const attempts = deliveries.filter((d) => d.event?.reference === reference);
  assert.equal(attempts.length, 2);
  assert.equal(attempts[0]?.answered, 500);
  assert.equal(attempts[1]?.answered, 200);
  assert.equal(attempts[0]?.eventId, event.eventId, 'the retry carries the same event id');
  const { webhooks } = await simState();
  assert.ok(webhooks.attempts > webhooks.sent, 'the simulator counted the retry');
});

test('the simulator answers bad input with 4xx and stays up', async () => {
  const post = (path: string, body: string, key?: string): Promise<Response> =>
    fetch(`${simulator.url}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(key === undefined ? {} : { 'Idempotency-Key': key }) },
      body,
    });
  assert.equal((await post('/v1/charges', '{"amount": 1', 'k1')).status, 400);
  assert.equal((await post('/v1/charges', '{"amount":100,"currency":"usd","payment_method":"pm_card_visa","reference":"x"}')).status, 400);
  assert.equal((await post('/v1/charges', '[1,2]', 'k2')).status, 400);
  assert.equal((await post('/v1/charges', '{"amount":1.5,"currency":"usd","payment_method":"pm_card_visa","reference":"x"}', 'k3')).status, 400);
  assert.equal((await post('/v1/refunds', '{"charge":"simch_nope","amount":1,"reference":"r"}', 'k4')).status, 400);
  assert.equal((await fetch(`${simulator.url}/nope`)).status, 404);
  const missing = await fetch(`${simulator.url}/v1/charges?reference=ch_none`);
  assert.equal(missing.status, 404);
  assert.deepEqual(((await missing.json()) as { error: { code: string } }).error.code, 'resource_missing');
  assert.equal((await fetch(`${simulator.url}/sim/state`)).status, 200);
  // No webhook failed verification at the receiver.
  assert.deepEqual(deliveries.filter((d) => d.error !== null), []);
});

test('an unreachable PSP is a transient error', async () => {
  const down = createSimulatorGateway({ baseUrl: 'http://127.0.0.1:9', webhookSecret: SECRET, timeoutMs: 500 });
  await assert.rejects(
    down.createCharge({ reference: uniqueRef('ch'), amount: 100, currency: 'usd', paymentMethod: 'pm_card_visa' }),
    (err: unknown) => err instanceof PspTransientError,
  );
});

// ---- the PSP's truth cases (issue 16) ----------------------------------------------------------

async function control(path: string, body: Record<string, unknown> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${simulator.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function succeededCharge(paymentMethod = 'pm_card_visa', amount = 5000): Promise<{ reference: string; pspReference: string }> {
  const reference = uniqueRef('ch');
  const created = await gateway.createCharge({ reference, amount, currency: 'usd', paymentMethod });
  assert.equal((await waitForEvent(reference)).outcome.status, 'succeeded');
  return { reference, pspReference: created.pspReference };
}

/** Every verified event, of any object (disputes included), in arrival order. */
function allEvents(): PspWebhookEvent[] {
  return deliveries.flatMap((d) => (d.event !== null && d.answered === 200 ? [d.event as unknown as PspWebhookEvent] : []));
}

for (const [paymentMethod, reason] of [
  ['pm_card_refundFailsLater', /after it succeeded/],
  ['pm_card_refundReversed', /REFUNDED_REVERSED/],
] as const) {
  test(`${paymentMethod}: the refund succeeds, then fails late_failure_ms later (refund.failed, previous_status succeeded)`, async () => {
    assert.equal((await control('/sim/settings', { late_failure_ms: 150 })).body['late_failure_ms'], 150);
    const charge = await succeededCharge(paymentMethod);
    const refundRef = uniqueRef('re');
    await gateway.createRefund({ reference: refundRef, chargeReference: charge.reference, chargePspReference: charge.pspReference, amount: 1200, currency: 'usd' });
    const first = await waitForEvent(refundRef);
    assert.equal(first.type, 'refund.succeeded');
    const late = await waitFor('the late failure', () => eventsFor(refundRef).find((e) => e.type === 'refund.failed'));
    assert.equal(late.outcome.status, 'failed');
    assert.match(late.outcome.failureMessage ?? '', reason);
    assert.equal(late.outcome.amount, 1200);
    assert.equal((late.payload as { data: { previous_status?: string } }).data.previous_status, 'succeeded');
    assert.equal(late.objectType === 'refund' && late.chargePspReference, charge.pspReference);
    assert.equal((await gateway.getRefund({ reference: refundRef, pspReference: null }))?.status, 'failed');
    // The amount is refundable again at the PSP.
    const state = await simState();
    assert.equal(state.charges.find((c) => c.reference === charge.reference)?.amount_refunded, 0);
    assert.equal((await gateway.createRefund({ reference: uniqueRef('re'), chargeReference: charge.reference, chargePspReference: null, amount: 5000, currency: 'usd' })).status, 'pending');
  });
}

test('POST /sim/refunds/{id}/fail fails a succeeded refund now (by PSP id or reference; reversed: true for a reversal); a pending one is refused', async () => {
  const charge = await succeededCharge();
  const refundRef = uniqueRef('re');
  const refund = await gateway.createRefund({ reference: refundRef, chargeReference: charge.reference, chargePspReference: null, amount: 500, currency: 'usd' });
  assert.equal((await waitForEvent(refundRef)).type, 'refund.succeeded');
  const failed = await control(`/sim/refunds/${refundRef}/fail`, { reversed: true });
  assert.equal(failed.status, 200);
  assert.equal(failed.body['id'], refund.pspReference);
  assert.equal(failed.body['status'], 'failed');
  assert.match(String(failed.body['failure_reason']), /REFUNDED_REVERSED/);
  await waitFor('refund.failed', () => eventsFor(refundRef).find((e) => e.type === 'refund.failed'));
  assert.equal((await control(`/sim/refunds/${refund.pspReference}/fail`)).body['error'] !== undefined, true, 'already failed: refused');
  assert.equal((await control('/sim/refunds/simre_nope/fail')).status, 404);
});

test('POST /sim/next-refund {amount, currency}: the next refund reports them in its answer, lookups and webhooks; then it is used up', async () => {
  const charge = await succeededCharge();
  assert.deepEqual((await control('/sim/next-refund', { amount: 99_999, currency: 'EUR' })).body, { next: { amount: 99_999, currency: 'eur' } });
  const refundRef = uniqueRef('re');
  const created = await gateway.createRefund({ reference: refundRef, chargeReference: charge.reference, chargePspReference: null, amount: 200, currency: 'usd' });
  assert.equal(created.amount, 99_999);
  assert.equal(created.currency, 'eur');
  const event = await waitForEvent(refundRef);
  assert.equal(event.outcome.amount, 99_999);
  assert.equal(event.outcome.currency, 'eur');
  const next = await fetch(`${simulator.url}/sim/next-refund`);
  assert.deepEqual(await next.json(), { next: null });
  // The PSP's books follow what it reports: that refund took more than the charge had.
  await assert.rejects(gateway.createRefund({ reference: uniqueRef('re'), chargeReference: charge.reference, chargePspReference: null, amount: 200, currency: 'usd' }), (err: unknown) => err instanceof PspPermanentError && err.code === 'amount_too_large');
  const other = await succeededCharge();
  const plain = await gateway.createRefund({ reference: uniqueRef('re'), chargeReference: other.reference, chargePspReference: null, amount: 200, currency: 'usd' });
  assert.equal(plain.amount, 200, 'used up: the next refund reports what it was asked');
  assert.equal((await control('/sim/next-charge', { amount: 'lots' })).status, 400);
  assert.equal((await control('/sim/next-charge', {})).status, 400);
});

test('POST /sim/next-charge {amount, currency}: the next charge reports them', async () => {
  await control('/sim/next-charge', { amount: 4242, currency: 'gbp' });
  const reference = uniqueRef('ch');
  const created = await gateway.createCharge({ reference, amount: 5000, currency: 'usd', paymentMethod: 'pm_card_visa' });
  assert.deepEqual([created.amount, created.currency], [4242, 'gbp']);
  const event = await waitForEvent(reference);
  assert.deepEqual([event.outcome.amount, event.outcome.currency], [4242, 'gbp']);
});

test('POST /sim/next-charge {early_webhook: true}: the webhook arrives before the create call answers', async () => {
  await control('/sim/settings', { early_webhook_hold_ms: 250 });
  await control('/sim/next-charge', { early_webhook: true });
  const reference = uniqueRef('ch');
  const answered = gateway.createCharge({ reference, amount: 5000, currency: 'usd', paymentMethod: 'pm_card_visa' });
  const event = await waitForEvent(reference);
  let answeredYet = false;
  void answered.then(() => (answeredYet = true));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(answeredYet, false, 'the webhook came first');
  assert.equal(event.outcome.status, 'succeeded');
  const created = await answered;
  assert.equal(created.pspReference, event.outcome.pspReference);
  assert.equal(created.status, 'succeeded');

  await control('/sim/next-refund', { early_webhook: true });
  const refundRef = uniqueRef('re');
  const refundAnswer = gateway.createRefund({ reference: refundRef, chargeReference: reference, chargePspReference: null, amount: 100, currency: 'usd' });
  const refundEvent = await waitForEvent(refundRef);
  assert.equal(refundEvent.type, 'refund.succeeded');
  assert.equal((await refundAnswer).pspReference, refundEvent.outcome.pspReference);
});

test('POST /sim/charges/{id}/refunds: a refund made at the PSP, without reference, announced (refund.created) and settled', async () => {
  const charge = await succeededCharge('pm_card_visa', 3000);
  const made = await control(`/sim/charges/${charge.pspReference}/refunds`, { amount: 1000 });
  assert.equal(made.status, 200, JSON.stringify(made.body));
  assert.equal(made.body['reference'], null);
  assert.equal(made.body['charge_reference'], charge.reference);
  const id = String(made.body['id']);
  const events = await waitFor('refund.created then refund.succeeded', () => {
    const mine = allEvents().filter((e) => e.objectType === 'refund' && e.outcome.pspReference === id);
    return mine.length >= 2 ? mine : undefined;
  });
  assert.deepEqual(events.map((e) => e.type), ['refund.created', 'refund.succeeded']);
  for (const e of events) {
    assert.ok(e.objectType === 'refund');
    assert.equal(e.reference, null);
    assert.equal(e.chargeReference, charge.reference);
    assert.equal(e.chargePspReference, charge.pspReference);
    assert.equal(e.outcome.amount, 1000);
  }
  // By the merchant's charge reference too, and the rest by default; nothing left then.
  const rest = await control(`/sim/charges/${charge.reference}/refunds`);
  assert.equal(rest.body['amount'], 2000);
  assert.equal((await control(`/sim/charges/${charge.reference}/refunds`, { amount: 1 })).status, 400);
  assert.equal((await control(`/sim/charges/${charge.reference}/refunds`)).body['error'] !== undefined, true, 'nothing left: no zero refund');
  assert.equal((await control('/sim/charges/simch_nope/refunds')).status, 404);
  // The PSP's id finds it for reconciliation (no reference to look up by).
  assert.equal((await gateway.getRefund({ reference: 're_fincore_never_knew', pspReference: id }))?.status, 'succeeded');
});

test('POST /sim/charges/{id}/disputes and /sim/disputes/{id}/close: dispute.created (open), dispute.closed (won or lost)', async () => {
  for (const outcome of ['won', 'lost'] as const) {
    const charge = await succeededCharge();
    const opened = await control(`/sim/charges/${charge.reference}/disputes`, { amount: 4000, reason: 'product_not_received' });
    assert.equal(opened.status, 200, JSON.stringify(opened.body));
    const id = String(opened.body['id']);
    assert.match(id, /^simdp_/);
    const created = await waitFor('dispute.created', () => allEvents().find((e) => e.objectType === 'dispute' && e.pspReference === id));
    assert.ok(created.objectType === 'dispute');
    assert.equal(created.type, 'dispute.created');
    assert.deepEqual([created.status, created.amount, created.currency, created.reason, created.chargeReference, created.chargePspReference], ['open', 4000, 'usd', 'product_not_received', charge.reference, charge.pspReference]);
    assert.equal((await control(`/sim/disputes/${id}/close`, { status: outcome })).body['status'], outcome);
    const closed = await waitFor('dispute.closed', () => allEvents().find((e) => e.objectType === 'dispute' && e.pspReference === id && e.type === 'dispute.closed'));
    assert.ok(closed.objectType === 'dispute');
    assert.equal(closed.status, outcome);
    assert.equal((await control(`/sim/disputes/${id}/close`, { status: 'won' })).status, 400, 'closed once');
    assert.ok((await simState()).disputes.some((d) => d.id === id && d.status === outcome));
  }
  assert.equal((await control('/sim/disputes/simdp_nope/close', { status: 'won' })).status, 404);
});
