/**
 * `npm run demo`: a realistic stream of money movements to watch in the dashboard.
 *
 * Against a running FinCore when FINCORE_URL and FINCORE_ADMIN_KEY are set (e.g. the values
 * `npm start` printed); otherwise it starts one of its own (embedded PGlite in a temporary
 * directory, built-in PSP simulator) and keeps it running after the stream until Ctrl-C.
 * Two merchants; charges in several currencies, some declined; partial and full refunds, refunds
 * the issuer declines, and bursts of concurrent refunds on one charge (some refused: never more
 * than the charge). DEMO_CHARGES sets the number of charges (default 60). It calls FinCore through
 * the typed client generated from the OpenAPI document (openapi/client.ts).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../src/config.ts';
import { startFinCore, type RunningFinCore } from '../src/main.ts';
import { createFinCoreClient, type FinCoreClient, type Schemas } from '../openapi/client.ts';

type Charge = Schemas['Charge'];

const CHARGES = Number.parseInt(process.env.DEMO_CHARGES ?? '60', 10);
const currencies = ['usd', 'eur', 'gbp', 'jpy', 'kwd'];
const amountIn = (currency: string) => (currency === 'jpy' ? 500 + Math.floor(Math.random() * 20_000) : currency === 'kwd' ? 5_000 + Math.floor(Math.random() * 90_000) : 500 + Math.floor(Math.random() * 30_000));
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;

/** Every POST carries a fresh Idempotency-Key, as a careful client's would. */
const idempotent = () => ({ header: { 'idempotency-key': randomUUID() } });

function progress(label: string, done: number, total: number): void {
  if (!process.stderr.isTTY && done !== total) return;
  const width = 30;
  const filled = Math.round((done / Math.max(total, 1)) * width);
  process.stderr.write(`\r${label.padEnd(22)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}${done === total ? '\n' : ''}`);
}

