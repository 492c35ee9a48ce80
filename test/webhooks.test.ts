/**
 * POST /v1/webhooks/psp with hand-signed events. The simulator is told never to settle on its
 * own (FINCORE_SIM_SETTLE_MS=600000) and no worker runs (a REFUND job would ask the simulator,
 * which refuses refunds of a charge it still holds pending, and fail the refund), so every status
 * change here comes from an event this test posted: signatures and timestamps are checked first,
 * duplicates and out-of-order deliveries are harmless, and terminal states never change.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { computeSignature } from '../src/psp/simulator/webhook.ts';
import { call, createMerchant, startTestFinCore, type ChargeBody, type RefundBody, type TestFinCore, type ErrorBody } from './helpers.ts';

const SECRET = 'whsec_fincore_simulator_dev_only';

interface ChargeObjectSent {
  id: string;
  object: 'charge';
  reference: string;
  amount: number;
  currency: string;
  payment_method: string;
  status: 'pending' | 'succeeded' | 'failed';
  failure_code: string | null;
  failure_message: string | null;
  amount_refunded: number;
}

interface RefundObjectSent {
  id: string;
  object: 'refund';
  reference: string;
  charge: string;
  amount: number;
  currency: string;
  status: 'pending' | 'succeeded' | 'failed';
  failure_reason: string | null;
}

interface PspEvent {
  id: string;
  type: string;
  created: number;
  data: { object: ChargeObjectSent | RefundObjectSent };
}

const nowSec = (): number => Math.floor(Date.now() / 1000);
const rand = (): string => randomBytes(8).toString('hex');

function chargeEvent(chargeId: string, status: 'succeeded' | 'failed', amount = 5000, eventId = `simevt_${rand()}`): PspEvent {
  return {
    id: eventId,
    type: `charge.${status}`,
    created: nowSec(),
    data: {
      object: {
        id: `simch_${rand()}`,
        object: 'charge',
        reference: chargeId,
        amount,
        currency: 'usd',
        payment_method: 'pm_card_visa',
        status,
        failure_code: status === 'failed' ? 'card_declined' : null,
        failure_message: status === 'failed' ? 'Your card was declined.' : null,
        amount_refunded: 0,
      },
    },
  };
}

function refundEvent(refundId: string, status: 'succeeded' | 'failed', amount: number, eventId = `simevt_${rand()}`): PspEvent {
  return {
    id: eventId,
    type: `refund.${status}`,
    created: nowSec(),
    data: {
      object: {
        id: `simre_${rand()}`,
        object: 'refund',
        reference: refundId,
        charge: `simch_${rand()}`,
        amount,
        currency: 'usd',
        status,
        failure_reason: status === 'failed' ? 'Refund declined by the card issuer.' : null,
      },
    },
  };
}

function signatureHeader(rawBody: string, timestampSec = nowSec(), secret = SECRET): string {
  return `t=${timestampSec},v1=${computeSignature(secret, timestampSec, Buffer.from(rawBody))}`;
}

describe('PSP webhooks', () => {
  let fincore: TestFinCore;
  let apiKey: string;

  before(async () => {
    fincore = await startTestFinCore({ FINCORE_SIM_SETTLE_MS: '600000' }, { api: true, worker: false, simulator: true });
    apiKey = (await createMerchant(fincore.url, 'Webhook Shop')).apiKey;
  });
  after(() => fincore.stop());

  function post<T = Record<string, unknown>>(rawBody: string, signature: string | undefined) {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (signature !== undefined) headers['fincore-psp-signature'] = signature;
    return call<T>(fincore.url, 'POST', '/v1/webhooks/psp', { rawBody, headers });
  }

  function postSigned(event: PspEvent) {
    const raw = JSON.stringify(event);
    return post<{ received: boolean; duplicate: boolean }>(raw, signatureHeader(raw));
  }

  /** A pending charge (its CHARGE job stays queued: no worker runs). */
  async function pendingCharge(amount = 5000): Promise<ChargeBody> {
    const created = await call<ChargeBody>(fincore.url, 'POST', '/v1/charges', { key: apiKey, body: { amount, currency: 'usd', payment_method: 'pm_card_visa' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return getCharge(created.body.id);
  }

  async function getCharge(id: string): Promise<ChargeBody> {
    const answer = await call<ChargeBody>(fincore.url, 'GET', `/v1/charges/${id}`, { key: apiKey });
    assert.equal(answer.status, 200);
    return answer.body;
  }

  async function getRefund(id: string): Promise<RefundBody> {
    const answer = await call<RefundBody>(fincore.url, 'GET', `/v1/refunds/${id}`, { key: apiKey });
    assert.equal(answer.status, 200);
    return answer.body;
  }

  async function eventTypes(objectId: string): Promise<string[]> {
    const { rows } = await fincore.db.pool.query<{ type: string }>('SELECT type FROM events WHERE object_id = $1 ORDER BY id', [objectId]);
    return rows.map((r) => r.type).sort();
  }

  async function pspEventCount(objectId: string): Promise<number> {
    const { rows } = await fincore.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM psp_events WHERE object_id = $1', [objectId]);
    return rows[0]?.n ?? -1;
  }

  function assertRejected(answer: { status: number; body: ErrorBody }): void {
    assert.equal(answer.status, 400, JSON.stringify(answer.body));
    assert.equal(answer.body.error.type, 'invalid_request_error');
    assert.equal(answer.body.error.code, 'parameter_invalid');
    assert.equal(typeof answer.body.error.message, 'string');
    assert.ok(answer.body.error.message.length > 0);
    assert.deepEqual(Object.keys(answer.body), ['error']);
  }

  describe('rejected deliveries change nothing', () => {
    let charge: ChargeBody;
    let raw: string;

    before(async () => {
      charge = await pendingCharge();
      assert.equal(charge.status, 'pending', 'the simulator does not settle on its own');
      raw = JSON.stringify(chargeEvent(charge.id, 'succeeded'));
    });

    it('a bad signature: 400 with the contract error shape', async () => {
      assertRejected(await post<ErrorBody>(raw, `t=${nowSec()},v1=${'ab'.repeat(32)}`));
      assertRejected(await post<ErrorBody>(raw, signatureHeader(raw, nowSec(), 'whsec_someone_else')));
      assertRejected(await post<ErrorBody>(raw, 'garbage'));
    });

    it('a body changed by one byte after signing: 400', async () => {
      const signature = signatureHeader(raw);
      const tampered = raw.replace('"amount":5000', '"amount":5001');
      assert.notEqual(tampered, raw);
      assert.equal(tampered.length, raw.length);
      assertRejected(await post<ErrorBody>(tampered, signature));
    });

    it('a stale (now - 301 s) or future (now + 301 s) timestamp: 400', async () => {
      assertRejected(await post<ErrorBody>(raw, signatureHeader(raw, nowSec() - 301)));
      assertRejected(await post<ErrorBody>(raw, signatureHeader(raw, nowSec() + 301)));
    });

    it('a missing signature header: 400', async () => {
      assertRejected(await post<ErrorBody>(raw, undefined));
      assertRejected(await post<ErrorBody>(raw, ''));
    });

    it('none of them was stored or acted on', async () => {
      assert.equal((await getCharge(charge.id)).status, 'pending');
      assert.equal(await pspEventCount(charge.id), 0);
      assert.deepEqual(await eventTypes(charge.id), ['charge.created']);
    });
  });

  it('a valid event settles a pending charge; the same event id again is acknowledged and changes nothing', async () => {
    const charge = await pendingCharge();
    assert.equal(charge.status, 'pending');
    const event = chargeEvent(charge.id, 'succeeded');

    const first = await postSigned(event);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.duplicate, false);
    const settled = await getCharge(charge.id);
    assert.equal(settled.status, 'succeeded');

    // The same delivery again, signed afresh (a retry), and a byte-identical replay.
    const again = await postSigned(event);
    assert.equal(again.status, 200);
    assert.equal(again.body.duplicate, true);
    // The same event id with a different outcome is still the same event: ignored.
    const sameIdOtherBody = await postSigned(chargeEvent(charge.id, 'failed', 5000, event.id));
    assert.equal(sameIdOtherBody.status, 200);
    assert.equal(sameIdOtherBody.body.duplicate, true);

    const final = await getCharge(charge.id);
    assert.equal(final.status, 'succeeded');
    assert.equal(final.updated_at, settled.updated_at);
    assert.equal(await pspEventCount(charge.id), 1);
    assert.deepEqual(await eventTypes(charge.id), ['charge.created', 'charge.succeeded']);
  });

  it('a charge.failed arriving after charge.succeeded (another event id) is acknowledged, and the charge stays succeeded', async () => {
    const charge = await pendingCharge();
    assert.equal((await postSigned(chargeEvent(charge.id, 'succeeded'))).status, 200);
    const late = await postSigned(chargeEvent(charge.id, 'failed'));
    assert.equal(late.status, 200);
    const final = await getCharge(charge.id);
    assert.equal(final.status, 'succeeded');
    assert.equal(final.failure_code, null);
    assert.equal(final['failure_message'], null);
    assert.equal(await pspEventCount(charge.id), 2, 'the late event is recorded');
    assert.deepEqual(await eventTypes(charge.id), ['charge.created', 'charge.succeeded']);
  });

  it('a failed charge stays failed when a late charge.succeeded arrives', async () => {
    const charge = await pendingCharge();
    assert.equal((await postSigned(chargeEvent(charge.id, 'failed'))).status, 200);
    const failed = await getCharge(charge.id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.failure_code, 'card_declined');
    assert.equal((await postSigned(chargeEvent(charge.id, 'succeeded'))).status, 200);
    assert.equal((await getCharge(charge.id)).status, 'failed');
    assert.deepEqual(await eventTypes(charge.id), ['charge.created', 'charge.failed']);
  });

  it('refund.succeeded then refund.failed: the refund stays succeeded and the charge counts it', async () => {
    const charge = await pendingCharge(6000);
    assert.equal((await postSigned(chargeEvent(charge.id, 'succeeded', 6000))).status, 200);
    const created = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body: { charge_id: charge.id, amount: 2500 } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const refundId = created.body.id;
    assert.equal((await getRefund(refundId)).status, 'pending');

    const succeeded = await postSigned(refundEvent(refundId, 'succeeded', 2500));
    assert.equal(succeeded.status, 200);
    assert.equal((await getRefund(refundId)).status, 'succeeded');

    const late = await postSigned(refundEvent(refundId, 'failed', 2500));
    assert.equal(late.status, 200);
    const final = await getRefund(refundId);
    assert.equal(final.status, 'succeeded');
    assert.equal(final.failure_reason, null);
    assert.equal((await getCharge(charge.id)).amount_refunded, 2500);
    assert.equal(await pspEventCount(refundId), 2);
    assert.deepEqual(await eventTypes(refundId), ['refund.created', 'refund.succeeded']);
  });

  it('a refund.failed frees its amount; a late refund.succeeded does not bring it back', async () => {
    const charge = await pendingCharge(3000);
    assert.equal((await postSigned(chargeEvent(charge.id, 'succeeded', 3000))).status, 200);
    const created = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body: { charge_id: charge.id } });
    assert.equal(created.status, 201);
    assert.equal((await postSigned(refundEvent(created.body.id, 'failed', 3000))).status, 200);
    assert.equal((await postSigned(refundEvent(created.body.id, 'succeeded', 3000))).status, 200);
    const refund = await getRefund(created.body.id);
    assert.equal(refund.status, 'failed');
    assert.ok((refund.failure_reason ?? '').length > 0);
    assert.equal((await getCharge(charge.id)).amount_refunded, 0);
    const again = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body: { charge_id: charge.id } });
    assert.equal(again.status, 201, 'the failed amount is refundable again');
    assert.equal(again.body.amount, 3000);
  });

  it('an event for an unknown reference is acknowledged and breaks nothing', async () => {
    const unknownCharge = await postSigned(chargeEvent('ch_does_not_exist', 'succeeded'));
    assert.ok(unknownCharge.status >= 200 && unknownCharge.status < 300, `status ${unknownCharge.status}`);
    const unknownRefund = await postSigned(refundEvent('re_does_not_exist', 'succeeded', 100));
    assert.ok(unknownRefund.status >= 200 && unknownRefund.status < 300, `status ${unknownRefund.status}`);
    assert.deepEqual(await eventTypes('ch_does_not_exist'), []);
    assert.deepEqual(await eventTypes('re_does_not_exist'), []);

    // Still healthy: the next real event works.
    assert.equal((await call(fincore.url, 'GET', '/readyz')).status, 200);
    const charge = await pendingCharge();
    assert.equal((await postSigned(chargeEvent(charge.id, 'succeeded'))).status, 200);
    assert.equal((await getCharge(charge.id)).status, 'succeeded');
  });

  it('needs no API key, and an API key does not replace the signature', async () => {
    const charge = await pendingCharge();
    const raw = JSON.stringify(chargeEvent(charge.id, 'succeeded'));
    const withKeyNoSignature = await call<ErrorBody>(fincore.url, 'POST', '/v1/webhooks/psp', { key: apiKey, rawBody: raw });
    assertRejected(withKeyNoSignature);
    assert.equal((await getCharge(charge.id)).status, 'pending');
  });
});
