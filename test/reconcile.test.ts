/**
 * Reconciliation: with every webhook lost (the simulator drops them all), charges and refunds
 * still settle from the PSP's answer to a query, through either PSP adapter. An object the PSP
 * has never seen stays pending: unknown is not failed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { reconcilePending } from '../src/flows/reconcile.ts';
import { newId } from '../src/domain/ids.ts';
import { call, createMerchant, eventually, freshDatabase, insertPendingCharge, settledCharge, startTestFinCore, waitForRefund, type ChargeBody, type RefundBody, type TestFinCore } from './helpers.ts';

for (const psp of ['simulator', 'stripe']) describe(`reconciliation settles what lost webhooks left pending (${psp} adapter)`, () => {
  let fincore: TestFinCore;
  let merchant: { id: string; apiKey: string };

  before(async () => {
    fincore = await startTestFinCore({
      FINCORE_PSP: psp,
      FINCORE_SIM_WEBHOOK_DROP_RATE: '1',
      FINCORE_RECONCILE_AFTER_MS: '50',
      FINCORE_RECONCILE_INTERVAL_MS: '100',
    });
    merchant = await createMerchant(fincore.url);
  });
  after(() => fincore.stop());

  it('a charge and its refunds settle with cause "reconciliation", failures included', async () => {
    const charge = await settledCharge(fincore.url, merchant.apiKey, 3000, 'pm_card_refundFail');
    assert.equal(charge.status, 'succeeded');
    const refund = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: merchant.apiKey, body: { charge_id: charge.id, amount: 1000 } });
    const settled = await waitForRefund(fincore.url, merchant.apiKey, refund.body.id);
    assert.equal(settled.status, 'failed');
    assert.ok(settled.failure_reason);

    const causes = await fincore.db.pool.query<{ type: string; cause_type: string }>(
      `SELECT type, cause_type FROM events WHERE object_id = ANY($1) AND type NOT LIKE '%.created' ORDER BY id`,
      [[charge.id, refund.body.id]],
    );
    // The webhooks are lost, so each job's pending answer recorded its PSP reference first (the
    // reference the sweep asks the PSP with).
    assert.deepEqual(causes.rows, [
      { type: 'charge.updated', cause_type: 'job' },
      { type: 'charge.succeeded', cause_type: 'reconciliation' },
      { type: 'refund.updated', cause_type: 'job' },
      { type: 'refund.failed', cause_type: 'reconciliation' },
    ]);
    const declined = await settledCharge(fincore.url, merchant.apiKey, 500, 'pm_card_chargeDeclined');
    assert.equal(declined.failure_code, 'card_declined');
  });

  it('a pending charge the PSP never saw stays pending, and a second sweep changes nothing', async () => {
    const id = newId('ch');
    await insertPendingCharge(fincore.db.pool, { id, merchantId: merchant.id, amount: 100 });
    await new Promise((r) => setTimeout(r, 100));
    const report = await reconcilePending(fincore.ctx, 0);
    assert.ok(report.checked >= 1);
    const again = await reconcilePending(fincore.ctx, 0);
    assert.equal(again.settled, 0);
    const charge = await call<ChargeBody>(fincore.url, 'GET', `/v1/charges/${id}`, { key: merchant.apiKey });
    assert.equal(charge.body.status, 'pending');
  });
});

describe('start-up sweep: a clean stop right after creating a charge', () => {
  it('a charge left pending by a stopped FinCore (its in-process PSP and webhook gone) settles within seconds of the next start', async () => {
    const database = await freshDatabase();
    let second: TestFinCore | undefined;
    try {
      // The simulator would settle after a minute: the stop comes first, and its webhook dies with it.
      const first = await startTestFinCore({ FINCORE_SIM_SETTLE_MS: '60000' }, undefined, database);
      const merchant = await createMerchant(first.url);
      const charge = await call<ChargeBody>(first.url, 'POST', '/v1/charges', { key: merchant.apiKey, body: { amount: 4200, currency: 'usd', payment_method: 'pm_card_visa' } });
      assert.equal(charge.status, 201);
      await eventually(async () => {
        const { rows } = await first.db.pool.query<{ status: string }>(`SELECT status FROM jobs WHERE ref = $1`, [charge.body.id]);
        return rows[0]?.status === 'done' ? true : undefined;
      }, 10_000, 'the PSP call to be made (job done)');
      assert.equal((await call<ChargeBody>(first.url, 'GET', `/v1/charges/${charge.body.id}`, { key: merchant.apiKey })).body.status, 'pending');
      await first.stop();

      // The regular sweep would not look before 30 s (+ a 10 s interval); the start-up sweep does at once.
      const startedAt = Date.now();
      second = await startTestFinCore({ FINCORE_RECONCILE_AFTER_MS: '30000', FINCORE_RECONCILE_INTERVAL_MS: '10000', FINCORE_RECONCILE_AT_START_MS: '200' }, undefined, database);
      const settled = await eventually(async () => {
        const c = await call<ChargeBody>(second!.url, 'GET', `/v1/charges/${charge.body.id}`, { key: merchant.apiKey });
        return c.body.status === 'pending' ? undefined : c.body;
      }, 8000, 'the charge to settle after the restart');
      assert.equal(settled.status, 'succeeded');
      assert.ok(Date.now() - startedAt < 8000);
    } finally {
      await second?.stop();
      await database.drop();
    }
  });
});
