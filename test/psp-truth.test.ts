/**
 * The PSP's truth wins, visibly (issue 16), end to end: HTTP API, worker, the PSP simulator
 * producing each case (magic payment methods and /sim control routes), its signed webhooks and
 * FinCore's intake, once per PSP adapter (the simulator's own API, and Stripe against the
 * simulator's Stripe mode). startTestFinCore's stop checks the audit trail and the ledger.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call, createMerchant, eventually, settledCharge, startTestFinCore, waitForRefund, type ChargeBody, type ListBody, type RefundBody, type TestFinCore } from './helpers.ts';

interface EventRow {
  type: string;
  data: { previous_attributes?: { status?: string }; refund?: { status?: string } };
}

for (const psp of ['simulator', 'stripe']) {
  describe(`the PSP's truth end to end (${psp} adapter)`, () => {
    let fincore: TestFinCore;
    let apiKey: string;

    before(async () => {
      fincore = await startTestFinCore({ FINCORE_PSP: psp });
      apiKey = (await createMerchant(fincore.url, 'PSP Truth Shop')).apiKey;
      await sim('/sim/settings', { late_failure_ms: 300 });
    });
    after(() => fincore.stop());

    async function sim(path: string, body: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
      const res = await fetch(`${fincore.simulatorUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const answer = (await res.json()) as Record<string, unknown>;
      assert.equal(res.status, 200, `${path}: ${JSON.stringify(answer)}`);
      return answer;
    }

    async function refund(chargeId: string, amount: number): Promise<RefundBody> {
      const answer = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body: { charge_id: chargeId, amount } });
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
      return answer.body;
    }

    const getRefund = async (id: string) => (await call<RefundBody>(fincore.url, 'GET', `/v1/refunds/${id}`, { key: apiKey })).body;
    const getCharge = async (id: string) => (await call<ChargeBody>(fincore.url, 'GET', `/v1/charges/${id}`, { key: apiKey })).body;

    async function statusEvents(objectId: string): Promise<EventRow[]> {
      const { rows } = await fincore.db.pool.query<EventRow>(
        "SELECT type, data FROM events WHERE object_id = $1 AND type IN ('refund.succeeded', 'refund.failed', 'charge.succeeded', 'charge.failed') ORDER BY created_at, id",
        [objectId],
      );
      return rows;
    }

    for (const [paymentMethod, what] of [
      ['pm_card_refundFailsLater', 'fails later'],
      ['pm_card_refundReversed', 'is reversed'],
    ] as const) {
      it(`a refund that succeeds then ${what} (${paymentMethod}) ends failed: the amount is refundable again, refund.succeeded then refund.failed (previous status succeeded)`, async () => {
        const charge = await settledCharge(fincore.url, apiKey, 5000, paymentMethod);
        assert.equal(charge.status, 'succeeded');
        const created = await refund(charge.id, 2000);
        assert.equal((await waitForRefund(fincore.url, apiKey, created.id)).status, 'succeeded');
        const failed = await eventually(async () => {
          const now = await getRefund(created.id);
          return now.status === 'failed' ? now : undefined;
        }, 10_000, 'the late failure');
        assert.ok(failed.failure_reason, 'the PSP says why');
        const after = await getCharge(charge.id);
        assert.equal(after.amount_refunded, 0, 'the late failure gives the amount back');
        assert.equal(after.refunded, false);

        const events = await statusEvents(created.id);
        assert.deepEqual(events.map((e) => e.type), ['refund.succeeded', 'refund.failed']);
        assert.equal(events[1]?.data.previous_attributes?.status, 'succeeded', 'the merchant sees it failed after success');

        // Refundable again: the whole charge. (Its refunds fail later too: wait for that, so the
        // audit check on stop sees settled books.)
        const again = await refund(charge.id, 5000);
        await eventually(async () => ((await getRefund(again.id)).status === 'failed' ? true : undefined), 10_000, 'the second late failure');
        assert.equal((await getCharge(charge.id)).amount_refunded, 0);
      });
    }

    it('a refund made at the PSP (its dashboard) is imported: listed with origin psp, counted against the refundable amount', async () => {
      const charge = await settledCharge(fincore.url, apiKey, 5000);
      const made = await sim(`/sim/charges/${charge.id}/refunds`, { amount: 1500 });
      const pspRefundId = String(made['id']);
      const listed = await eventually(async () => {
        const list = (await call<ListBody<RefundBody>>(fincore.url, 'GET', `/v1/refunds?charge_id=${charge.id}`, { key: apiKey })).body;
        const found = list.data.find((r) => r.amount === 1500 && r.status === 'succeeded');
        return found;
      }, 10_000, 'the imported refund, succeeded');
      assert.equal(listed.charge_id, charge.id);
      const { rows } = await fincore.db.pool.query<{ origin: string; psp_reference: string }>('SELECT origin, psp_reference FROM refunds WHERE id = $1', [listed.id]);
      assert.deepEqual(rows[0], { origin: 'psp', psp_reference: pspRefundId });
      if ('origin' in listed) assert.equal(listed['origin'], 'psp');
      assert.equal((await getCharge(charge.id)).amount_refunded, 1500);

      // Counted against the refundable amount: 3500 are left, not 5000.
      const tooMuch = await call<{ error: { code: string } }>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body: { charge_id: charge.id, amount: 3501 } });
      assert.equal(tooMuch.status, 400, JSON.stringify(tooMuch.body));
      assert.equal(tooMuch.body.error.code, 'amount_too_large');
      const rest = await refund(charge.id, 3500);
      assert.equal((await waitForRefund(fincore.url, apiKey, rest.id)).status, 'succeeded');
      // Imported once, whatever the number of events the PSP sent about it.
      const imported = await fincore.db.pool.query('SELECT id FROM refunds WHERE psp_reference = $1', [pspRefundId]);
      assert.equal(imported.rowCount, 1);
    });

    it('a PSP answer and webhook with another amount and currency put the refund in requires_review, its amount still reserved', async () => {
      const charge = await settledCharge(fincore.url, apiKey, 5000);
      await sim('/sim/next-refund', { amount: 99_999, currency: 'eur' });
      const created = await refund(charge.id, 200);
      const reviewed = await eventually(async () => {
        const now = await getRefund(created.id);
        return now.status === 'requires_review' ? now : undefined;
      }, 10_000, 'the refund in review');
      assert.equal(reviewed.amount, 200, 'FinCore keeps what it asked for');
      const { rows } = await fincore.db.pool.query<{ review_reason: string }>('SELECT review_reason FROM refunds WHERE id = $1', [created.id]);
      assert.match(rows[0]?.review_reason ?? '', /^(currency|amount)_mismatch$/);
      // Still reserved: 4800 are left, not 5000.
      const tooMuch = await call<{ error: { code: string } }>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body: { charge_id: charge.id, amount: 4801 } });
      assert.equal(tooMuch.status, 400, JSON.stringify(tooMuch.body));
      assert.equal(tooMuch.body.error.code, 'amount_too_large');
      assert.equal((await getCharge(charge.id)).amount_refunded, 0, 'nothing counted as refunded while in review');
    });

    it('an early webhook (sent before the PSP answers the create call) ends matched: the charge settles with its PSP id, nothing parked', async () => {
      await sim('/sim/next-charge', { early_webhook: true });
      const charge = await settledCharge(fincore.url, apiKey, 4100);
      assert.equal(charge.status, 'succeeded');
      const { rows } = await fincore.db.pool.query<{ psp_reference: string | null }>('SELECT psp_reference FROM payments WHERE id = $1', [charge.id]);
      assert.ok(rows[0]?.psp_reference, 'the PSP id is recorded');
      const events = await fincore.db.pool.query<{ result: string | null; psp_object_id: string | null }>('SELECT result, psp_object_id FROM psp_events WHERE object_id = $1', [charge.id]);
      assert.ok(events.rows.length > 0, 'the early webhook was received');
      assert.deepEqual(events.rows.filter((e) => e.result === 'parked'), [], 'found by the FinCore id the PSP object carries');
      assert.ok(events.rows.every((e) => e.psp_object_id === rows[0]?.psp_reference));
      assert.deepEqual((await statusEvents(charge.id)).map((e) => e.type), ['charge.succeeded'], 'settled once, by whichever came first');
    });

    it('a dispute opened at the PSP refuses refunds (charge_disputed); lost, it takes its amount off what can be refunded, with its ledger entry', async () => {
      const charge = await settledCharge(fincore.url, apiKey, 3000);
      const opened = await sim(`/sim/charges/${charge.id}/disputes`, { reason: 'fraudulent' });
      const open = await eventually(async () => {
        const { body } = await call<ChargeBody & { disputes?: Array<{ status: string; amount: number }> }>(fincore.url, 'GET', `/v1/charges/${charge.id}`, { key: apiKey });
        return body.disputes?.[0]?.status === 'open' ? body.disputes[0] : undefined;
      }, 10_000, 'the open dispute on the charge');
      assert.equal(open.amount, 3000);
      const refused = await call<{ error: { code: string } }>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body: { charge_id: charge.id, amount: 100 } });
      assert.equal(refused.status, 400);
      assert.equal(refused.body.error.code, 'charge_disputed');

      await sim(`/sim/disputes/${String(opened['id'])}/close`, { status: 'lost' });
      await eventually(async () => {
        const { body } = await call<ChargeBody & { disputes?: Array<{ status: string }> }>(fincore.url, 'GET', `/v1/charges/${charge.id}`, { key: apiKey });
        return body.disputes?.[0]?.status === 'lost' ? true : undefined;
      }, 10_000, 'the lost dispute');
      const stillRefused = await call<{ error: { code: string } }>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body: { charge_id: charge.id } });
      assert.equal(stillRefused.body.error.code, 'charge_disputed', 'the card network took it all back');
      const ledger = await fincore.db.pool.query("SELECT 1 FROM ledger_entries WHERE charge_id = $1 AND movement = 'dispute_lost'", [charge.id]);
      assert.equal(ledger.rowCount, 2, 'one journal entry, two postings');
      const kept = await fincore.db.pool.query<{ object_type: string; result: string | null }>('SELECT object_type, result FROM psp_events WHERE psp_object_id = $1', [String(opened['id'])]);
      assert.ok(kept.rows.length >= 2 && kept.rows.every((r) => r.object_type === 'dispute' && r.result !== null && r.result !== 'parked'), JSON.stringify(kept.rows));
    });
  });
}
