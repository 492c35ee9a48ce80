/**
 * The operator's side (issue 8): Prometheus metrics at /metrics with bounded labels, and the
 * admin API the dashboard reads (overview, stats, filtered lists, a charge's detail, dead jobs
 * and their retry, webhook endpoints).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  ADMIN_KEY,
  call,
  createMerchant,
  eventually,
  settledCharge,
  startTestFinCore,
  waitForCharge,
  waitForRefund,
  type ChargeBody,
  type ErrorBody,
  type ListBody,
  type RefundBody,
  type TestFinCore,
} from './helpers.ts';
import { withoutReferenceUpdates } from './reference-updates.ts';

interface ChargeDetail {
  object: string;
  merchant_id: string;
  charge: ChargeBody;
  refundable_amount: number;
  ledger: { movement: string; account: string; amount: number; currency: string; refund_id: string | null }[];
  events: { type: string; sequence: number; data: { object_id: string }; cause: { type: string } }[];
}

interface JobBody {
  id: string;
  job_type: string;
  ref: string;
  status: string;
  last_error: string | null;
}

describe('metrics and the admin API', () => {
  let fincore: TestFinCore;
  let shop: { id: string; apiKey: string };
  let other: { id: string; apiKey: string };
  let charge: ChargeBody;
  let refund: RefundBody;

  before(async () => {
    fincore = await startTestFinCore({ FINCORE_JOB_MAX_ATTEMPTS: '1' });
    shop = await createMerchant(fincore.url, 'Metrics Shop');
    other = await createMerchant(fincore.url, 'Other Shop');
    charge = await settledCharge(fincore.url, shop.apiKey, 8000);
    await settledCharge(fincore.url, other.apiKey, 300, 'pm_card_visa', 'jpy');
    const created = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: shop.apiKey, body: { charge_id: charge.id, amount: 2500 } });
    refund = await waitForRefund(fincore.url, shop.apiKey, created.body.id);
  });
  after(() => fincore.stop());

  const admin = <T>(method: string, path: string, key = ADMIN_KEY) => call<T>(fincore.url, method, path, { key });

  it('/metrics: Prometheus text with HTTP, money, settle latency, jobs, queue, PSP and webhook series; no ids in labels', async () => {
    assert.equal((await fetch(`${fincore.url}/metrics`)).status, 401, 'the series name the traffic: admin key only');
    const scrape = () => fetch(`${fincore.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    const response = await scrape();
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/plain/);
    const patterns = [
      /fincore_http_request_duration_seconds_bucket\{le="[\d.]+",route="\/v1\/charges",method="POST",status="201"\} \d+/,
      /fincore_http_request_duration_seconds_count\{route="\/v1\/refunds",method="POST",status="201"\} [1-9]/,
      /fincore_created_total\{object="charge",currency="usd"\} [1-9]/,
      /fincore_created_total\{object="refund",currency="usd"\} [1-9]/,
      /fincore_settled_total\{object="refund",status="succeeded",currency="usd"\} [1-9]/,
      /fincore_settled_total\{object="charge",status="succeeded",currency="jpy"\} [1-9]/,
      /fincore_settle_latency_seconds_count\{object="refund",status="succeeded"\} [1-9]/,
      /fincore_jobs_total\{job_type="REFUND",outcome="succeeded"\} [1-9]/,
      /fincore_jobs_total\{job_type="CHARGE",outcome="claimed"\} [1-9]/,
      /fincore_psp_request_duration_seconds_count\{operation="create_refund",outcome="ok"\} [1-9]/,
      /fincore_psp_webhooks_total\{result="settled"\} [1-9]/,
      /fincore_queue_oldest_due_age_seconds \d/,
      /fincore_process_cpu_user_seconds_total \d/,
      /fincore_nodejs_eventloop_lag_seconds \d/,
    ];
    // A job counts as succeeded once its completion is written, which may trail the webhook.
    let missing: RegExp[] = patterns;
    const text = await eventually(async () => {
      const scraped = await (await scrape()).text();
      missing = patterns.filter((p) => !p.test(scraped));
      return missing.length === 0 ? scraped : undefined;
    }, 5000, 'every series').catch(() => assert.fail(`missing series: ${missing.join(', ')}`));
    // Bounded cardinality: no FinCore id anywhere in a label value.
    const labelValues = [...text.matchAll(/="([^"]*)"/g)].map((m) => m[1] ?? '');
    assert.ok(labelValues.length > 50);
    assert.deepEqual(labelValues.filter((v) => /(ch|re|evt|job|mer|req)_[0-9A-Z]{20,}/.test(v)), []);
  });

  it('admin endpoints refuse a merchant key and a wrong key', async () => {
    for (const key of [shop.apiKey, 'adm_wrong']) {
      const refused = await admin<ErrorBody>('GET', '/v1/admin/overview', key);
      assert.equal(refused.status, 401);
      assert.equal(refused.body.error.type, 'authentication_error');
    }
  });

  it('overview and stats: counts across merchants, money by currency, queue, settle latency', async () => {
    const overview = await admin<{ merchants: number; charges: Record<string, number>; refunds: Record<string, number>; volume: { currency: string; charged: number; refunded: number }[]; queue: Record<string, unknown> }>('GET', '/v1/admin/overview');
    assert.equal(overview.status, 200);
    assert.equal(overview.body.merchants, 2);
    assert.equal(overview.body.charges.succeeded, 2);
    assert.equal(overview.body.refunds.succeeded, 1);
    assert.deepEqual(overview.body.volume.map((v) => [v.currency, v.charged, v.refunded]), [['jpy', 300, 0], ['usd', 8000, 2500]]);
    assert.ok('dead' in overview.body.queue && 'oldest_due_age_seconds' in overview.body.queue);

    const stats = await admin<{ requests_total: number; refunds_created_total: number; settle_latency_ms: { p50: number | null; count: number } }>('GET', '/v1/admin/stats');
    assert.equal(stats.status, 200);
    assert.ok(stats.body.requests_total > 5);
    assert.equal(stats.body.refunds_created_total, 1);
    assert.equal(stats.body.settle_latency_ms.count, 1);
    assert.ok((stats.body.settle_latency_ms.p50 ?? -1) >= 0);
  });

  it('charges and refunds across merchants with filters and cursor paging; bad filters are 400', async () => {
    const all = await admin<ListBody<ChargeBody & { merchant_id: string }>>('GET', '/v1/admin/charges?limit=10');
    assert.equal(all.body.data.length, 2);
    const jpy = await admin<ListBody<ChargeBody & { merchant_id: string }>>('GET', '/v1/admin/charges?currency=jpy');
    assert.deepEqual(jpy.body.data.map((c) => [c.currency, c.merchant_id]), [['jpy', other.id]]);
    const mine = await admin<ListBody<ChargeBody>>('GET', `/v1/admin/charges?merchant_id=${shop.id}&status=succeeded`);
    assert.deepEqual(mine.body.data.map((c) => c.id), [charge.id]);
    const first = await admin<ListBody<ChargeBody>>('GET', '/v1/admin/charges?limit=1');
    assert.equal(first.body.has_more, true);
    const second = await admin<ListBody<ChargeBody>>('GET', `/v1/admin/charges?limit=1&starting_after=${first.body.data[0]?.id}`);
    assert.equal(second.body.has_more, false);
    assert.notEqual(second.body.data[0]?.id, first.body.data[0]?.id);
    const future = await admin<ListBody<ChargeBody>>('GET', `/v1/admin/charges?created[gte]=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`);
    assert.deepEqual(future.body.data, []);

    const refunds = await admin<ListBody<RefundBody & { merchant_id: string }>>('GET', `/v1/admin/refunds?charge_id=${charge.id}&status=succeeded`);
    assert.deepEqual(refunds.body.data.map((r) => [r.id, r.merchant_id]), [[refund.id, shop.id]]);

    for (const bad of ['/v1/admin/charges?status=lost', '/v1/admin/charges?currency=USD', '/v1/admin/refunds?created[lte]=soon', '/v1/admin/charges?colour=red']) {
      const refused = await admin<ErrorBody>('GET', bad);
      assert.equal(refused.status, 400, bad);
    }
  });

  it("a charge's detail: refunds, refundable amount, balanced ledger postings, timeline of the charge and its refunds", async () => {
    const detail = await admin<ChargeDetail>('GET', `/v1/admin/charges/${charge.id}`);
    assert.equal(detail.status, 200);
    assert.equal(detail.body.merchant_id, shop.id);
    assert.equal(detail.body.refundable_amount, 5500);
    assert.deepEqual(detail.body.charge.refunds.data.map((r) => r.id), [refund.id]);
    assert.equal(detail.body.ledger.length, 6);
    assert.equal(detail.body.ledger.reduce((sum, p) => sum + p.amount, 0), 0);
    // Each object's changes in order (a PSP reference's update, when recorded before the settle, in between).
    assert.deepEqual(withoutReferenceUpdates(detail.body.events).map((e) => e.type), ['charge.created', 'charge.succeeded', 'refund.created', 'refund.succeeded']);
    for (const id of [charge.id, refund.id]) {
      const sequences = detail.body.events.filter((e) => e.data.object_id === id).map((e) => e.sequence);
      assert.deepEqual(sequences, sequences.map((_, i) => i + 1), id);
    }
    assert.equal((await admin<ErrorBody>('GET', '/v1/admin/charges/ch_nope')).status, 404);
  });

  it('a dead job is listed with its last error; retry queues it again and the charge settles; retrying a live job is a 400', async () => {
    const faults = (body: object) => fetch(`${fincore.simulatorUrl}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    await faults({ failure_rate: 1 });
    const created = await call<ChargeBody>(fincore.url, 'POST', '/v1/charges', { key: shop.apiKey, body: { amount: 1100, currency: 'usd', payment_method: 'pm_card_visa' } });
    const dead = await eventually(async () => (await admin<ListBody<JobBody>>('GET', '/v1/admin/jobs?status=dead')).body.data.find((j) => j.ref === created.body.id), 10_000, 'dead job');
    assert.ok(dead.last_error);
    await faults({ failure_rate: 0 });
    const retried = await admin<JobBody>('POST', `/v1/admin/jobs/${dead.id}/retry`);
    assert.equal(retried.status, 200);
    assert.equal(retried.body.status, 'queued');
    assert.equal((await waitForCharge(fincore.url, shop.apiKey, created.body.id)).status, 'succeeded');
    const again = await admin<ErrorBody>('POST', `/v1/admin/jobs/${dead.id}/retry`);
    assert.equal(again.status, 400);
    assert.equal(again.body.error.code, 'parameter_invalid');
    assert.equal((await admin<ErrorBody>('POST', '/v1/admin/jobs/job_nope/retry')).status, 404);
  });

  it('webhook endpoints across merchants with delivery counts', async () => {
    await call(fincore.url, 'POST', '/v1/webhook_endpoints', { key: shop.apiKey, body: { url: 'https://shop.example/hooks', enabled_events: ['*'] } });
    const listed = await admin<ListBody<{ merchant_id: string; url: string; deliveries: Record<string, number> }>>('GET', `/v1/admin/webhook_endpoints?merchant_id=${shop.id}`);
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.data.map((e) => [e.merchant_id, e.url]), [[shop.id, 'https://shop.example/hooks']]);
    assert.deepEqual(Object.keys(listed.body.data[0]?.deliveries ?? {}).sort(), ['failed', 'pending', 'succeeded']);
  });
});
