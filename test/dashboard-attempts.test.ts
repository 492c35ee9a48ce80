/**
 * The dashboard's charge page shows the PSP attempts of the charge and its refunds (issue 17):
 * a refund that met a PSP 5xx shows its server_error attempt, then the retry that got through,
 * all with the FinCore id as idempotency key; the charge shows its psp_status.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { ADMIN_KEY, call, createMerchant, eventually, settledCharge, startTestFinCore, waitForRefund, type RefundBody, type TestFinCore } from './helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const browserSkip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}`;

describe('dashboard charge page: PSP attempts', { skip: browserSkip, timeout: 120_000 }, () => {
  let fincore: TestFinCore;
  let browser: Browser;

  before(async () => {
    fincore = await startTestFinCore({ FINCORE_JOB_BACKOFF_BASE_MS: '300', FINCORE_JOB_BACKOFF_MAX_MS: '300' });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
  });
  after(async () => {
    await browser?.close();
    await fincore?.stop();
  });

  it('lists every attempt, newest first, with its outcome class and the idempotency key', async () => {
    const merchant = await createMerchant(fincore.url, 'Attempts Dashboard Shop');
    const charge = await settledCharge(fincore.url, merchant.apiKey);
    const sim = fincore.simulatorUrl!;
    await fetch(`${sim}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ failure_rate: 1 }) });
    let refund: RefundBody;
    try {
      const created = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: merchant.apiKey, body: { charge_id: charge.id, amount: 700 } });
      assert.equal(created.status, 201);
      refund = created.body;
      await eventually(async () => {
        const { body } = await call<{ data: { outcome: string | null }[] }>(fincore.url, 'GET', `/v1/refunds/${refund.id}/attempts`, { key: merchant.apiKey });
        return body.data.some((a) => a.outcome === 'server_error') ? true : undefined;
      }, 10_000, 'a server_error attempt');
    } finally {
      await fetch(`${sim}/sim/faults`, { method: 'DELETE' });
    }
    assert.equal((await waitForRefund(fincore.url, merchant.apiKey, refund.id)).status, 'succeeded');

    const page = await browser.newPage();
    await page.goto(`${fincore.url}/dashboard/`);
    await page.getByLabel('Admin key').fill(ADMIN_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.goto(`${fincore.url}/dashboard/#/charges/${charge.id}`);
    const table = page.getByTestId('charge-attempts');
    await table.locator(`tr[data-object="${refund.id}"][data-outcome="server_error"]`).first().waitFor({ timeout: 10_000 });
    const rows = await table.locator('tr[data-object]').evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-object'), tr.getAttribute('data-outcome'), tr.textContent ?? '']));
    const refundRows = rows.filter(([object]) => object === refund.id);
    assert.ok(refundRows.length >= 2, JSON.stringify(rows));
    assert.ok(['pending', 'success'].includes(refundRows[0]![1]!), 'the newest attempt is the one that got through');
    assert.ok(refundRows.every(([, , text]) => (text ?? '').includes(refund.id)), 'the idempotency key is the refund id');
    assert.ok(rows.some(([object]) => object === charge.id), 'the charge\'s own attempt is listed');
    const status = page.getByTestId('charge-psp-status');
    assert.equal(await status.getAttribute('data-psp-status'), 'settled');
    await page.close();
  });

  it("shows a pending refund's psp_status, its reference and what is pending at the PSP on the charge page", async () => {
    const merchant = await createMerchant(fincore.url, 'Unknown Dashboard Shop');
    const charge = await settledCharge(fincore.url, merchant.apiKey);
    const sim = fincore.simulatorUrl!;
    // Every call answers 5xx: the refund stays pending with an unknown outcome, retried.
    await fetch(`${sim}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ failure_rate: 1 }) });
    try {
      const created = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: merchant.apiKey, body: { charge_id: charge.id, amount: 900, reference: 'rma-dash-1' } });
      assert.equal(created.status, 201);
      const refund = created.body;
      await eventually(async () => {
        const { body } = await call<{ data: { outcome: string | null }[] }>(fincore.url, 'GET', `/v1/refunds/${refund.id}/attempts`, { key: merchant.apiKey });
        return body.data.some((a) => a.outcome === 'server_error') ? true : undefined;
      }, 10_000, 'a server_error attempt');

      const page = await browser.newPage();
      await page.goto(`${fincore.url}/dashboard/`);
      await page.getByLabel('Admin key').fill(ADMIN_KEY);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.goto(`${fincore.url}/dashboard/#/charges/${charge.id}`);
      const row = page.getByTestId('charge-refunds').locator(`tr[data-id="${refund.id}"]`);
      await row.waitFor({ timeout: 10_000 });
      // Between retries the outcome is unknown; during one it is in flight.
      const pspStatus = await row.locator('td[data-psp-status]').getAttribute('data-psp-status');
      assert.ok(['unknown_after_timeout', 'sent_awaiting_answer'].includes(pspStatus ?? ''), String(pspStatus));
      const text = (await row.textContent()) ?? '';
      assert.match(text, /next check/);
      assert.match(text, /rma-dash-1/);
      assert.match((await page.getByTestId('charge-refund-pending').textContent()) ?? '', /9\.00/);
      await page.close();
    } finally {
      await fetch(`${sim}/sim/faults`, { method: 'DELETE' });
    }
  });
});
