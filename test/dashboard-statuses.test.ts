/**
 * The operator sees every status the domain has (src/domain/status.ts), canceled refunds and
 * requires_review included: GET /v1/admin/overview counts each (its schema requires each, so the
 * OpenAPI and the dashboard's types name them), GET /v1/admin/refunds filters by canceled, and the
 * dashboard's refund filter offers canceled and its overview cards show every count. Once the
 * counts were pending / succeeded / failed only, and a canceled refund was in no count.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { chromium, type Browser } from 'playwright-core';
import { inTransaction } from '../src/db/pool.ts';
import { CHARGE_STATUSES, REFUND_STATUSES } from '../src/domain/status.ts';
import { settleRefund } from '../src/flows/settle.ts';
import { startWorker, type RunningWorker } from '../src/jobs/worker.ts';
import { ADMIN_KEY, call, createMerchant, eventually, startTestFinCore, type ChargeBody, type ListBody, type RefundBody, type TestFinCore } from './helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const browserSkip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}: install it (apt-get install -y chromium) to run the dashboard browser tests`;

interface Overview {
  charges: Record<string, number>;
  refunds: Record<string, number>;
}

let fincore: TestFinCore;
let chargeWorker: RunningWorker;
let canceled: RefundBody;
let reviewed: RefundBody;
let pending: RefundBody;

before(async () => {
  // No REFUND worker: refunds stay queued (so one can be canceled, one stays pending); charges
  // settle through a worker of the CHARGE lane only.
  fincore = await startTestFinCore({}, { api: true, worker: false, simulator: true });
  chargeWorker = await startWorker(fincore.ctx, { pollIntervalMs: 10, leaseMs: 30_000, batchSize: 4, concurrency: 8, backoffBaseMs: 5, backoffMaxMs: 20, jobTypes: ['CHARGE'] }, pino({ level: 'silent' }));
  const { apiKey } = await createMerchant(fincore.url, 'Canceled Refunds Shop');
  const created = await call<ChargeBody>(fincore.url, 'POST', '/v1/charges', { key: apiKey, body: { amount: 9000, currency: 'usd', payment_method: 'pm_card_visa' } });
  assert.equal(created.status, 201);
  await eventually(async () => ((await call<ChargeBody>(fincore.url, 'GET', `/v1/charges/${created.body.id}`, { key: apiKey })).body.status === 'succeeded' ? true : undefined), 10_000, 'charge to succeed');
  const refund = async (amount: number) => {
    const answer = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body: { charge_id: created.body.id, amount } });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    return answer.body;
  };
  const toCancel = await refund(1000);
  const cancel = await call<RefundBody>(fincore.url, 'POST', `/v1/refunds/${toCancel.id}/cancel`, { key: apiKey });
  assert.equal(cancel.status, 200, JSON.stringify(cancel.body));
  canceled = cancel.body;
  assert.equal(canceled.status, 'canceled');
  // A PSP report for another amount puts the refund in review (src/flows/settle.ts).
  reviewed = await refund(1100);
  const opened = await inTransaction(fincore.db.pool, (tx) =>
    settleRefund(tx, reviewed.id, { pspReference: '', status: 'succeeded', failureCode: null, failureMessage: null, amount: 1200, currency: 'usd' }, { type: 'psp_event', id: 'statuses_review_evt' }),
  );
  assert.equal(opened, 'review_opened');
  pending = await refund(1300);
});

after(async () => {
  await chargeWorker?.stop();
  await fincore?.stop();
});

describe('admin API: every status counted and filterable', () => {
  it('GET /v1/admin/overview counts every charge and refund status, canceled and requires_review included, zeros too', async () => {
    const overview = await call<Overview>(fincore.url, 'GET', '/v1/admin/overview', { key: ADMIN_KEY });
    assert.equal(overview.status, 200);
    assert.deepEqual(Object.keys(overview.body.charges), [...CHARGE_STATUSES]);
    assert.deepEqual(Object.keys(overview.body.refunds), [...REFUND_STATUSES]);
    assert.deepEqual(overview.body.refunds, { pending: 1, succeeded: 0, failed: 0, requires_review: 1, canceled: 1 });
    assert.deepEqual(overview.body.charges, { pending: 0, succeeded: 1, failed: 0, requires_review: 0 });
  });

  it('the OpenAPI document requires a count per status (the dashboard types come from it)', async () => {
    const answer = await fetch(`${fincore.url}/openapi.json`);
    assert.equal(answer.status, 200);
    const doc = (await answer.json()) as { components: { schemas: Record<string, { properties: Record<string, { required?: string[]; properties?: Record<string, unknown> }> }> } };
    const overview = doc.components.schemas.Overview!;
    assert.deepEqual(overview.properties.refunds?.required, [...REFUND_STATUSES]);
    assert.deepEqual(Object.keys(overview.properties.refunds?.properties ?? {}), [...REFUND_STATUSES]);
    assert.deepEqual(overview.properties.charges?.required, [...CHARGE_STATUSES]);
  });

  it('GET /v1/admin/refunds?status=canceled (and requires_review) lists exactly those', async () => {
    for (const [status, refund] of [['canceled', canceled], ['requires_review', reviewed], ['pending', pending]] as const) {
      const listed = await call<ListBody<RefundBody>>(fincore.url, 'GET', `/v1/admin/refunds?status=${status}`, { key: ADMIN_KEY });
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      assert.deepEqual(listed.body.data.map((r) => [r.id, r.status]), [[refund.id, status]]);
    }
  });
});

describe('dashboard in Chromium: canceled and requires_review refunds', { skip: browserSkip, timeout: 120_000 }, () => {
  let browser: Browser;

  before(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
  });
  after(async () => {
    await browser?.close();
  });

  it('the overview cards show a count for every status; the refunds filter offers every refund status and canceled finds the canceled refund', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${fincore.url}/dashboard/`);
    await page.getByLabel('Admin key').fill(ADMIN_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();

    const refundCounts = page.getByTestId('refunds-counts');
    await refundCounts.waitFor();
    assert.deepEqual(await refundCounts.locator('[data-status]').evaluateAll((divs) => divs.map((d) => d.getAttribute('data-status'))), [...REFUND_STATUSES]);
    assert.equal(((await refundCounts.locator('[data-status="canceled"] dd').textContent()) ?? '').trim(), '1');
    assert.equal(((await refundCounts.locator('[data-status="requires_review"] dd').textContent()) ?? '').trim(), '1');
    assert.deepEqual(await page.getByTestId('charges-counts').locator('[data-status]').evaluateAll((divs) => divs.map((d) => d.getAttribute('data-status'))), [...CHARGE_STATUSES]);

    await page.goto(`${fincore.url}/dashboard/#/refunds`);
    const table = page.getByTestId('refunds-table');
    await table.locator(`tr[data-id="${pending.id}"]`).waitFor();
    const status = page.getByLabel('Status');
    assert.deepEqual(await status.locator('option').evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value)), ['', ...REFUND_STATUSES]);
    await status.selectOption('canceled');
    await table.locator(`tr[data-id="${pending.id}"]`).waitFor({ state: 'detached' });
    await table.locator(`tr[data-id="${canceled.id}"] [data-status="canceled"]`).waitFor();
    assert.equal(await table.locator('tr[data-id]').count(), 1);

    await page.goto(`${fincore.url}/dashboard/#/charges`);
    await page.getByTestId('charges-table').locator('tr[data-id]').first().waitFor();
    assert.deepEqual(await page.getByLabel('Status').locator('option').evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value)), ['', ...CHARGE_STATUSES]);
    await page.close();
  });
});
