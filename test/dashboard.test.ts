/**
 * The operator dashboard in a real browser (Debian's Chromium through playwright-core) against a
 * real FinCore: sign-in, live overview, a charge settling in the table, the charge page (refunds,
 * ledger, timeline), retrying a dead job, and the phone-width layout. Screenshots go to
 * test-artifacts/. Also: how /dashboard serves the bundle.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify from 'fastify';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { dashboardRoutes, DEFAULT_DASHBOARD_DIST } from '../src/api/routes/dashboard.ts';
import { inTransaction } from '../src/db/pool.ts';
import { settleRefund } from '../src/flows/settle.ts';
import { ADMIN_KEY, call, createMerchant, eventually, settledCharge, startTestFinCore, waitForCharge, waitForRefund, type ChargeBody, type ErrorBody, type RefundBody, type TestFinCore } from './helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = 'test-artifacts';
const browserSkip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}: install it (apt-get install -y chromium; .ci/run does) to run the dashboard browser tests`;

describe('/dashboard serves the bundle', () => {
  it('answers 503 naming the build command when dashboard/dist is missing', async () => {
    const app = Fastify();
    dashboardRoutes(app, join(tmpdir(), 'fincore-no-such-dist'));
    const answer = await app.inject({ method: 'GET', url: '/dashboard' });
    assert.equal(answer.statusCode, 503);
    assert.match((answer.json() as ErrorBody).error.message, /npm run build:dashboard/);
    await app.close();
  });

  it('serves index.html for app paths, assets with their content type, 404 for missing files and for paths outside dist', async () => {
    const dist = mkdtempSync(join(tmpdir(), 'fincore-dist-'));
    mkdirSync(join(dist, 'assets'));
    writeFileSync(join(dist, 'index.html'), '<!doctype html><title>x</title>');
    writeFileSync(join(dist, 'assets', 'app-1.js'), 'export {}');
    writeFileSync(join(dist, 'assets', 'app-1.css'), 'body{}');
    writeFileSync(join(tmpdir(), 'fincore-secret.txt'), 'TOP-SECRET-CONTENT');
    const app = Fastify();
    dashboardRoutes(app, dist);
    try {
      for (const url of ['/dashboard', '/dashboard/', '/dashboard/charges/ch_1']) {
        const answer = await app.inject({ url });
        assert.equal(answer.statusCode, 200, url);
        assert.equal(answer.headers['content-type'], 'text/html; charset=utf-8', url);
        assert.match(String(answer.headers['content-security-policy']), /default-src 'self'/);
      }
      const js = await app.inject({ url: '/dashboard/assets/app-1.js' });
      assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
      assert.match(String(js.headers['cache-control']), /immutable/);
      assert.equal((await app.inject({ url: '/dashboard/assets/app-1.css' })).headers['content-type'], 'text/css; charset=utf-8');
      for (const url of ['/dashboard/assets/missing.js', '/dashboard/favicon.ico', '/dashboard/..%2f..%2fpackage.json', '/dashboard/%2e%2e/fincore-secret.txt', `/dashboard/..%2f${'..%2f'.repeat(8)}etc/passwd`]) {
        const answer = await app.inject({ url });
        assert.equal(answer.statusCode, 404, url);
        // (%2e%2e is resolved by the HTTP layer before routing: that one never reaches the route.)
        if (!url.includes('%2e')) assert.equal((answer.json() as ErrorBody).error.code, 'resource_missing', url);
        assert.doesNotMatch(answer.body, /TOP-SECRET-CONTENT|root:x:/);
      }
    } finally {
      await app.close();
      rmSync(dist, { recursive: true, force: true });
    }
  });
});

describe('operator dashboard in Chromium', { skip: browserSkip, timeout: 180_000 }, () => {
  let fincore: TestFinCore;
  let browser: Browser;
  let desktop: BrowserContext;
  let merchant: { id: string; apiKey: string };
  let refundedCharge: ChargeBody;
  let refund: RefundBody;

  const dashboardUrl = () => `${fincore.url}/dashboard/`;

  async function signIn(page: Page, key = ADMIN_KEY): Promise<void> {
    await page.goto(dashboardUrl());
    await page.getByLabel('Admin key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  async function shot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: join(ARTIFACTS, `dashboard-${name}.png`), fullPage: true });
  }

  async function textOf(page: Page, selector: string): Promise<string> {
    return (await page.locator(selector).first().textContent()) ?? '';
  }

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // One attempt per job, so a PSP failure dead-letters at once; settling takes 3 s at the
    // simulator, so a new charge is seen pending before it turns succeeded.
    fincore = await startTestFinCore({ FINCORE_JOB_MAX_ATTEMPTS: '1', FINCORE_SIM_SETTLE_MS: '3000' });
    merchant = await createMerchant(fincore.url, 'Dashboard Shop');
    const created = await call<ChargeBody>(fincore.url, 'POST', '/v1/charges', { key: merchant.apiKey, headers: { 'idempotency-key': 'dash-charge-1' }, body: { amount: 5000, currency: 'usd', payment_method: 'pm_card_visa', description: 'Order dash-1001' } });
    assert.equal(created.status, 201);
    await waitForCharge(fincore.url, merchant.apiKey, created.body.id);
    const refunded = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: merchant.apiKey, headers: { 'idempotency-key': 'dash-refund-1' }, body: { charge_id: created.body.id, amount: 1500, reason: 'requested_by_customer' } });
    assert.equal(refunded.status, 201);
    refund = await waitForRefund(fincore.url, merchant.apiKey, refunded.body.id);
    assert.equal(refund.status, 'succeeded');
    refundedCharge = await waitForCharge(fincore.url, merchant.apiKey, created.body.id);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    desktop = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  });

  after(async () => {
    await browser?.close();
    await fincore?.stop();
  });

  it('refuses a wrong admin key, keeps the right one only in sessionStorage, and forgets it on sign-out', async () => {
    const page = await desktop.newPage();
    await signIn(page, 'adm_wrong_key');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match((await alert.textContent()) ?? '', /refused \(401 authentication_error\)/);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    await shot(page, 'sign-in-refused');

    await page.getByLabel('Admin key').fill(ADMIN_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    assert.deepEqual(await page.evaluate(() => ({ session: Object.values(sessionStorage), local: localStorage.length, cookie: document.cookie })), { session: [ADMIN_KEY], local: 0, cookie: '' });
    assert.equal(page.url().includes(ADMIN_KEY), false);
    assert.deepEqual(await desktop.cookies(), []);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Admin key').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    await page.close();
  });

  it('overview: cards from the admin API and live charts from /v1/admin/stats', async () => {
    const page = await desktop.newPage();
    await signIn(page);
    await page.getByTestId('card-charges').waitFor();
    const volume = page.getByTestId('volume');
    await volume.locator('tr', { hasText: 'USD' }).waitFor();
    assert.match((await volume.locator('tr', { hasText: 'USD' }).textContent()) ?? '', /\$50\.00.*\$15\.00/);
    assert.match(await textOf(page, '[data-testid="card-merchants"] .big'), /^[1-9]/);
    // Three polls make two rates; every chart draws on a canvas.
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="stats-now"]')?.getAttribute('data-samples')) >= 3, undefined, { timeout: 15_000 });
    assert.equal(await page.locator('.uplot canvas').count(), 4);
    assert.match(await textOf(page, '[data-testid="stats-now"]'), /requests\/s: \d+\.\d/);
    await shot(page, 'overview');
    await page.close();
  });

  it('a charge created while the charges table is open is seen pending, then succeeded, in place', async () => {
    const page = await desktop.newPage();
    await signIn(page);
    await page.goto(`${dashboardUrl()}#/charges`);
    await page.getByTestId('charges-table').locator(`tr[data-id="${refundedCharge.id}"]`).waitFor();
    const created = await call<ChargeBody>(fincore.url, 'POST', '/v1/charges', { key: merchant.apiKey, body: { amount: 1500, currency: 'jpy', payment_method: 'pm_card_visa' } });
    assert.equal(created.status, 201);
    const row = page.locator(`tr[data-id="${created.body.id}"]`);
    await row.locator('[data-status="pending"]').waitFor({ timeout: 10_000 });
    assert.match((await row.textContent()) ?? '', /¥1,500/);
    await row.locator('[data-status="succeeded"]').waitFor({ timeout: 20_000 });
    await shot(page, 'charges');
    await page.close();
  });

  it('charge page: amount, refundable amount, refunds, balanced ledger postings and the event timeline with causes', async () => {
    const detail = await call<{ ledger: { amount: number }[]; events: { type: string }[] }>(fincore.url, 'GET', `/v1/admin/charges/${refundedCharge.id}`, { key: ADMIN_KEY });
    assert.equal(detail.status, 200);
    const page = await desktop.newPage();
    await signIn(page);
    await page.goto(`${dashboardUrl()}#/charges`);
    await page.locator(`a[href="#/charges/${refundedCharge.id}"]`).click();
    await page.getByTestId('charge-page').waitFor();
    assert.match(await textOf(page, '[data-testid="charge-amount"]'), /\$50\.00/);
    assert.match(await textOf(page, '[data-testid="charge-status"]'), /succeeded/);
    assert.match(await textOf(page, '[data-testid="charge-refundable"]'), /\$35\.00.*refunded \$15\.00/);
    // The merchant by its name (its id beside it), and the charge's description.
    assert.match(await textOf(page, '[data-testid="charge-merchant"]'), new RegExp(`^Merchant\\s*Dashboard Shop\\s*${merchant.id}`));
    assert.equal(await textOf(page, '[data-testid="charge-description"]'), 'Order dash-1001');
    const refundRow = page.getByTestId('charge-refunds').locator(`tr[data-id="${refund.id}"]`);
    assert.match((await refundRow.textContent()) ?? '', /\$15\.00\s*succeeded/);

    const ledger = page.getByTestId('charge-ledger');
    const movements = await ledger.locator('tbody.movement').evaluateAll((bodies) => bodies.map((b) => b.getAttribute('data-movement')));
    assert.deepEqual(movements, ['charge_succeeded', 'refund_reserved', 'refund_succeeded']);
    assert.deepEqual(await ledger.getByTestId('movement-check').allTextContents(), ['✓ balanced', '✓ balanced', '✓ balanced']);
    assert.equal(await ledger.locator('tr[data-account]').count(), detail.body.ledger.length);
    const chargeSucceeded = ledger.locator('tbody[data-movement="charge_succeeded"]');
    assert.match((await chargeSucceeded.locator('tr[data-account="psp_clearing"]').textContent()) ?? '', /psp_clearing\$50\.00/);
    assert.match((await chargeSucceeded.locator('tr[data-account="merchant_balance"]').textContent()) ?? '', /merchant_balance\$50\.00/);

    const timeline = page.getByTestId('charge-timeline');
    assert.equal(await timeline.locator('li').count(), detail.body.events.length);
    const chargeCreated = (await timeline.locator('li[data-type="charge.created"]').textContent()) ?? '';
    assert.match(chargeCreated, /#1/);
    assert.match(chargeCreated, /API request req_\S+ · Idempotency-Key dash-charge-1/);
    assert.match((await timeline.locator('li[data-type="refund.created"]').textContent()) ?? '', /Idempotency-Key dash-refund-1/);
    // #2, or #3 when the worker recorded the pending answer's PSP reference (charge.updated) first.
    assert.match((await timeline.locator('li[data-type="charge.succeeded"]').textContent()) ?? '', /#[23].*caused by (PSP event|job|reconciliation) \S+/);
    await shot(page, 'charge');
    await page.close();
  });

  it('refunds table at 1280 px: every column, Created included, fits without scrolling sideways', async () => {
    // The widest row the table shows: a refund the issuer declined, with its failure reason.
    const declinable = await settledCharge(fincore.url, merchant.apiKey, 2000, 'pm_card_refundFail');
    const declined = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: merchant.apiKey, body: { charge_id: declinable.id, amount: 700, reason: 'requested_by_customer' } });
    assert.equal(declined.status, 201);
    assert.equal((await waitForRefund(fincore.url, merchant.apiKey, declined.body.id)).status, 'failed');
    const page = await desktop.newPage();
    await signIn(page);
    await page.goto(`${dashboardUrl()}#/refunds`);
    const table = page.getByTestId('refunds-table');
    await table.locator(`tr[data-id="${declined.body.id}"]`).waitFor();
    const fit = await table.evaluate((el) => {
      const wrap = el.parentElement as HTMLElement;
      const created = el.querySelector('thead th:last-child') as HTMLElement;
      return { text: created.textContent, scroll: wrap.scrollWidth, client: wrap.clientWidth, right: created.getBoundingClientRect().right, wrapRight: wrap.getBoundingClientRect().right };
    });
    assert.equal(fit.text, 'Created');
    assert.ok(fit.scroll <= fit.client, `the table scrolls sideways: ${JSON.stringify(fit)}`);
    assert.ok(fit.right <= fit.wrapRight + 0.5, `Created is cut: ${JSON.stringify(fit)}`);
    await page.close();
  });

  it('a dead charge job is retried from the dead jobs page and its charge then succeeds', async () => {
    const sim = fincore.simulatorUrl ?? '';
    // POST /sim/faults merges into the current settings ({} changes nothing): set the rate back to 0.
    const setFaults = async (faults: { failure_rate: number }) => {
      const answer = await fetch(`${sim}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(faults) });
      assert.equal(answer.status, 200);
      assert.equal(((await answer.json()) as { failure_rate: number }).failure_rate, faults.failure_rate);
    };
    await setFaults({ failure_rate: 1 });
    let chargeId = '';
    try {
      const created = await call<ChargeBody>(fincore.url, 'POST', '/v1/charges', { key: merchant.apiKey, body: { amount: 2500, currency: 'usd', payment_method: 'pm_card_visa' } });
      assert.equal(created.status, 201);
      chargeId = created.body.id;
      await eventually(async () => {
        const dead = await call<{ data: { ref: string }[] }>(fincore.url, 'GET', '/v1/admin/jobs?status=dead&limit=100', { key: ADMIN_KEY });
        return dead.body.data.some((job) => job.ref === chargeId) ? true : undefined;
      }, 15_000, 'the charge job to be dead-lettered');
    } finally {
      await setFaults({ failure_rate: 0 });
    }
    const page = await desktop.newPage();
    await signIn(page);
    await page.goto(`${dashboardUrl()}#/jobs`);
    const row = page.getByTestId('jobs-table').locator(`tr[data-ref="${chargeId}"]`);
    await row.locator('[data-status="dead"]').waitFor();
    assert.notEqual((await row.locator('td.error-text').textContent())?.trim() ?? '', '—', 'the last error is shown');
    await shot(page, 'jobs');
    await row.getByRole('button', { name: 'Retry' }).click();
    await row.locator('[data-status="queued"]').waitFor();
    assert.equal(await row.getByRole('button', { name: 'Retry' }).count(), 0);

    await row.locator(`a[href="#/charges/${chargeId}"]`).click();
    await page.getByTestId('charge-status').locator('[data-status="succeeded"]').waitFor({ timeout: 20_000 });
    assert.equal((await waitForCharge(fincore.url, merchant.apiKey, chargeId)).status, 'succeeded');
    await page.close();
  });

  it('an open review shows on the reviews page with both sides, its charge page says requires_review, and the operator resolves it', async () => {
    // A settled refund the PSP then reports for another amount: it goes to review (src/flows/settle.ts).
    const charge = await settledCharge(fincore.url, merchant.apiKey, 4200);
    const created = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: merchant.apiKey, body: { charge_id: charge.id, amount: 1200 } });
    assert.equal(created.status, 201);
    const settled = await waitForRefund(fincore.url, merchant.apiKey, created.body.id);
    assert.equal(settled.status, 'succeeded');
    const opened = await inTransaction(fincore.db.pool, (tx) =>
      settleRefund(tx, settled.id, { pspReference: '', status: 'succeeded', failureCode: null, failureMessage: null, amount: 1300, currency: 'usd' }, { type: 'psp_event', id: 'dash_review_evt' }),
    );
    assert.equal(opened, 'review_opened');

    const page = await desktop.newPage();
    await signIn(page);
    await page.goto(`${dashboardUrl()}#/reviews`);
    const row = page.getByTestId('reviews-table').locator(`tr[data-object-id="${settled.id}"]`);
    await row.waitFor();
    assert.equal(await row.locator('[data-reason]').getAttribute('data-reason'), 'amount_mismatch');
    const text = (await row.textContent()) ?? '';
    assert.match(text, /\$12\.00/, 'FinCore amount');
    assert.match(text, /\$13\.00/, 'PSP amount');
    assert.equal(await row.locator('[data-status="succeeded"]').count(), 2, "FinCore's status before and the PSP's");
    await shot(page, 'reviews');

    await page.goto(`${dashboardUrl()}#/charges/${charge.id}`);
    const refundRow = page.getByTestId('charge-refunds').locator(`tr[data-id="${settled.id}"]`);
    await refundRow.locator('[data-status="requires_review"]').waitFor();
    assert.equal(await refundRow.locator('[data-review-reason]').getAttribute('data-review-reason'), 'amount_mismatch');
    assert.equal(await refundRow.locator('[data-origin]').getAttribute('data-origin'), 'api');

    await page.goto(`${dashboardUrl()}#/reviews`);
    await row.waitFor();
    await row.getByLabel('Decision').selectOption('keep_fincore');
    await row.getByLabel('Note').fill('PSP statement shows 12.00 paid');
    await row.getByRole('button', { name: 'Resolve' }).click();
    await row.getByTestId('review-decision').waitFor();
    assert.match((await row.getByTestId('review-decision').textContent()) ?? '', /keep_fincore/);
    const after = await call<RefundBody>(fincore.url, 'GET', `/v1/refunds/${settled.id}`, { key: merchant.apiKey });
    assert.equal(after.body.status, 'succeeded');
    assert.equal(after.body.review_reason, null);
    await page.close();
  });

  it('phone width (390 px): the nav collapses and no page overflows horizontally', async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    try {
      const page = await phone.newPage();
      await signIn(page);
      await page.getByRole('button', { name: /Menu/ }).waitFor();
      assert.equal(await page.getByRole('link', { name: 'Dead jobs' }).isVisible(), false, 'nav links are behind the menu');
      await page.getByRole('button', { name: /Menu/ }).click();
      await page.getByRole('link', { name: 'Dead jobs' }).waitFor();
      await page.getByRole('link', { name: 'Overview' }).click();

      const pages: [string, string][] = [
        ['overview', '[data-testid="stats-now"]'],
        ['charges', '[data-testid="charges-table"] tr[data-id]'],
        ['refunds', '[data-testid="refunds-table"] tr[data-id]'],
        [`charges/${refundedCharge.id}`, '[data-testid="charge-timeline"] li'],
        ['jobs', '[data-testid="jobs-table"]'],
        ['reviews', '[data-testid="reviews-table"]'],
        ['webhooks', '[data-testid="webhooks-table"]'],
      ];
      for (const [route, ready] of pages) {
        await page.goto(`${dashboardUrl()}#/${route}`);
        await page.locator(ready).first().waitFor();
        const widths = await page.evaluate(() => ({ viewport: window.innerWidth, html: document.documentElement.scrollWidth, body: document.body.scrollWidth }));
        assert.ok(widths.html <= widths.viewport && widths.body <= widths.viewport, `#/${route} overflows at phone width: ${JSON.stringify(widths)}`);
        await page.screenshot({ path: join(ARTIFACTS, `dashboard-phone-${route.split('/')[0]}${route.includes('/') ? '-detail' : ''}.png`), fullPage: true });
      }
    } finally {
      await phone.close();
    }
  });

  it('the served bundle is the built one: its script and stylesheet load with their content types', async () => {
    const index = await fetch(dashboardUrl());
    assert.equal(index.status, 200);
    const html = await index.text();
    const assets = [...html.matchAll(/(?:src|href)="(\/dashboard\/assets\/[^"]+)"/g)].map((m) => m[1] ?? '');
    assert.ok(assets.length >= 2, html);
    assert.deepEqual(readdirSync(join(DEFAULT_DASHBOARD_DIST, 'assets')).sort(), assets.map((a) => a.replace('/dashboard/assets/', '')).sort());
    for (const asset of assets) {
      const answer = await fetch(`${fincore.url}${asset}`);
      assert.equal(answer.status, 200, asset);
      assert.match(answer.headers.get('content-type') ?? '', asset.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
    }
  });
});
