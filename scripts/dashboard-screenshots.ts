/**
 * Takes the README's dashboard screenshots (1280x800) with playwright-core and Debian's Chromium
 * against a running FinCore:
 *
 *   npm start                      # in one terminal (prints the API URL and admin key)
 *   npm run dashboard:screenshots -- http://127.0.0.1:3000 <admin key> [--seed] [out dir]
 *
 * --seed first creates a merchant with a few charges and refunds through the public API so the
 * pages have something to show. Writes dashboard-overview.png and dashboard-charge.png to the out
 * dir (default docs/).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const args = process.argv.slice(2);
const seed = args.includes('--seed');
const [apiUrl, adminKey, outDir = 'docs'] = args.filter((a) => a !== '--seed');
if (!apiUrl || !adminKey) {
  process.stderr.write('usage: dashboard-screenshots <api url> <admin key> [--seed] [out dir]\n');
  process.exit(2);
}

async function api<T>(method: string, path: string, key: string, body?: unknown): Promise<T> {
  const response = await fetch(`${apiUrl}${path}`, { method, headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const answer = (await response.json()) as T;
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(answer)}`);
  return answer;
}

async function settled(path: string, key: string): Promise<{ id: string; status: string }> {
  for (let i = 0; i < 200; i++) {
    const object = await api<{ id: string; status: string }>('GET', path, key);
    if (object.status !== 'pending') return object;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${path} did not settle`);
}

async function seedData(): Promise<string> {
  const shop = await api<{ api_key: string }>('POST', '/v1/merchants', adminKey!, { name: 'Demo Coffee Roasters' });
  const other = await api<{ api_key: string }>('POST', '/v1/merchants', adminKey!, { name: 'Example Books' });
  const plan: [string, number, string, string][] = [
    [shop.api_key, 5000, 'usd', 'pm_card_visa'],
    [shop.api_key, 12990, 'eur', 'pm_card_mastercard'],
    [shop.api_key, 3200, 'jpy', 'pm_card_visa'],
    [other.api_key, 2450, 'usd', 'pm_card_chargeDeclined'],
    [other.api_key, 8800, 'gbp', 'pm_card_refundFail'],
    [other.api_key, 15750, 'kwd', 'pm_card_visa'],
  ];
  const charges: { id: string; key: string }[] = [];
  for (const [key, amount, currency, method] of plan) {
    const charge = await api<{ id: string }>('POST', '/v1/charges', key, { amount, currency, payment_method: method });
    charges.push({ id: charge.id, key });
  }
  for (const c of charges) await settled(`/v1/charges/${c.id}`, c.key);
  const [first, , , , refundFails] = charges;
  await api('POST', '/v1/refunds', first!.key, { charge_id: first!.id, amount: 1500, reason: 'requested_by_customer' });
  await api('POST', '/v1/refunds', refundFails!.key, { charge_id: refundFails!.id, amount: 800 });
  const second = await api<{ id: string }>('POST', '/v1/refunds', first!.key, { charge_id: first!.id, amount: 1000 });
  await settled(`/v1/refunds/${second.id}`, first!.key);
  return first!.id;
}

async function newestCharge(): Promise<string> {
  const list = await api<{ data: { id: string }[] }>('GET', '/v1/admin/charges?limit=100&status=succeeded', adminKey!);
  const charge = list.data[list.data.length - 1];
  if (!charge) throw new Error('no succeeded charge to show: run with --seed');
  return charge.id;
}

const chargeId = seed ? await seedData() : await newestCharge();
mkdirSync(outDir, { recursive: true });
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(`${apiUrl}/dashboard/`);
  await page.getByLabel('Admin key').fill(adminKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('card-charges').waitFor();
  // Some live points for the charts: ~20 s of polls while a little traffic runs.
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="stats-now"]')?.getAttribute('data-samples')) >= 10, undefined, { timeout: 60_000 });
  await page.screenshot({ path: join(outDir, 'dashboard-overview.png') });
  await page.goto(`${apiUrl}/dashboard/#/charges/${chargeId}`);
  await page.getByTestId('charge-timeline').locator('li').first().waitFor();
  await page.screenshot({ path: join(outDir, 'dashboard-charge.png') });
  process.stdout.write(`wrote ${join(outDir, 'dashboard-overview.png')} and ${join(outDir, 'dashboard-charge.png')}\n`);
} finally {
  await browser.close();
}
