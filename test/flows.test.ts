/**
 * Charges and refunds end to end, once per payment method the PSP simulator understands and once
 * per PSP adapter (the simulator's own API, and Stripe against the simulator's Stripe mode): the
 * API answers, the worker calls the PSP, the PSP's webhooks settle, and the audit trail, the job
 * queue and the database's own guards agree with what the API reports.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { withoutReferenceUpdateSummaries } from './reference-updates.ts';
import {
  call,
  createMerchant,
  eventually,
  settledCharge,
  startTestFinCore,
  waitForCharge,
  waitForRefund,
  type ChargeBody,
  type RefundBody,
  type TestFinCore,
} from './helpers.ts';

interface ErrorAnswer {
  error: { type: string; code: string; message: string; param?: string };
}

interface EventRow {
  type: string;
  cause_type: string;
}

for (const psp of ['simulator', 'stripe']) describe(`charge and refund flows, per payment method (${psp} adapter)`, () => {
  let fincore: TestFinCore;
  let apiKey: string;

  before(async () => {
    fincore = await startTestFinCore({ FINCORE_PSP: psp });
    apiKey = (await createMerchant(fincore.url, 'Flows Shop')).apiKey;
  });
  after(() => fincore.stop());

  async function eventsOf(objectId: string): Promise<EventRow[]> {
    const { rows } = await fincore.db.pool.query<EventRow>('SELECT type, cause_type FROM events WHERE object_id = $1 ORDER BY id', [objectId]);
    return rows;
  }

  /** Sorted "type/cause" pairs, so the assertion does not depend on id order within one millisecond. */
  async function eventSummary(objectId: string): Promise<string[]> {
    const all = (await eventsOf(objectId)).map((e) => `${e.type}/${e.cause_type}`).sort();
    // A pending answer's reference update, when the job recorded it before the webhook settled: at most one, by the job.
    const updates = all.filter((summary) => !withoutReferenceUpdateSummaries([summary]).length);
    assert.ok(updates.length <= 1 && updates.every((summary) => summary.endsWith('/job')), all.join(', '));
    return withoutReferenceUpdateSummaries(all);
  }

  /** Jobs finish a moment after the webhook may have settled their object: wait for 'done'. */
  async function jobsDone(refs: string[]): Promise<void> {
    const statuses = await eventually(
      async () => {
        const { rows } = await fincore.db.pool.query<{ ref: string; status: string }>('SELECT ref, status FROM jobs WHERE ref = ANY($1::text[])', [refs]);
        return rows.length === refs.length && rows.every((r) => r.status === 'done') ? rows : undefined;
      },
      10_000,
      `jobs of ${refs.join(', ')} to be done`,
    );
    assert.equal(statuses.length, refs.length, 'one job per charge and per refund');
  }

  async function refund(body: Record<string, unknown>): Promise<RefundBody> {
    const answer = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    assert.equal(answer.body.status, 'pending');
    return answer.body;
  }

  for (const paymentMethod of ['pm_card_visa', 'pm_card_mastercard']) {
    it(`${paymentMethod}: charge settles, a partial then the remaining refund leave it fully refunded, with an audit trail`, async () => {
      const created = await call<ChargeBody>(fincore.url, 'POST', '/v1/charges', { key: apiKey, body: { amount: 5000, currency: 'usd', payment_method: paymentMethod } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.status, 'pending');
      const charge = await waitForCharge(fincore.url, apiKey, created.body.id);
      assert.equal(charge.status, 'succeeded');
      assert.equal(charge.failure_code, null);
      assert.equal(charge.amount_refunded, 0);
      assert.equal(charge.refunded, false);

      const partial = await refund({ charge_id: charge.id, amount: 1500 });
      assert.equal(partial.amount, 1500);
      assert.equal((await waitForRefund(fincore.url, apiKey, partial.id)).status, 'succeeded');
      const halfway = await waitForCharge(fincore.url, apiKey, charge.id);
      assert.equal(halfway.amount_refunded, 1500);
      assert.equal(halfway.refunded, false);

      const rest = await refund({ charge_id: charge.id });
      assert.equal(rest.amount, 3500, 'amount omitted refunds everything still refundable');
      const restSettled = await waitForRefund(fincore.url, apiKey, rest.id);
      assert.equal(restSettled.status, 'succeeded');
      assert.equal(restSettled.failure_reason, null);

      const final = await waitForCharge(fincore.url, apiKey, charge.id);
      assert.equal(final.amount_refunded, 5000);
      assert.equal(final.refunded, true);
      assert.deepEqual(final.refunds.data.map((r) => [r.id, r.amount, r.status]), [
        [partial.id, 1500, 'succeeded'],
        [rest.id, 3500, 'succeeded'],
      ]);

      const nothingLeft = await call<ErrorAnswer>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body: { charge_id: charge.id, amount: 1 } });
      assert.equal(nothingLeft.status, 400);
      assert.equal(nothingLeft.body.error.code, 'charge_already_refunded');

      assert.deepEqual(await eventSummary(charge.id), ['charge.created/api_request', 'charge.succeeded/psp_event']);
      for (const r of [partial, rest]) assert.deepEqual(await eventSummary(r.id), ['refund.created/api_request', 'refund.succeeded/psp_event']);
      await jobsDone([charge.id, partial.id, rest.id]);
    });
  }

  it('pm_card_chargeDeclined: the charge fails with card_declined and a message, and cannot be refunded', async () => {
    const charge = await settledCharge(fincore.url, apiKey, 2500, 'pm_card_chargeDeclined');
    assert.equal(charge.status, 'failed');
    assert.equal(charge.failure_code, 'card_declined');
    assert.equal(typeof charge['failure_message'], 'string');
    assert.ok(String(charge['failure_message']).length > 0, 'failure_message is set');
    assert.equal(charge.amount_refunded, 0);
    assert.equal(charge.refunded, false);

    const refused = await call<ErrorAnswer>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body: { charge_id: charge.id } });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.type, 'invalid_request_error');
    assert.equal(refused.body.error.code, 'charge_not_refundable');

    // Stripe declines in its answer to the create call (402) and also sends
    // payment_intent.payment_failed: whichever FinCore records first decides, exactly once.
    // The simulator's own API answers pending and declines by webhook only.
    const events = await eventSummary(charge.id);
    const decidedBy = psp === 'stripe' ? ['job', 'psp_event'] : ['psp_event'];
    assert.equal(events.length, 2, events.join(', '));
    assert.equal(events[0], 'charge.created/api_request');
    assert.ok(decidedBy.some((cause) => events[1] === `charge.failed/${cause}`), events.join(', '));
    const refunds = await fincore.db.pool.query('SELECT id FROM refunds WHERE payment_id = $1', [charge.id]);
    assert.equal(refunds.rowCount, 0, 'a refused refund writes no row');
    await jobsDone([charge.id]);
  });

  it('pm_card_refundFail: the charge succeeds, its refunds fail with a reason, and the amount becomes refundable again', async () => {
    const charge = await settledCharge(fincore.url, apiKey, 4000, 'pm_card_refundFail');
    assert.equal(charge.status, 'succeeded');

    const first = await refund({ charge_id: charge.id, amount: 3000 });
    const firstSettled = await waitForRefund(fincore.url, apiKey, first.id);
    assert.equal(firstSettled.status, 'failed');
    assert.equal(typeof firstSettled.failure_reason, 'string');
    assert.ok((firstSettled.failure_reason ?? '').length > 0, 'failure_reason is set');

    const afterFailure = await waitForCharge(fincore.url, apiKey, charge.id);
    assert.equal(afterFailure.amount_refunded, 0, 'a failed refund moved no money');
    assert.equal(afterFailure.refunded, false);

    // The failed 3000 is free again: the whole 4000 can be asked for.
    const whole = await refund({ charge_id: charge.id });
    assert.equal(whole.amount, 4000);
    const wholeSettled = await waitForRefund(fincore.url, apiKey, whole.id);
    assert.equal(wholeSettled.status, 'failed');
    assert.ok((wholeSettled.failure_reason ?? '').length > 0);

    const final = await waitForCharge(fincore.url, apiKey, charge.id);
    assert.equal(final.amount_refunded, 0);
    assert.deepEqual(final.refunds.data.map((r) => [r.id, r.status]), [
      [first.id, 'failed'],
      [whole.id, 'failed'],
    ]);

    assert.deepEqual(await eventSummary(charge.id), ['charge.created/api_request', 'charge.succeeded/psp_event']);
    for (const r of [first, whole]) assert.deepEqual(await eventSummary(r.id), ['refund.created/api_request', 'refund.failed/psp_event']);
    await jobsDone([charge.id, first.id, whole.id]);
  });

  describe('the database guards the audit trail and settled refunds', () => {
    let chargeId: string;
    let succeededRefundId: string;

    before(async () => {
      const charge = await settledCharge(fincore.url, apiKey, 1000);
      chargeId = charge.id;
      const created = await refund({ charge_id: chargeId, amount: 400 });
      succeededRefundId = (await waitForRefund(fincore.url, apiKey, created.id)).id;
    });

    it('refuses UPDATE and DELETE on events', async () => {
      const before = await eventsOf(chargeId);
      assert.ok(before.length >= 2);
      await assert.rejects(fincore.db.pool.query(`UPDATE events SET type = 'charge.tampered' WHERE object_id = $1`, [chargeId]), /append-only/);
      await assert.rejects(fincore.db.pool.query('DELETE FROM events WHERE object_id = $1', [chargeId]), /append-only/);
      // CASCADE: webhook deliveries reference events, and plain TRUNCATE stops at that foreign key first.
      await assert.rejects(fincore.db.pool.query('TRUNCATE events CASCADE'), /append-only/);
      assert.deepEqual(await eventsOf(chargeId), before, 'the audit trail is unchanged');
    });

    it("refuses a refund move the transition table does not name, and any change of its amount", async () => {
      // succeeded -> failed is allowed (a late failure, which only the PSP's word makes); back to pending never.
      await assert.rejects(fincore.db.pool.query(`UPDATE refunds SET status = 'pending' WHERE id = $1`, [succeededRefundId]), /succeeded -> pending is not an allowed move/);
      await assert.rejects(fincore.db.pool.query('UPDATE refunds SET amount = amount + 1 WHERE id = $1', [succeededRefundId]), /never change/);
      await fincore.db.pool.query('DELETE FROM refunds WHERE id = $1', [succeededRefundId]).catch(() => undefined);
      const { rows } = await fincore.db.pool.query<{ status: string; amount: number }>('SELECT status, amount FROM refunds WHERE id = $1', [succeededRefundId]);
      assert.deepEqual(rows, [{ status: 'succeeded', amount: 400 }]);
      const charge = await waitForCharge(fincore.url, apiKey, chargeId);
      assert.equal(charge.amount_refunded, 400);
    });

    it('refuses DELETE on a refund and on a charge with an error', async () => {
      await assert.rejects(fincore.db.pool.query('DELETE FROM payments WHERE id = $1', [chargeId]), /never deleted/);
      await assert.rejects(fincore.db.pool.query('DELETE FROM refunds WHERE id = $1', [succeededRefundId]));
      const { rowCount } = await fincore.db.pool.query('SELECT 1 FROM refunds WHERE id = $1', [succeededRefundId]);
      assert.equal(rowCount, 1);
    });
  });
});
