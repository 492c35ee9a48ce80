import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { IgnoredWebhookEvent, MalformedWebhookEvent, WebhookVerificationError, type PspObjectEvent } from '../../../src/psp/gateway.ts';
import { createSimulatorGateway } from '../../../src/psp/simulator/adapter.ts';

const SECRET = 'whsec_unit_test_secret';
const NOW_MS = 1_800_000_000_000;
const NOW_S = NOW_MS / 1000;

const gateway = createSimulatorGateway({ baseUrl: 'http://127.0.0.1:9', webhookSecret: SECRET });

function sign(body: string | Buffer, t: number, secret: string = SECRET): string {
  return createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex');
}

function chargeEvent(): string {
  return JSON.stringify({
    id: 'simevt_0123456789abcdef',
    type: 'charge.failed',
    created: NOW_S,
    data: {
      object: {
        id: 'simch_abcdef',
        object: 'charge',
        reference: 'ch_test_1',
        amount: 5000,
        currency: 'usd',
        payment_method: 'pm_card_chargeDeclined',
        status: 'failed',
        failure_code: 'card_declined',
        failure_message: 'Your card was declined.',
        amount_refunded: 0,
      },
    },
  });
}

function refundEvent(fields: Record<string, unknown> = {}, type = 'refund.failed', extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    id: 'simevt_fedcba',
    type,
    created: NOW_S,
    data: {
      object: {
        id: 'simre_123',
        object: 'refund',
        reference: 're_test_1',
        charge: 'simch_abcdef',
        amount: 100,
        currency: 'usd',
        status: 'failed',
        failure_reason: 'Refund declined by the card issuer.',
        ...fields,
      },
      ...extra,
    },
  });
}

function disputeEvent(type: string, status: string): string {
  return JSON.stringify({
    id: `simevt_${type.replace('.', '_')}`,
    type,
    created: NOW_S,
    data: {
      object: { id: 'simdp_9', object: 'dispute', charge: 'simch_abcdef', charge_reference: 'ch_test_1', amount: 5000, currency: 'usd', status, reason: 'fraudulent' },
    },
  });
}

function headerFor(body: string | Buffer, t: number = NOW_S, secret: string = SECRET): Record<string, string> {
  return { 'fincore-psp-signature': `t=${t},v1=${sign(body, t, secret)}`, 'content-type': 'application/json' };
}

