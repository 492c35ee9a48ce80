/**
 * A charge embeds at most a page of its refunds, as a list object with has_more and the url
 * that lists them all, like a list object (API.md "Objects"): one charge with 4,000 refunds
 * was 1.1 MB, its admin page 10.9 MB. amount_refunded still counts every refund.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN_KEY, call, createMerchant, eventually, settledCharge, startTestFinCore, type ChargeBody, type ListBody, type RefundBody, type TestFinCore } from '../helpers.ts';

const REFUNDS = 105; // more than the admin page (100), far more than the public one (10)
const REFUND_AMOUNT = 7;

let fincore: TestFinCore;
let apiKey: string;
let charge: ChargeBody;
const refundIds: string[] = [];

before(async () => {
  fincore = await startTestFinCore({ FINCORE_RATE_LIMIT_PER_S: '0' });
  ({ apiKey } = await createMerchant(fincore.url, 'Many refunds'));
  charge = await settledCharge(fincore.url, apiKey, 10_000);
  // Sequential: ids (and so "oldest first") follow creation order.
  for (let i = 0; i < REFUNDS; i++) {
    const created = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body: { charge_id: charge.id, amount: REFUND_AMOUNT } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    refundIds.push(created.body.id);
  }
  await eventually(async () => {
    let pending = 0;
    let startingAfter = '';
    for (;;) {
      const page = await call<ListBody<RefundBody>>(fincore.url, 'GET', `/v1/refunds?charge_id=${charge.id}&limit=100${startingAfter}`, { key: apiKey });
      pending += page.body.data.filter((r) => r.status !== 'succeeded').length;
      if (!page.body.has_more) break;
      startingAfter = `&starting_after=${page.body.data[page.body.data.length - 1]?.id}`;
    }
    return pending === 0 ? true : undefined;
  }, 60_000, 'every refund to succeed');
});
after(async () => fincore?.stop());

describe("a charge's refunds", () => {
  it('GET /v1/charges/{id} embeds the 10 oldest as a list object; amount_refunded counts all of them', async () => {
    const got = await call<ChargeBody>(fincore.url, 'GET', `/v1/charges/${charge.id}`, { key: apiKey });
    assert.equal(got.status, 200);
    const { refunds } = got.body;
    assert.equal(refunds.object, 'list');
    assert.deepEqual(refunds.data.map((r) => r.id), refundIds.slice(0, 10), 'the oldest ten, oldest first');
    assert.equal(refunds.has_more, true);
    assert.equal(refunds.url, `/v1/refunds?charge_id=${charge.id}`);
    assert.equal(got.body.amount_refunded, REFUNDS * REFUND_AMOUNT, 'every refund, not the page');
    assert.equal(got.body.refunded, false);
  });

  it('the url lists them all', async () => {
    const got = await call<ChargeBody>(fincore.url, 'GET', `/v1/charges/${charge.id}`, { key: apiKey });
    const listed = await call<ListBody<RefundBody>>(fincore.url, 'GET', `${got.body.refunds.url}&limit=100`, { key: apiKey });
    assert.equal(listed.status, 200);
    assert.equal(listed.body.data.length, 100);
    assert.equal(listed.body.has_more, true);
  });

  it('a charge with few refunds: has_more false; a new charge: an empty list', async () => {
    const small = await settledCharge(fincore.url, apiKey, 1000);
    const created = await call<ChargeBody>(fincore.url, 'POST', '/v1/charges', { key: apiKey, body: { amount: 100, currency: 'usd', payment_method: 'pm_card_visa' } });
    assert.deepEqual(created.body.refunds, { object: 'list', data: [], has_more: false, url: `/v1/refunds?charge_id=${created.body.id}` });
    const refund = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body: { charge_id: small.id, amount: 100 } });
    const got = await call<ChargeBody>(fincore.url, 'GET', `/v1/charges/${small.id}`, { key: apiKey });
    assert.deepEqual(got.body.refunds.data.map((r) => r.id), [refund.body.id]);
    assert.equal(got.body.refunds.has_more, false);
  });

  it('GET /v1/charges embeds the same bounded list per charge', async () => {
    const list = await call<ListBody<ChargeBody>>(fincore.url, 'GET', '/v1/charges?limit=100', { key: apiKey });
    const many = list.body.data.find((c) => c.id === charge.id);
    assert.equal(many?.refunds.data.length, 10);
    assert.equal(many?.refunds.has_more, true);
    assert.equal(many?.amount_refunded, REFUNDS * REFUND_AMOUNT);
  });

  it('the admin charge page is bounded too: 100 refunds, their postings and events, totals over all', async () => {
    const detail = await call<{
      charge: ChargeBody;
      refundable_amount: number;
      ledger: Array<{ refund_id: string | null; amount: number }>;
      events: Array<{ data: { object_id: string } }>;
    }>(fincore.url, 'GET', `/v1/admin/charges/${charge.id}`, { key: ADMIN_KEY });
    assert.equal(detail.status, 200);
    assert.deepEqual(detail.body.charge.refunds.data.map((r) => r.id), refundIds.slice(0, 100));
    assert.equal(detail.body.charge.refunds.has_more, true);
    assert.equal(detail.body.charge.amount_refunded, REFUNDS * REFUND_AMOUNT);
    assert.equal(detail.body.refundable_amount, 10_000 - REFUNDS * REFUND_AMOUNT);
    const shown = new Set([charge.id, ...refundIds.slice(0, 100)]);
    assert.ok(detail.body.events.every((e) => shown.has(e.data.object_id)), 'events of the charge and the refunds shown');
    assert.ok(detail.body.events.some((e) => e.data.object_id === refundIds[99]));
    assert.ok(detail.body.ledger.every((p) => p.refund_id === null || shown.has(p.refund_id)), 'postings of the charge and the refunds shown');
    assert.equal(detail.body.ledger.reduce((sum, p) => sum + p.amount, 0), 0, 'whole movements only: they balance');
    const admins = await call<ListBody<ChargeBody>>(fincore.url, 'GET', `/v1/admin/charges?limit=100`, { key: ADMIN_KEY });
    assert.equal(admins.body.data.find((c) => c.id === charge.id)?.refunds.data.length, 10);
  });
});
