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
import { sweepParkedEvents } from '../src/flows/parked-events.ts';
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
        // The PSP's id of an object never changes: one per FinCore id.
        id: `simch_${chargeId}`,
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
        id: `simre_${refundId}`,
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

  async function openReview(objectId: string): Promise<{ reason: string; status_before: string; psp_status: string; psp_event_id: string | null } | undefined> {
    const { rows } = await fincore.db.pool.query<{ reason: string; status_before: string; psp_status: string; psp_event_id: string | null }>(
      `SELECT reason, status_before, psp_status, psp_event_id FROM reviews WHERE object_id = $1 AND status = 'open'`,
      [objectId],
    );
    return rows[0];
  }

  it('a charge.failed after charge.succeeded (another event id) is a contradiction: the charge goes to review, its money stays counted', async () => {
    const charge = await pendingCharge();
    assert.equal((await postSigned(chargeEvent(charge.id, 'succeeded'))).status, 200);
    const late = chargeEvent(charge.id, 'failed');
    const answer = await postSigned(late);
    assert.equal(answer.status, 200);
    const final = await getCharge(charge.id);
    assert.equal(final.status, 'requires_review');
    assert.deepEqual(await openReview(charge.id), { reason: 'failed_after_succeeded', status_before: 'succeeded', psp_status: 'failed', psp_event_id: late.id });
    assert.equal(await pspEventCount(charge.id), 2, 'the late event is recorded');
    assert.deepEqual(await eventTypes(charge.id), ['charge.created', 'charge.requires_review', 'charge.succeeded']);
    // While in review the charge refuses refunds: an operator decides first.
    const refused = await call<ErrorBody>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body: { charge_id: charge.id } });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, 'charge_not_refundable');
  });

  it('a charge.succeeded after charge.failed goes to review (the PSP may have taken money FinCore says it did not)', async () => {
    const charge = await pendingCharge();
    assert.equal((await postSigned(chargeEvent(charge.id, 'failed'))).status, 200);
    const failed = await getCharge(charge.id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.failure_code, 'card_declined');
    assert.equal((await postSigned(chargeEvent(charge.id, 'succeeded'))).status, 200);
    assert.equal((await getCharge(charge.id)).status, 'requires_review');
    assert.equal((await openReview(charge.id))?.reason, 'succeeded_after_failed');
    assert.deepEqual(await eventTypes(charge.id), ['charge.created', 'charge.failed', 'charge.requires_review']);
  });

  it('refund.succeeded then refund.failed: a late failure, applied with its reversal; the amount is refundable again', async () => {
    const charge = await pendingCharge(6000);
    assert.equal((await postSigned(chargeEvent(charge.id, 'succeeded', 6000))).status, 200);
    const created = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body: { charge_id: charge.id, amount: 2500 } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const refundId = created.body.id;

    assert.equal((await postSigned(refundEvent(refundId, 'succeeded', 2500))).status, 200);
    assert.equal((await getRefund(refundId)).status, 'succeeded');
    assert.equal((await getCharge(charge.id)).amount_refunded, 2500);

    const late = await postSigned(refundEvent(refundId, 'failed', 2500));
    assert.equal(late.status, 200);
    const final = await getRefund(refundId);
    assert.equal(final.status, 'failed');
    assert.ok((final.failure_reason ?? '').length > 0);
    assert.equal((await getCharge(charge.id)).amount_refunded, 0, 'the customer did not get the money after all');
    assert.deepEqual(await eventTypes(refundId), ['refund.created', 'refund.failed', 'refund.succeeded']);
    const { rows } = await fincore.db.pool.query<{ data: { previous_attributes?: { status?: string } } }>(`SELECT data FROM events WHERE object_id = $1 AND type = 'refund.failed'`, [refundId]);
    assert.equal(rows[0]?.data.previous_attributes?.status, 'succeeded', 'the event says it failed after success');
    const ledger = await fincore.db.pool.query<{ movement: string }>('SELECT DISTINCT movement FROM ledger_entries WHERE refund_id = $1 ORDER BY movement', [refundId]);
    assert.deepEqual(ledger.rows.map((r) => r.movement), ['refund_reserved', 'refund_reversed', 'refund_succeeded']);
    // The 2500 is the merchant's again: the whole 6000 can be refunded.
    const whole = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body: { charge_id: charge.id } });
    assert.equal(whole.status, 201);
    assert.equal(whole.body.amount, 6000);
  });

  it('a refund.succeeded after refund.failed goes to review and holds the amount again: no second refund of the same money', async () => {
    const charge = await pendingCharge(3000);
    assert.equal((await postSigned(chargeEvent(charge.id, 'succeeded', 3000))).status, 200);
    const created = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body: { charge_id: charge.id } });
    assert.equal(created.status, 201);
    assert.equal((await postSigned(refundEvent(created.body.id, 'failed', 3000))).status, 200);
    assert.equal((await getRefund(created.body.id)).status, 'failed');
    assert.equal((await postSigned(refundEvent(created.body.id, 'succeeded', 3000))).status, 200);
    const refund = await getRefund(created.body.id);
    assert.equal(refund.status, 'requires_review');
    assert.equal((await openReview(created.body.id))?.reason, 'succeeded_after_failed');
    const again = await call<ErrorBody>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body: { charge_id: charge.id } });
    assert.equal(again.status, 400, 'the amount the PSP may have paid out is held');
    assert.equal(again.body.error.code, 'charge_already_refunded');
  });

  it('a refund report with another amount or currency goes to review, never settles', async () => {
    const charge = await pendingCharge(20_000);
    assert.equal((await postSigned(chargeEvent(charge.id, 'succeeded', 20_000))).status, 200);
    const created = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body: { charge_id: charge.id, amount: 20_000 } });
    assert.equal(created.status, 201);
    const event = refundEvent(created.body.id, 'succeeded', 9_999_900);
    (event.data.object as RefundObjectSent).currency = 'eur';
    assert.equal((await postSigned(event)).status, 200);
    assert.equal((await getRefund(created.body.id)).status, 'requires_review');
    assert.equal((await openReview(created.body.id))?.reason, 'currency_mismatch');
    assert.equal((await getCharge(charge.id)).amount_refunded, 0);
  });

  it('an event for an unknown reference is acknowledged and parked, and breaks nothing', async () => {
    const unknownCharge = await postSigned(chargeEvent('ch_does_not_exist', 'succeeded'));
    assert.equal(unknownCharge.status, 200);
    const unknownRefund = await postSigned(refundEvent('re_does_not_exist', 'succeeded', 100));
    assert.equal(unknownRefund.status, 200);
    assert.deepEqual(await eventTypes('ch_does_not_exist'), []);
    assert.deepEqual(await eventTypes('re_does_not_exist'), []);
    const { rows } = await fincore.db.pool.query<{ result: string }>(`SELECT result FROM psp_events WHERE object_id IN ('ch_does_not_exist', 're_does_not_exist')`);
    assert.deepEqual(rows.map((r) => r.result), ['parked', 'parked']);

    // Still healthy: the next real event works.
    assert.equal((await call(fincore.url, 'GET', '/readyz')).status, 200);
    const charge = await pendingCharge();
    assert.equal((await postSigned(chargeEvent(charge.id, 'succeeded'))).status, 200);
    assert.equal((await getCharge(charge.id)).status, 'succeeded');
  });

  it('a refund made at the PSP of a charge FinCore has not matched yet is parked, then imported by the sweep once the charge is known', async () => {
    const charge = await pendingCharge(8000);
    // The PSP's refund names the charge only by the PSP's id, which FinCore has not recorded yet.
    const pspRefundEvent: PspEvent = {
      id: `simevt_${rand()}`,
      type: 'refund.succeeded',
      created: nowSec(),
      data: { object: { id: `simre_dashboard_${rand()}`, object: 'refund', reference: null as unknown as string, charge: `simch_${charge.id}`, amount: 1500, currency: 'usd', status: 'succeeded', failure_reason: null } },
    };
    assert.equal((await postSigned(pspRefundEvent)).status, 200);
    const parked = await fincore.db.pool.query<{ result: string }>('SELECT result FROM psp_events WHERE id = $1', [pspRefundEvent.id]);
    assert.equal(parked.rows[0]?.result, 'parked');
    // Nothing to match yet.
    assert.equal((await sweepParkedEvents(fincore.ctx, 3_600_000)).matched, 0);

    // The charge's own event arrives: FinCore now knows simch_<id>. The next sweep imports the refund.
    assert.equal((await postSigned(chargeEvent(charge.id, 'succeeded', 8000))).status, 200);
    const swept = await sweepParkedEvents(fincore.ctx, 3_600_000);
    assert.ok(swept.matched >= 1);
    const matched = await fincore.db.pool.query<{ result: string; matched_at: Date | null }>('SELECT result, matched_at FROM psp_events WHERE id = $1', [pspRefundEvent.id]);
    assert.equal(matched.rows[0]?.result, 'imported');
    assert.ok(matched.rows[0]?.matched_at);
    const imported = await fincore.db.pool.query<{ status: string; origin: string; amount: number }>('SELECT status, origin, amount FROM refunds WHERE payment_id = $1', [charge.id]);
    assert.deepEqual(imported.rows.map((r) => ({ ...r, amount: Number(r.amount) })), [{ status: 'succeeded', origin: 'psp', amount: 1500 }]);
    assert.equal((await getCharge(charge.id)).amount_refunded, 1500);
  });

  it('a parked event still unmatched after the window becomes a review item (unmatched_event), once', async () => {
    const event = chargeEvent('ch_never_seen_here', 'succeeded');
    assert.equal((await postSigned(event)).status, 200);
    // Inside the window: kept parked.
    const early = await sweepParkedEvents(fincore.ctx, 3_600_000);
    assert.equal(early.unmatched, 0);
    const swept = await sweepParkedEvents(fincore.ctx, 0);
    assert.ok(swept.unmatched >= 1);
    const { rows } = await fincore.db.pool.query<{ reason: string; status: string; merchant_id: string | null; psp_status: string }>(
      'SELECT reason, status, merchant_id, psp_status FROM reviews WHERE psp_event_id = $1',
      [event.id],
    );
    assert.deepEqual(rows, [{ reason: 'unmatched_event', status: 'open', merchant_id: null, psp_status: 'succeeded' }]);
    const stored = await fincore.db.pool.query<{ result: string }>('SELECT result FROM psp_events WHERE id = $1', [event.id]);
    assert.equal(stored.rows[0]?.result, 'unmatched');
    const opened = await fincore.db.pool.query(`SELECT 1 FROM events WHERE type = 'review.opened' AND data->'review'->>'psp_event_id' = $1`, [event.id]);
    assert.equal(opened.rowCount, 1);
    // A second sweep opens nothing more for it.
    await sweepParkedEvents(fincore.ctx, 0);
    assert.equal((await fincore.db.pool.query('SELECT 1 FROM reviews WHERE psp_event_id = $1', [event.id])).rowCount, 1);
  });

  it('needs no API key, and an API key does not replace the signature', async () => {
    const charge = await pendingCharge();
    const raw = JSON.stringify(chargeEvent(charge.id, 'succeeded'));
    const withKeyNoSignature = await call<ErrorBody>(fincore.url, 'POST', '/v1/webhooks/psp', { key: apiKey, rawBody: raw });
    assertRejected(withKeyNoSignature);
    assert.equal((await getCharge(charge.id)).status, 'pending');
  });
});