function assertRejected(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof WebhookVerificationError, `expected WebhookVerificationError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

test('accepts a correctly signed charge event and maps it', () => {
  const body = chargeEvent();
  const event = gateway.verifyWebhook(Buffer.from(body), headerFor(body), NOW_MS);
  assert.equal(event.eventId, 'simevt_0123456789abcdef');
  assert.equal(event.type, 'charge.failed');
  assert.equal(event.objectType, 'charge');
  assert.equal(event.reference, 'ch_test_1');
  assert.deepEqual(event.outcome, {
    pspReference: 'simch_abcdef',
    status: 'failed',
    failureCode: 'card_declined',
    failureMessage: 'Your card was declined.',
    amount: 5000,
    currency: 'usd',
  });
  assert.deepEqual(event.payload, JSON.parse(body));
});

test('maps a refund event: failureCode null, failureMessage = failure_reason', () => {
  const body = refundEvent();
  const event = gateway.verifyWebhook(Buffer.from(body), headerFor(body), NOW_MS);
  assert.equal(event.objectType, 'refund');
  assert.equal(event.reference, 're_test_1');
  assert.deepEqual(event.outcome, {
    pspReference: 'simre_123',
    status: 'failed',
    failureCode: null,
    failureMessage: 'Refund declined by the card issuer.',
    amount: 100,
    currency: 'usd',
  });
  assert.equal(event.objectType === 'refund' && event.chargePspReference, 'simch_abcdef');
});

test('accepts timestamps at exactly ±300 s', () => {
  const body = chargeEvent();
  for (const t of [NOW_S - 300, NOW_S + 300]) {
    assert.equal((gateway.verifyWebhook(Buffer.from(body), headerFor(body, t), NOW_MS) as PspObjectEvent).reference, 'ch_test_1');
  }
});

test('accepts when any one of several v1 signatures matches', () => {
  const body = chargeEvent();
  const header = `t=${NOW_S},v1=${sign(body, NOW_S, 'old_secret')},v1=${sign(body, NOW_S)}`;
  const event = gateway.verifyWebhook(Buffer.from(body), { 'fincore-psp-signature': header }, NOW_MS);
  assert.equal(event.eventId, 'simevt_0123456789abcdef');
});

test('rejects a body with one byte changed', () => {
  const body = chargeEvent();
  const headers = headerFor(body);
  const tampered = Buffer.from(body);
  const index = body.indexOf('5000');
  tampered[index] = '9'.charCodeAt(0); // amount 5000 -> 9000
  assert.notDeepEqual(tampered, Buffer.from(body));
  assertRejected(() => gateway.verifyWebhook(tampered, headers, NOW_MS), /no v1 signature matches/);
});

test('rejects a signature made with a different secret', () => {
  const body = chargeEvent();
  assertRejected(
    () => gateway.verifyWebhook(Buffer.from(body), headerFor(body, NOW_S, 'whsec_wrong'), NOW_MS),
    /no v1 signature matches/,
  );
});

test('rejects a stale timestamp (-301 s)', () => {
  const body = chargeEvent();
  assertRejected(
    () => gateway.verifyWebhook(Buffer.from(body), headerFor(body, NOW_S - 301), NOW_MS),
    /outside the ±300 s tolerance/,
  );
});

test('rejects a future timestamp (+301 s)', () => {
  const body = chargeEvent();
  assertRejected(
    () => gateway.verifyWebhook(Buffer.from(body), headerFor(body, NOW_S + 301), NOW_MS),
    /outside the ±300 s tolerance/,
  );
});

test('rejects a missing signature header', () => {
  const body = chargeEvent();
  assertRejected(
    () => gateway.verifyWebhook(Buffer.from(body), { 'content-type': 'application/json' }, NOW_MS),
    /missing fincore-psp-signature header/,
  );
});

test('rejects malformed headers: no t, no v1, garbage', () => {
  const body = Buffer.from(chargeEvent());
  const v1 = sign(body, NOW_S);
  assertRejected(() => gateway.verifyWebhook(body, { 'fincore-psp-signature': `v1=${v1}` }, NOW_MS), /no timestamp/);
  assertRejected(() => gateway.verifyWebhook(body, { 'fincore-psp-signature': `t=${NOW_S}` }, NOW_MS), /no v1/);
  assertRejected(() => gateway.verifyWebhook(body, { 'fincore-psp-signature': 'garbage' }, NOW_MS), /malformed/);
  assertRejected(
    () => gateway.verifyWebhook(body, { 'fincore-psp-signature': `t=${NOW_S},v1=zz${v1.slice(2)}` }, NOW_MS),
    /no v1 signature matches/,
  );
});

test('malformed JSON with a valid signature is the content\'s problem, not the signature\'s: MalformedWebhookEvent', () => {
  const body = '{"id": "simevt_1", "type": ';
  assert.throws(() => gateway.verifyWebhook(Buffer.from(body), headerFor(body), NOW_MS), (err: unknown) => err instanceof MalformedWebhookEvent && /not valid JSON/.test(err.reason));
});

test('a validly signed event of the wrong shape is MalformedWebhookEvent; of another type, IgnoredWebhookEvent', () => {
  const shapeless = JSON.stringify({ id: 'simevt_3', type: 'charge.succeeded', created: NOW_S, data: {} });
  assert.throws(() => gateway.verifyWebhook(Buffer.from(shapeless), headerFor(shapeless), NOW_MS), (err: unknown) => err instanceof MalformedWebhookEvent && /no data.object/.test(err.reason));
  const payout = JSON.stringify({ id: 'simevt_2', type: 'payout.paid', created: NOW_S, data: { object: {} } });
  assert.throws(() => gateway.verifyWebhook(Buffer.from(payout), headerFor(payout), NOW_MS), (err: unknown) => err instanceof IgnoredWebhookEvent && err.eventId === 'simevt_2');
});

test('issue 16: every charge and refund report carries the amount and currency the PSP reports (the domain compares them)', () => {
  const body = refundEvent({ amount: 99_999, currency: 'EUR', status: 'succeeded', failure_reason: null }, 'refund.succeeded');
  const event = gateway.verifyWebhook(Buffer.from(body), headerFor(body), NOW_MS) as PspObjectEvent;
  assert.equal(event.outcome.amount, 99_999);
  assert.equal(event.outcome.currency, 'eur', 'lower-cased like FinCore stores currencies');
});

test('issue 16: a refund that failed after it succeeded is an ordinary failed report (previous_status kept in the payload)', () => {
  const body = refundEvent({ failure_reason: 'The refund was reversed (REFUNDED_REVERSED).' }, 'refund.failed', { previous_status: 'succeeded' });
  const event = gateway.verifyWebhook(Buffer.from(body), headerFor(body), NOW_MS) as PspObjectEvent;
  assert.equal(event.reference, 're_test_1');
  assert.equal(event.outcome.status, 'failed');
  assert.match(event.outcome.failureMessage ?? '', /REFUNDED_REVERSED/);
});

test('issue 16: a refund made at the PSP (reference null) is mapped with its charge, never ignored', () => {
  const body = refundEvent({ reference: null, charge_reference: 'ch_test_1', status: 'pending', failure_reason: null }, 'refund.created');
  const event = gateway.verifyWebhook(Buffer.from(body), headerFor(body), NOW_MS);
  assert.equal(event.objectType, 'refund');
  if (event.objectType !== 'refund') return;
  assert.equal(event.reference, null);
  assert.equal(event.chargeReference, 'ch_test_1');
  assert.equal(event.chargePspReference, 'simch_abcdef');
  assert.deepEqual(event.outcome, { pspReference: 'simre_123', status: 'pending', failureCode: null, failureMessage: null, amount: 100, currency: 'usd' });
  // A reference that is neither a string nor null is the content's problem.
  const broken = refundEvent({ reference: 42 });
  assert.throws(() => gateway.verifyWebhook(Buffer.from(broken), headerFor(broken), NOW_MS), (err: unknown) => err instanceof MalformedWebhookEvent && /reference/.test(err.reason));
});

test('issue 16: dispute.created / dispute.closed map to dispute reports (open, won, lost)', () => {
  for (const [type, status] of [['dispute.created', 'open'], ['dispute.closed', 'won'], ['dispute.closed', 'lost']] as const) {
    const body = disputeEvent(type, status);
    const event = gateway.verifyWebhook(Buffer.from(body), headerFor(body), NOW_MS);
    assert.equal(event.objectType, 'dispute');
    if (event.objectType !== 'dispute') return;
    const { eventId: _id, payload: _payload, secretFingerprint: _fp, ...report } = event;
    assert.deepEqual(report, {
      type,
      objectType: 'dispute',
      pspReference: 'simdp_9',
      chargeReference: 'ch_test_1',
      chargePspReference: 'simch_abcdef',
      amount: 5000,
      currency: 'usd',
      status,
      pspStatus: status,
      reason: 'fraudulent',
    });
  }
  const odd = disputeEvent('dispute.closed', 'exploded');
  assert.throws(() => gateway.verifyWebhook(Buffer.from(odd), headerFor(odd), NOW_MS), (err: unknown) => err instanceof MalformedWebhookEvent && /dispute status/.test(err.reason));
});
