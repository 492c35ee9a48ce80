/**
 * Paging the merchant lists both ways (issue 17 item 6), Stripe's semantics, over real HTTP:
 * `starting_after` pages to older objects, `ending_before` to newer ones (shown newest first,
 * has_more: more in that direction), never both; and the `status` / `created[...]` filters on
 * GET /v1/charges, /v1/refunds and /v1/events. Worker off: statuses move only through the flows.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { inTransaction } from '../src/db/pool.ts';
import { settleCharge, settleRefund } from '../src/flows/settle.ts';
import type { PspOutcome } from '../src/psp/gateway.ts';
import { call, createMerchant, type ChargeBody, type ErrorBody, type ListBody, type RefundBody, type TestFinCore, startTestFinCore } from './helpers.ts';

interface Item {
  id: string;
  status?: string;
  created_at: string;
}

const outcome = (status: PspOutcome['status']): PspOutcome => ({
  pspReference: '', status, failureCode: status === 'failed' ? 'card_declined' : null, failureMessage: status === 'failed' ? 'Declined.' : null,
});

describe('pagination both ways and list filters', () => {
  let fincore: TestFinCore;
  let shop: { id: string; apiKey: string };
  let paidId = '';
  const refundIds: string[] = [];

  const list = (path: string) => call<ListBody<Item> & ErrorBody>(fincore.url, 'GET', path, { key: shop.apiKey });
  const cause = (id: string) => ({ type: 'psp_event' as const, id: `evt_psp_${id}` });

  before(async () => {
    fincore = await startTestFinCore({}, { api: true, worker: false, simulator: false });
    shop = await createMerchant(fincore.url, 'Paging Shop');
    for (let i = 0; i < 5; i++) {
      const created = await call<ChargeBody>(fincore.url, 'POST', '/v1/charges', { key: shop.apiKey, body: { amount: 10_000, currency: 'usd', payment_method: 'pm_card_visa' } });
      assert.equal(created.status, 201);
      if (i === 0) paidId = created.body.id;
    }
    await inTransaction(fincore.db.pool, (tx) => settleCharge(tx, paidId, { ...outcome('succeeded'), pspReference: `psp_${paidId}` }, cause(paidId)));
    for (let i = 0; i < 5; i++) {
      const created = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: shop.apiKey, body: { charge_id: paidId, amount: 100 } });
      assert.equal(created.status, 201);
      refundIds.push(created.body.id);
    }
    const failedId = refundIds[1] as string;
    await inTransaction(fincore.db.pool, (tx) => settleRefund(tx, failedId, { ...outcome('failed'), pspReference: `psp_${failedId}` }, cause(failedId)));
  });
  after(async () => {
    await fincore?.stop();
  });

  /** Forward with starting_after gives the whole list; back from its last item with ending_before, the rest, in order. */
  async function pagesBothWays(path: string, extra = ''): Promise<string[]> {
    const sep = path.includes('?') ? '&' : '?';
    const full = (await list(`${path}${sep}limit=100${extra}`)).body.data.map((o) => o.id);
    assert.ok(full.length >= 4, `${path}: ${full.length} objects`);
    const forward: string[] = [];
    let cursor = '';
    for (;;) {
      const page = await list(`${path}${sep}limit=2${extra}${cursor}`);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      forward.push(...page.body.data.map((o) => o.id));
      const last = page.body.data.at(-1);
      if (!page.body.has_more || !last) break;
      cursor = `&starting_after=${last.id}`;
    }
    assert.deepEqual(forward, full, `${path}: starting_after pages through everything`);

    const backward: string[] = [];
    let before = full.at(-1) as string;
    let first = true;
    for (;;) {
      const page = await list(`${path}${sep}limit=2${extra}&ending_before=${before}`);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      const ids = page.body.data.map((o) => o.id);
      assert.deepEqual(ids, [...ids].sort().reverse(), `${path}: a page back is still newest first`);
      if (first) {
        assert.deepEqual(ids, full.slice(-3, -1), `${path}: the first page back holds the two just newer than the cursor`);
        assert.equal(page.body.has_more, true);
        first = false;
      }
      backward.unshift(...ids);
      const newest = ids[0];
      if (!page.body.has_more || !newest) break;
      before = newest;
    }
    assert.deepEqual(backward, full.slice(0, -1), `${path}: ending_before pages back to the newest`);
    const atTop = await list(`${path}${sep}limit=2${extra}&ending_before=${full[0]}`);
    assert.deepEqual({ data: atTop.body.data, has_more: atTop.body.has_more }, { data: [], has_more: false }, 'nothing newer than the newest');

    const both = await list(`${path}${sep}starting_after=${full[1]}&ending_before=${full[0]}`);
    assert.equal(both.status, 400);
    assert.equal(both.body.error.code, 'parameter_invalid');
    assert.equal(both.body.error.param, 'ending_before');
    return full;
  }

  it('GET /v1/charges: both ways; status and created filters', async () => {
    const all = await pagesBothWays('/v1/charges');
    assert.equal(all.length, 5);
    assert.deepEqual((await list('/v1/charges?status=succeeded')).body.data.map((c) => c.id), [paidId]);
    assert.equal((await list('/v1/charges?status=pending')).body.data.length, 4);
    assert.equal((await list('/v1/charges?status=nope')).status, 400);
    await pagesBothWays('/v1/charges', '&status=pending');
    const newest = (await list('/v1/charges?limit=1')).body.data[0] as Item;
    assert.ok((await list(`/v1/charges?created[gte]=${newest.created_at}`)).body.data.some((c) => c.id === newest.id));
    assert.deepEqual((await list('/v1/charges?created[lte]=2000-01-01')).body.data, []);
    assert.equal((await list('/v1/charges?created[gte]=2026-02-30')).status, 400);
  });

  it('GET /v1/refunds: both ways; status, charge_id and created filters', async () => {
    const all = await pagesBothWays('/v1/refunds');
    assert.deepEqual([...all].reverse(), refundIds);
    await pagesBothWays(`/v1/refunds?charge_id=${paidId}`);
    assert.deepEqual((await list('/v1/refunds?status=failed')).body.data.map((r) => r.id), [refundIds[1]]);
    assert.equal((await list('/v1/refunds?status=pending')).body.data.length, 4);
    assert.deepEqual((await list('/v1/refunds?created[gte]=2999-01-01')).body.data, []);
  });

  it('GET /v1/events: both ways, also filtered', async () => {
    await pagesBothWays('/v1/events');
    await pagesBothWays('/v1/events', '&type=refund.created');
    const malformed = await list('/v1/events?ending_before=ch_nope');
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.error.code, 'parameter_invalid');
  });
});