/** Reads the object with `read` until it is no longer pending (or the time is up). */
async function settled<T extends { status: string }>(read: () => Promise<{ data?: T; error?: unknown; response: Response }>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { data, error, response } = await read();
    if (!data) throw new Error(`reading answered ${response.status}: ${JSON.stringify(error)}`);
    if (data.status !== 'pending' || Date.now() > deadline) return data;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function main(): Promise<void> {
  let base = process.env.FINCORE_URL ?? '';
  let adminKey = process.env.FINCORE_ADMIN_KEY ?? '';
  let own: RunningFinCore | undefined;
  if (!base) {
    const config = loadConfig({ ...process.env, FINCORE_DATA_DIR: mkdtempSync(join(tmpdir(), 'fincore-demo-')), PORT: process.env.PORT ?? '3100', FINCORE_SIM_PORT: process.env.FINCORE_SIM_PORT ?? '4110', LOG_LEVEL: 'warn' });
    own = await startFinCore(config, { api: true, worker: true, simulator: true }, pino({ level: 'warn' }));
    base = own.apiUrl ?? '';
    adminKey = own.adminKey;
    process.stderr.write(`Started a FinCore of its own at ${base} (admin key ${adminKey}); embedded database in ${config.dataDir}\n`);
  } else if (!adminKey) {
    throw new Error('FINCORE_URL is set: set FINCORE_ADMIN_KEY too (npm start prints it)');
  }

  const admin = createFinCoreClient(base, adminKey);
  const merchants: { name: string; id: string; key: string; api: FinCoreClient }[] = [];
  for (const name of ['Northwind Coffee', 'Blue Harbor Books']) {
    const created = await admin.POST('/v1/merchants', { body: { name }, params: idempotent() });
    if (!created.data?.api_key) throw new Error(`creating a merchant answered ${created.response.status}: ${JSON.stringify(created.error)}`);
    merchants.push({ name, id: created.data.id, key: created.data.api_key, api: createFinCoreClient(base, created.data.api_key) });
  }

  // Charges: mostly cards that succeed, some declined, some whose refunds the issuer will decline.
  const charges: { merchant: (typeof merchants)[number]; charge: Charge }[] = [];
  for (let i = 0; i < CHARGES; i++) {
    const merchant = pick(merchants);
    const currency = pick(currencies);
    const method = i % 10 === 3 ? 'pm_card_chargeDeclined' : i % 10 === 7 ? 'pm_card_refundFail' : pick(['pm_card_visa', 'pm_card_mastercard']);
    const created = await merchant.api.POST('/v1/charges', { body: { amount: amountIn(currency), currency, payment_method: method, description: `Order #${1000 + i}` }, params: idempotent() });
    if (created.data) charges.push({ merchant, charge: created.data });
    progress('charges', i + 1, CHARGES);
  }
  let done = 0;
  for (const entry of charges) {
    const id = entry.charge.id;
    entry.charge = await settled(() => entry.merchant.api.GET('/v1/charges/{id}', { params: { path: { id } } }));
    progress('charges settling', ++done, charges.length);
  }

  // Refunds: partial, full, declined by the issuer, and bursts of concurrent refunds.
  const succeeded = charges.filter((c) => c.charge.status === 'succeeded');
  const refunds: { api: FinCoreClient; id: string }[] = [];
  let refused = 0;
  let step = 0;
  for (const [index, { merchant, charge }] of succeeded.entries()) {
    const kind = index % 4;
    if (kind === 0) {
      const partial = await merchant.api.POST('/v1/refunds', { body: { charge_id: charge.id, amount: Math.max(1, Math.floor(charge.amount / 3)), reason: 'requested_by_customer' }, params: idempotent() });
      if (partial.data) refunds.push({ api: merchant.api, id: partial.data.id });
    } else if (kind === 1) {
      const full = await merchant.api.POST('/v1/refunds', { body: { charge_id: charge.id, reason: 'duplicate' }, params: idempotent() });
      if (full.data) refunds.push({ api: merchant.api, id: full.data.id });
    } else if (kind === 2) {
      // Five refunds of 30% at once: at most three fit; the others are refused, never over-refunded.
      const burst = await Promise.all(Array.from({ length: 5 }, () => merchant.api.POST('/v1/refunds', { body: { charge_id: charge.id, amount: Math.max(1, Math.floor(charge.amount * 0.3)) }, params: idempotent() })));
      for (const answer of burst) {
        if (answer.data) refunds.push({ api: merchant.api, id: answer.data.id });
        else refused++;
      }
    }
    progress('refunds', ++step, succeeded.length);
  }
  let settledRefunds = 0;
  let failedRefunds = 0;
  for (const refund of refunds) {
    const final = await settled(() => refund.api.GET('/v1/refunds/{id}', { params: { path: { id: refund.id } } }));
    if (final.status === 'failed') failedRefunds++;
    progress('refunds settling', ++settledRefunds, refunds.length);
  }

  const declined = charges.length - succeeded.length;
  const example = succeeded.find((c) => c.charge.id)?.charge.id ?? '';
  process.stdout.write(
    [
      '',
      `Demo done: ${charges.length} charges (${declined} declined), ${refunds.length} refunds (${failedRefunds} declined by the issuer), ${refused} concurrent refunds refused (they would have over-refunded).`,
      'Merchants and their API keys (for the curl hints below and the walk-through in the README):',
      ...merchants.map((m) => `  ${m.name.padEnd(16)}  ${m.id}  ${m.key}`),
      '',
      'Where to look:',
      `  Dashboard:        ${base}/dashboard   (sign in with the admin key${own ? `: ${adminKey}` : ''})`,
      `  A charge:         ${base}/dashboard/#/charges/${example}   (refunds, ledger postings, timeline)`,
      `  Events API:       curl -H 'Authorization: Bearer ${merchants[0]?.key ?? '<merchant key>'}' ${base}/v1/events`,
      `  Charges API:      curl -H 'Authorization: Bearer ${merchants[0]?.key ?? '<merchant key>'}' ${base}/v1/charges/${example}`,
      // Works while FinCore runs: the CLI asks it through its admin API (README "Commands").
      `  Audit check:      ${own ? `FINCORE_ADMIN_KEY=${adminKey} ` : ''}npm run fincore -- audit verify --url ${base}`,
      '',
    ].join('\n'),
  );
  if (own && process.env.DEMO_EXIT !== '1') {
    process.stdout.write('This FinCore keeps running so you can look around. Ctrl-C stops it.\n');
    await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  }
  await own?.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
