/**
 * next_check_at promises when reconciliation asks the PSP about a pending object that the PSP
 * accepted: created_at + FINCORE_RECONCILE_AFTER_MS, the configured value, on every read that
 * shows it (retrieve, lists, the charge's embedded refunds, the admin charge page). It once
 * assumed the 30 s default whatever the configuration said.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN_KEY, call, createMerchant, eventually, settledCharge, startTestFinCore, type TestFinCore } from './helpers.ts';

// Distinctive (2 h 9 min 37 s), far from the 30 s default, and long enough that no sweep settles
// the objects while the test looks at them.
const RECONCILE_AFTER_MS = 7_777_000;

interface Progress {
  id: string;
  status: string;
  created_at: string;
  psp_status: string;
  next_check_at: string | null;
}

describe('next_check_at follows FINCORE_RECONCILE_AFTER_MS', () => {
  let fincore: TestFinCore;
  let apiKey: string;

  before(async () => {
    fincore = await startTestFinCore({ FINCORE_RECONCILE_AFTER_MS: String(RECONCILE_AFTER_MS), FINCORE_RECONCILE_INTERVAL_MS: '3600000' });
    apiKey = (await createMerchant(fincore.url, 'Next Check Shop')).apiKey;
  });
  after(async () => {
    await fetch(`${fincore.simulatorUrl}/sim/faults`, { method: 'DELETE' });
    await fincore.stop();
  });

  async function get<T>(path: string, key = apiKey): Promise<T> {
    const answer = await call<T>(fincore.url, 'GET', path, { key });
    assert.equal(answer.status, 200, `${path}: ${JSON.stringify(answer.body)}`);
    return answer.body;
  }
  function assertReconcileCheck(object: Progress | undefined, where: string): void {
    assert.ok(object, where);
    assert.equal(object.status, 'pending', where);
    assert.equal(object.psp_status, 'accepted', where);
    assert.equal(object.next_check_at, new Date(Date.parse(object.created_at) + RECONCILE_AFTER_MS).toISOString(), `${where}: created_at + FINCORE_RECONCILE_AFTER_MS`);
  }

  it('a charge and a refund the PSP answered pending: next check at created_at + the configured threshold, everywhere', async () => {
    const charge = await settledCharge(fincore.url, apiKey);
    // From now on the PSP answers pending and its settlement webhooks never arrive.
    const faults = await fetch(`${fincore.simulatorUrl}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ webhook_drop_rate: 1 }) });
    assert.equal(faults.status, 200);

    const refund = await call<Progress>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body: { charge_id: charge.id, amount: 700 } });
    assert.equal(refund.status, 201, JSON.stringify(refund.body));
    const pendingCharge = await call<Progress>(fincore.url, 'POST', '/v1/charges', { key: apiKey, body: { amount: 1200, currency: 'usd', payment_method: 'pm_card_visa' } });
    assert.equal(pendingCharge.status, 201, JSON.stringify(pendingCharge.body));

    const accepted = (path: string) => eventually(async () => {
      const object = await get<Progress>(path);
      return object.psp_status === 'accepted' ? object : undefined;
    }, 10_000, `${path} accepted by the PSP`);
    assertReconcileCheck(await accepted(`/v1/refunds/${refund.body.id}`), 'GET /v1/refunds/{id}');
    assertReconcileCheck(await accepted(`/v1/charges/${pendingCharge.body.id}`), 'GET /v1/charges/{id}');

    const refunds = await get<{ data: Progress[] }>(`/v1/refunds?charge_id=${charge.id}`);
    assertReconcileCheck(refunds.data.find((r) => r.id === refund.body.id), 'GET /v1/refunds');
    const charges = await get<{ data: Progress[] }>('/v1/charges?status=pending');
    assertReconcileCheck(charges.data.find((c) => c.id === pendingCharge.body.id), 'GET /v1/charges');
    const withRefunds = await get<{ refunds: { data: Progress[] } }>(`/v1/charges/${charge.id}`);
    assertReconcileCheck(withRefunds.refunds.data.find((r) => r.id === refund.body.id), 'GET /v1/charges/{id} embedded refunds');

    const detail = await get<{ charge: Progress & { refunds: { data: Progress[] } } }>(`/v1/admin/charges/${charge.id}`, ADMIN_KEY);
    assertReconcileCheck(detail.charge.refunds.data.find((r) => r.id === refund.body.id), 'GET /v1/admin/charges/{id} refunds');
    const pendingDetail = await get<{ charge: Progress }>(`/v1/admin/charges/${pendingCharge.body.id}`, ADMIN_KEY);
    assertReconcileCheck(pendingDetail.charge, 'GET /v1/admin/charges/{id}');
  });
});
