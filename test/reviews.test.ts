/**
 * Review items through the admin API (issue 16 item 2). Reviews are opened the way the PSP paths
 * open them: settleCharge / settleRefund (src/flows/settle.ts) inside a transaction with an outcome
 * that contradicts FinCore. The worker is off, so nothing settles behind the test's back. Then over
 * real HTTP: list (filters, pagination), get, resolve either way (the object's status after, the
 * events written, the ledger checked by the audit verification on stop), the refusals; and with
 * Fastify's inject the route-level checks that need no socket.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { buildApp } from '../src/api/app.ts';
import { inTransaction } from '../src/db/pool.ts';
import { settleCharge, settleRefund } from '../src/flows/settle.ts';
import type { PspOutcome } from '../src/psp/gateway.ts';
import { ADMIN_KEY, call, createMerchant, type ChargeBody, type ErrorBody, type ListBody, type RefundBody, type TestFinCore, startTestFinCore } from './helpers.ts';

interface ReviewBody {
  id: string;
  object: 'review';
  merchant_id: string | null;
  object_type: 'charge' | 'refund' | null;
  object_id: string | null;
  reason: string;
  status: 'open' | 'resolved';
  status_before: string | null;
  psp: { status: string | null; amount: number | null; currency: string | null };
  details: Record<string, unknown>;
  decision: string | null;
  note: string | null;
  created_at: string;
  resolved_at: string | null;
}

interface EventBody {
  id: string;
  type: string;
  data: { object_type: string; object_id: string; object: Record<string, unknown>; previous_attributes?: Record<string, unknown> };
  cause: { type: string; id: string; idempotency_key: string | null };
}

const pspCause = (id: string) => ({ type: 'psp_event' as const, id });
const outcome = (status: PspOutcome['status'], extra: Partial<PspOutcome> = {}): PspOutcome => ({
  pspReference: 'psp_ref_test',
  status,
  failureCode: status === 'failed' ? 'card_declined' : null,
  failureMessage: status === 'failed' ? 'The PSP says it failed.' : null,
  ...extra,
});

describe('review items (admin API)', () => {
  let fincore: TestFinCore;
  let shop: { id: string; apiKey: string };
  let other: { id: string; apiKey: string };
  /** Reviews by case. */
  const opened: Record<'amount' | 'succeededAfterFailed' | 'failedAfterSucceeded' | 'currency', { objectId: string; reviewId?: string }> = {
    amount: { objectId: '' },
    succeededAfterFailed: { objectId: '' },
    failedAfterSucceeded: { objectId: '' },
    currency: { objectId: '' },
  };

  const admin = <T = Record<string, unknown>>(method: string, path: string, body?: unknown) => call<T>(fincore.url, method, path, { key: ADMIN_KEY, ...(body === undefined ? {} : { body }) });

  async function charge(merchant: { apiKey: string }, amount: number, currency = 'usd'): Promise<string> {
    const created = await call<ChargeBody>(fincore.url, 'POST', '/v1/charges', { key: merchant.apiKey, body: { amount, currency, payment_method: 'pm_card_visa' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body.id;
  }

  async function refund(merchant: { apiKey: string }, chargeId: string, amount: number): Promise<string> {
    const created = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: merchant.apiKey, body: { charge_id: chargeId, amount } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body.id;
  }

  // The PSP's reference is unique per object: one per FinCore id.
  const settleC = (id: string, report: PspOutcome, eventId: string) => inTransaction(fincore.db.pool, (tx) => settleCharge(tx, id, { ...report, pspReference: `psp_${id}` }, pspCause(eventId)));
  const settleR = (id: string, report: PspOutcome, eventId: string) => inTransaction(fincore.db.pool, (tx) => settleRefund(tx, id, { ...report, pspReference: `psp_${id}` }, pspCause(eventId)));

  async function eventsOf(merchant: { apiKey: string }, objectId: string): Promise<EventBody[]> {
    const answer = await call<ListBody<EventBody>>(fincore.url, 'GET', `/v1/events?object_id=${objectId}&limit=100`, { key: merchant.apiKey });
    assert.equal(answer.status, 200);
    return answer.body.data;
  }

  before(async () => {
    fincore = await startTestFinCore({}, { api: true, worker: false, simulator: false });
    shop = await createMerchant(fincore.url, 'Review Shop');
    other = await createMerchant(fincore.url, 'Other Shop');

    // A succeeded charge with two refunds.
    const paid = await charge(shop, 5000);
    assert.equal(await settleC(paid, outcome('succeeded'), 'evt_paid'), 'settled');
    // 1. The PSP reports another amount for a pending refund.
    opened.amount.objectId = await refund(shop, paid, 1000);
    assert.equal(await settleR(opened.amount.objectId, outcome('succeeded', { amount: 999, currency: 'usd' }), 'evt_amount'), 'review_opened');
    // 2. The PSP says succeeded for a refund it had failed (FinCore freed its amount).
    opened.succeededAfterFailed.objectId = await refund(shop, paid, 700);
    assert.equal(await settleR(opened.succeededAfterFailed.objectId, outcome('failed'), 'evt_r2_failed'), 'settled');
    assert.equal(await settleR(opened.succeededAfterFailed.objectId, outcome('succeeded'), 'evt_r2_succeeded'), 'review_opened');
    // 3. The PSP says failed for a charge it had captured.
    opened.failedAfterSucceeded.objectId = await charge(shop, 2500);
    assert.equal(await settleC(opened.failedAfterSucceeded.objectId, outcome('succeeded'), 'evt_c3_succeeded'), 'settled');
    assert.equal(await settleC(opened.failedAfterSucceeded.objectId, outcome('failed'), 'evt_c3_failed'), 'review_opened');
    // 4. Another merchant: the PSP reports another currency for a pending charge.
    opened.currency.objectId = await charge(other, 1200, 'eur');
    assert.equal(await settleC(opened.currency.objectId, outcome('succeeded', { amount: 1200, currency: 'usd' }), 'evt_c4'), 'review_opened');
  });

  after(async () => {
    await fincore?.stop();
  });

  it('the objects in review say so: requires_review with its reason, on the merchant API', async () => {
    const r1 = await call<RefundBody>(fincore.url, 'GET', `/v1/refunds/${opened.amount.objectId}`, { key: shop.apiKey });
    assert.equal(r1.body.status, 'requires_review');
    assert.equal(r1.body.review_reason, 'amount_mismatch');
    assert.equal(r1.body.origin, 'api');
    const r2 = await call<RefundBody>(fincore.url, 'GET', `/v1/refunds/${opened.succeededAfterFailed.objectId}`, { key: shop.apiKey });
    assert.equal(r2.body.status, 'requires_review');
    assert.equal(r2.body.review_reason, 'succeeded_after_failed');
    const c3 = await call<ChargeBody>(fincore.url, 'GET', `/v1/charges/${opened.failedAfterSucceeded.objectId}`, { key: shop.apiKey });
    assert.equal(c3.body.status, 'requires_review');
    assert.equal(c3.body.review_reason, 'failed_after_succeeded');
    assert.ok('psp' in c3.body, 'the charge shows its PSP (null or a name)');
    for (const refundBody of (await call<ListBody<RefundBody>>(fincore.url, 'GET', '/v1/refunds', { key: shop.apiKey })).body.data) {
      assert.ok('review_reason' in refundBody && 'origin' in refundBody, 'every listed refund carries review_reason and origin');
    }
    // The event that moved it into review carries what it replaced.
    const events = await eventsOf(shop, opened.succeededAfterFailed.objectId);
    const intoReview = events.find((e) => e.type === 'refund.requires_review');
    assert.ok(intoReview, `refund.requires_review among ${events.map((e) => e.type).join(', ')}`);
    assert.deepEqual(intoReview.data.previous_attributes, { status: 'failed' });
    assert.equal(intoReview.data.object.review_reason, 'succeeded_after_failed');
    const created = events.find((e) => e.type === 'refund.created');
    assert.ok(created && created.data.previous_attributes === undefined, 'no previous_attributes where the event records none');
  });

  it('lists open reviews newest first, filtered by merchant and status, page by page', async () => {
    const all = await admin<ListBody<ReviewBody> & { url: string }>('GET', '/v1/admin/reviews?status=open&limit=100');
    assert.equal(all.status, 200);
    assert.equal(all.body.object, 'list');
    assert.equal(all.body.url, '/v1/admin/reviews');
    const byObject = new Map(all.body.data.map((r) => [r.object_id, r]));
    for (const [name, item] of Object.entries(opened)) {
      const review = byObject.get(item.objectId);
      assert.ok(review, `an open review for ${name}`);
      item.reviewId = review.id;
      assert.equal(review.object, 'review');
      assert.equal(review.status, 'open');
      assert.equal(review.decision, null);
      assert.equal(review.note, null);
      assert.equal(review.resolved_at, null);
    }
    const ids = all.body.data.map((r) => r.id);
    assert.deepEqual(ids, [...ids].sort().reverse(), 'newest first');

    const amount = byObject.get(opened.amount.objectId);
    assert.equal(amount?.reason, 'amount_mismatch');
    assert.equal(amount?.object_type, 'refund');
    assert.equal(amount?.merchant_id, shop.id);
    assert.equal(amount?.status_before, 'pending');
    assert.deepEqual(amount?.psp, { status: 'succeeded', amount: 999, currency: 'usd' });
    assert.deepEqual((amount?.details as { fincore: unknown }).fincore, { amount: 1000, currency: 'usd', status: 'pending' });
    assert.equal(byObject.get(opened.currency.objectId)?.reason, 'currency_mismatch');
    assert.equal(byObject.get(opened.failedAfterSucceeded.objectId)?.status_before, 'succeeded');

    const others = await admin<ListBody<ReviewBody>>('GET', `/v1/admin/reviews?merchant_id=${other.id}`);
    assert.deepEqual(others.body.data.map((r) => r.object_id), [opened.currency.objectId]);

    const first = await admin<ListBody<ReviewBody>>('GET', `/v1/admin/reviews?merchant_id=${shop.id}&limit=2`);
    assert.equal(first.body.data.length, 2);
    assert.equal(first.body.has_more, true);
    const second = await admin<ListBody<ReviewBody>>('GET', `/v1/admin/reviews?merchant_id=${shop.id}&limit=2&starting_after=${first.body.data[1]?.id}`);
    assert.equal(second.body.data.length, 1);
    assert.equal(second.body.has_more, false);
    assert.deepEqual([...first.body.data, ...second.body.data].map((r) => r.id), all.body.data.filter((r) => r.merchant_id === shop.id).map((r) => r.id));

    assert.deepEqual((await admin<ListBody<ReviewBody>>('GET', '/v1/admin/reviews?status=resolved')).body.data, []);
  });

  it('reads one review; an unknown id is 404 resource_missing', async () => {
    const one = await admin<ReviewBody>('GET', `/v1/admin/reviews/${opened.amount.reviewId}`);
    assert.equal(one.status, 200);
    assert.equal(one.body.id, opened.amount.reviewId);
    assert.equal(one.body.object_id, opened.amount.objectId);
    for (const path of ['/v1/admin/reviews/rev_00000000000000000000000000', '/v1/admin/reviews/nope']) {
      const missing = await admin<ErrorBody>('GET', path);
      assert.equal(missing.status, 404, path);
      assert.equal(missing.body.error.code, 'resource_missing');
    }
    const resolveMissing = await admin<ErrorBody>('POST', '/v1/admin/reviews/rev_00000000000000000000000000/resolve', { decision: 'accept_psp', note: 'x' });
    assert.equal(resolveMissing.status, 404);
    assert.equal(resolveMissing.body.error.code, 'resource_missing');
  });

  it('refuses without the admin key (401), and a bad body with 400 naming the parameter', async () => {
    const path = `/v1/admin/reviews/${opened.amount.reviewId}/resolve`;
    for (const key of [undefined, shop.apiKey]) {
      assert.equal((await call<ErrorBody>(fincore.url, 'GET', '/v1/admin/reviews', key ? { key } : {})).status, 401);
      const answer = await call<ErrorBody>(fincore.url, 'POST', path, { ...(key ? { key } : {}), body: { decision: 'accept_psp', note: 'by a merchant' } });
      assert.equal(answer.status, 401);
      assert.equal(answer.body.error.code, 'unauthorized');
    }
    const cases: Array<[unknown, string, string]> = [
      [{ decision: 'accept_psp' }, 'parameter_missing', 'note'],
      [{ note: 'checked' }, 'parameter_missing', 'decision'],
      [{ decision: 'refund_twice', note: 'checked' }, 'parameter_invalid', 'decision'],
      [{ decision: 'accept_psp', note: '' }, 'parameter_invalid', 'note'],
      [{ decision: 'accept_psp', note: '   ' }, 'parameter_invalid', 'note'],
      [{ decision: 'accept_psp', note: 'x'.repeat(1001) }, 'parameter_invalid', 'note'],
      [{ decision: 'accept_psp', note: 'nul \u0000 here' }, 'parameter_invalid', 'note'],
      [{ decision: 'accept_psp', note: 42 }, 'parameter_invalid', 'note'],
      [{ decision: 'accept_psp', note: 'ok', extra: 1 }, 'parameter_unknown', 'extra'],
    ];
    for (const [body, code, param] of cases) {
      const answer = await admin<ErrorBody>('POST', path, body);
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.equal(answer.body.error.code, code, JSON.stringify(body));
      assert.equal(answer.body.error.param, param, JSON.stringify(body));
    }
    // Nothing was resolved by the refusals.
    assert.equal((await admin<ReviewBody>('GET', `/v1/admin/reviews/${opened.amount.reviewId}`)).body.status, 'open');
  });

  it("accept_psp on an amount mismatch: the refund takes the PSP's status; review.resolved carries the note; twice is 400", async () => {
    const path = `/v1/admin/reviews/${opened.amount.reviewId}/resolve`;
    const resolved = await admin<ReviewBody>('POST', path, { decision: 'accept_psp', note: 'PSP statement checked: paid out' });
    assert.equal(resolved.status, 200, JSON.stringify(resolved.body));
    assert.equal(resolved.body.status, 'resolved');
    assert.equal(resolved.body.decision, 'accept_psp');
    assert.equal(resolved.body.note, 'PSP statement checked: paid out');
    assert.ok(resolved.body.resolved_at);
    assert.equal(resolved.headers.get('request-id')?.startsWith('req_'), true);

    const r1 = await call<RefundBody>(fincore.url, 'GET', `/v1/refunds/${opened.amount.objectId}`, { key: shop.apiKey });
    assert.equal(r1.body.status, 'succeeded');
    assert.equal(r1.body.review_reason, null);

    const events = await eventsOf(shop, opened.amount.objectId);
    const moved = events.find((e) => e.type === 'refund.succeeded');
    assert.ok(moved, `refund.succeeded among ${events.map((e) => e.type).join(', ')}`);
    assert.deepEqual(moved.data.previous_attributes, { status: 'requires_review' });
    assert.deepEqual(moved.cause, { type: 'operator', id: resolved.headers.get('request-id'), idempotency_key: null });
    const review = (await eventsOf(shop, opened.amount.reviewId ?? '')).find((e) => e.type === 'review.resolved');
    assert.ok(review, 'a review.resolved event');
    assert.equal(review.data.object_type, 'review');
    assert.equal(review.data.object.note, 'PSP statement checked: paid out');
    assert.equal(review.cause.type, 'operator');

    const again = await admin<ErrorBody>('POST', path, { decision: 'keep_fincore', note: 'second thoughts' });
    assert.equal(again.status, 400);
    assert.equal(again.body.error.code, 'review_already_resolved');
    assert.equal(again.body.error.type, 'invalid_request_error');
    assert.equal((await admin<ReviewBody>('GET', `/v1/admin/reviews/${opened.amount.reviewId}`)).body.decision, 'accept_psp');
  });

  it("keep_fincore on succeeded-after-failed: the refund stays failed, its amount refundable again", async () => {
    const resolved = await admin<ReviewBody>('POST', `/v1/admin/reviews/${opened.succeededAfterFailed.reviewId}/resolve`, { decision: 'keep_fincore', note: 'No payout on the PSP statement' });
    assert.equal(resolved.status, 200, JSON.stringify(resolved.body));
    assert.equal(resolved.body.decision, 'keep_fincore');
    const r2 = await call<RefundBody>(fincore.url, 'GET', `/v1/refunds/${opened.succeededAfterFailed.objectId}`, { key: shop.apiKey });
    assert.equal(r2.body.status, 'failed');
    assert.equal(r2.body.review_reason, null);
    const types = (await eventsOf(shop, opened.succeededAfterFailed.objectId)).map((e) => e.type);
    assert.deepEqual(types, ['refund.failed', 'refund.requires_review', 'refund.failed', 'refund.created']);
    // 5000 charged, 1000 refunded (accepted above), 700 failed: 4000 left.
    const rest = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: shop.apiKey, body: { charge_id: r2.body.charge_id, amount: 4001 } });
    assert.equal(rest.status, 400);
    assert.equal((rest.body as unknown as ErrorBody).error.code, 'amount_too_large');
  });

  it('accept_psp on failed-after-succeeded: the charge fails; a currency mismatch kept as FinCore had it goes back to pending', async () => {
    const c3 = await admin<ReviewBody>('POST', `/v1/admin/reviews/${opened.failedAfterSucceeded.reviewId}/resolve`, { decision: 'accept_psp', note: 'Chargeback-like reversal confirmed by the PSP' });
    assert.equal(c3.status, 200, JSON.stringify(c3.body));
    const charge3 = await call<ChargeBody>(fincore.url, 'GET', `/v1/charges/${opened.failedAfterSucceeded.objectId}`, { key: shop.apiKey });
    assert.equal(charge3.body.status, 'failed');
    assert.equal(charge3.body.review_reason, null);
    const types3 = (await eventsOf(shop, opened.failedAfterSucceeded.objectId)).map((e) => e.type);
    assert.equal(types3[0], 'charge.failed');
    assert.equal(types3[1], 'charge.requires_review');

    const c4 = await admin<ReviewBody>('POST', `/v1/admin/reviews/${opened.currency.reviewId}/resolve`, { decision: 'keep_fincore', note: 'Ask the PSP again' });
    assert.equal(c4.status, 200, JSON.stringify(c4.body));
    const charge4 = await call<ChargeBody>(fincore.url, 'GET', `/v1/charges/${opened.currency.objectId}`, { key: other.apiKey });
    assert.equal(charge4.body.status, 'pending');
    const latest = (await eventsOf(other, opened.currency.objectId))[0];
    assert.equal(latest?.type, 'charge.updated');
    assert.deepEqual(latest?.data.previous_attributes, { status: 'requires_review' });

    const open = await admin<ListBody<ReviewBody>>('GET', '/v1/admin/reviews?status=open');
    assert.deepEqual(open.body.data, []);
    const resolved = await admin<ListBody<ReviewBody>>('GET', '/v1/admin/reviews?status=resolved&limit=100');
    assert.equal(resolved.body.data.length, 4);
  });

  it('inject: query and path checks, and the OpenAPI document (requires_review, review_reason, the review routes)', async () => {
    const app = await buildApp({ ctx: fincore.ctx, adminKey: ADMIN_KEY, bodyLimitBytes: 65536, logger: pino({ level: 'silent' }), version: 'test' });
    try {
      const auth = { authorization: `Bearer ${ADMIN_KEY}` };
      const cases: Array<[string, string, string]> = [
        ['/v1/admin/reviews?status=pending', 'parameter_invalid', 'status'],
        ['/v1/admin/reviews?starting_after=ch_1', 'parameter_invalid', 'starting_after'],
        ['/v1/admin/reviews?limit=0', 'parameter_invalid', 'limit'],
        ['/v1/admin/reviews?bogus=1', 'parameter_unknown', 'bogus'],
      ];
      for (const [url, code, param] of cases) {
        const answer = await app.inject({ method: 'GET', url, headers: auth });
        assert.equal(answer.statusCode, 400, url);
        const body = answer.json() as ErrorBody;
        assert.equal(body.error.code, code, url);
        assert.equal(body.error.param, param, url);
      }
      const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
        paths: Record<string, unknown>;
        components: { schemas: Record<string, { properties: Record<string, { enum?: unknown[] }> }> };
      };
      for (const path of ['/v1/admin/reviews', '/v1/admin/reviews/{id}', '/v1/admin/reviews/{id}/resolve']) assert.ok(doc.paths[path], `openapi lacks ${path}`);
      const schemas = Object.values(doc.components.schemas);
      const named = (props: string[]) => schemas.find((s) => props.every((p) => s.properties?.[p]));
      const chargeSchema = named(['payment_method', 'amount_refunded']);
      const refundSchema = named(['charge_id', 'origin']);
      const reviewSchema = named(['status_before', 'decision']);
      assert.ok(chargeSchema?.properties.status?.enum?.includes('requires_review'));
      assert.ok(chargeSchema?.properties.review_reason?.enum?.includes('amount_mismatch'));
      assert.ok(chargeSchema?.properties.psp);
      assert.ok(refundSchema?.properties.status?.enum?.includes('requires_review'));
      assert.deepEqual(refundSchema?.properties.origin?.enum, ['api', 'psp']);
      assert.ok(reviewSchema?.properties.decision?.enum?.includes('keep_fincore'));
    } finally {
      await app.close();
    }
  });
});
