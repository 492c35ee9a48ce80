/**
 * Starts a real FinCore (database, API over HTTP, worker, PSP simulator) for one test file:
 * a copy of the template data dir on embedded PGlite, or a fresh database on the server.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { loadConfig, type Config } from '../src/config.ts';
import { startFinCore, type Components, type RunningFinCore } from '../src/main.ts';
import { sealPendingEvents } from '../src/flows/audit-seal.ts';
import { insertCharge } from '../src/db/charges.ts';
import { appendEvent } from '../src/db/events.ts';
import { inTransaction } from '../src/db/pool.ts';
import { verifyAuditTrail } from '../src/flows/audit-verify.ts';
import { createFinCoreClient, type FinCoreClient, type Schemas } from '../openapi/client.ts';

export const ADMIN_KEY = 'adm_test_key';
export const onServer = Boolean(process.env.DATABASE_URL);

export interface TestDatabase {
  env: Record<string, string>;
  drop(): Promise<void>;
}

/** A fresh, empty database: a template copy (embedded) or a new database (server). */
export async function freshDatabase(): Promise<TestDatabase> {
  const serverUrl = process.env.DATABASE_URL;
  if (serverUrl) {
    const name = `fincore_t_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    return {
      env: { DATABASE_URL: url.toString() },
      async drop() {
        const c = new pg.Client({ connectionString: serverUrl });
        await c.connect();
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await c.end();
      },
    };
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'fincore-test-'));
  const template = process.env.FINCORE_TEST_TEMPLATE;
  if (template) cpSync(template, dataDir, { recursive: true });
  return {
    env: { DATABASE_URL: '', FINCORE_DATA_DIR: dataDir },
    async drop() {
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function testConfig(env: Record<string, string>): Config {
  return loadConfig({
    PORT: '0',
    FINCORE_SIM_PORT: '0',
    FINCORE_ADMIN_KEY: ADMIN_KEY,
    FINCORE_SIM_SETTLE_MS: '10',
    FINCORE_WORKER_POLL_MS: '100',
    FINCORE_JOB_BACKOFF_BASE_MS: '50',
    // Tests poll one merchant's objects in parallel far above a real client's rate; the per-merchant
    // limit is tested where it is set (test/security/rate-limit.test.ts). The other limits stay on.
    FINCORE_RATE_LIMIT_PER_S: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...env,
  });
}

export interface TestFinCore extends RunningFinCore {
  url: string;
  database: TestDatabase;
  /** Stops FinCore and drops its database. */
  stop(): Promise<void>;
}

/**
 * Seals what the audit relay has not sealed yet, then runs `fincore audit verify`'s checks:
 * every test's database must end with an intact audit trail and a ledger that agrees.
 */
export async function assertAuditTrailIntact(pool: pg.Pool): Promise<void> {
  while ((await sealPendingEvents(pool, 1000, async () => undefined)) > 0);
  const report = await verifyAuditTrail(pool);
  assert.deepEqual(report.problems, [], 'fincore audit verify found problems');
}

export async function startTestFinCore(
  env: Record<string, string> = {},
  components: Components = { api: true, worker: true, simulator: true },
  database?: TestDatabase,
  options: { auditCheckOnStop?: boolean } = {},
): Promise<TestFinCore> {
  const db = database ?? (await freshDatabase());
  const config = testConfig({ ...db.env, ...env });
  const fincore = await startFinCore(config, components, pino({ level: config.logLevel }));
  let stopped: Promise<void> | undefined;
  const stop = async () => {
    try {
      if (options.auditCheckOnStop !== false) await assertAuditTrailIntact(fincore.db.pool);
    } finally {
      await fincore.close();
      if (!database) await db.drop();
    }
  };
  return {
    ...fincore,
    url: fincore.apiUrl ?? '',
    database: db,
    stop: () => (stopped ??= stop()),
  };
}

export interface ApiAnswer<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

/** One real HTTP request to FinCore. */
export async function call<T = Record<string, unknown>>(
  baseUrl: string,
  method: string,
  path: string,
  options: { key?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<ApiAnswer<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  const response = await fetch(`${baseUrl}${path}`, { method, headers, body });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: (text ? JSON.parse(text) : {}) as T };
}

export async function createMerchant(baseUrl: string, name = 'Test Shop'): Promise<{ id: string; apiKey: string }> {
  const answer = await call<{ id: string; api_key: string }>(baseUrl, 'POST', '/v1/merchants', { key: ADMIN_KEY, body: { name } });
  if (answer.status !== 201) throw new Error(`merchant creation failed: ${answer.status} ${JSON.stringify(answer.body)}`);
  return { id: answer.body.id, apiKey: answer.body.api_key };
}

/** Polls until `check` returns a value (settlement is asynchronous), or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface ChargeBody {
  id: string;
  status: string;
  amount: number;
  amount_refunded: number;
  refunded: boolean;
  refunds: { object: 'list'; data: RefundBody[]; has_more: boolean; url: string };
  failure_code: string | null;
  [k: string]: unknown;
}
export interface RefundBody {
  id: string;
  status: string;
  amount: number;
  charge_id: string;
  failure_reason: string | null;
  [k: string]: unknown;
}

/** Creates a charge and waits until it settles (through the typed client, openapi/client.ts). */
export async function settledCharge(baseUrl: string, apiKey: string, amount = 5000, paymentMethod = 'pm_card_visa', currency = 'usd'): Promise<ChargeBody> {
  return settledChargeWithClient(createFinCoreClient(baseUrl, apiKey), amount, paymentMethod, currency) as Promise<ChargeBody>;
}

/** Creates a charge with a typed client and waits until it settles. */
export async function settledChargeWithClient(client: FinCoreClient, amount = 5000, paymentMethod = 'pm_card_visa', currency = 'usd'): Promise<Schemas['Charge']> {
  const created = await client.POST('/v1/charges', { body: { amount, currency, payment_method: paymentMethod } });
  if (created.response.status !== 201 || !created.data) throw new Error(`charge creation failed: ${created.response.status} ${JSON.stringify(created.error)}`);
  const id = created.data.id;
  return eventually(async () => {
    const { data } = await client.GET('/v1/charges/{id}', { params: { path: { id } } });
    return data && data.status !== 'pending' ? data : undefined;
  }, 10_000, `charge ${id} to settle`);
}

export async function waitForCharge(baseUrl: string, apiKey: string, id: string): Promise<ChargeBody> {
  const client = createFinCoreClient(baseUrl, apiKey);
  return eventually(async () => {
    const { data } = await client.GET('/v1/charges/{id}', { params: { path: { id } } });
    return data && data.status !== 'pending' ? (data as ChargeBody) : undefined;
  }, 10_000, `charge ${id} to settle`);
}

export async function waitForRefund(baseUrl: string, apiKey: string, id: string): Promise<RefundBody> {
  const client = createFinCoreClient(baseUrl, apiKey);
  return eventually(async () => {
    const { data } = await client.GET('/v1/refunds/{id}', { params: { path: { id } } });
    return data && data.status !== 'pending' ? (data as RefundBody) : undefined;
  }, 10_000, `refund ${id} to settle`);
}

/** The contract's error body. */
export interface ErrorBody {
  error: { type: string; code: string; message: string; param?: string };
}

export interface ListBody<T> {
  object: string;
  data: T[];
  has_more: boolean;
}

/** Create calls the PSP simulator received per `charges <ch_id>` / `refunds <re_id>` (replays count). */
export async function pspCreateCalls(simulatorUrl: string | undefined): Promise<Record<string, number>> {
  const response = await fetch(`${simulatorUrl}/sim/state`);
  return ((await response.json()) as { create_requests: Record<string, number> }).create_requests;
}

/**
 * A pending charge written without its CHARGE job (it stays pending as long as a test needs),
 * with the charge.created event the API would write, so the audit trail stays whole.
 */
export async function insertPendingCharge(pool: pg.Pool, charge: { id: string; merchantId: string; amount: number; currency?: string }): Promise<void> {
  await inTransaction(pool, async (tx) => {
    await insertCharge(tx, { id: charge.id, merchantId: charge.merchantId, amount: charge.amount, currency: charge.currency ?? 'usd', paymentMethod: 'pm_card_visa', description: null, metadata: {} });
    await appendEvent(tx, { merchantId: charge.merchantId, type: 'charge.created', objectType: 'charge', objectId: charge.id, data: { charge: { id: charge.id } }, cause: { type: 'operator', id: 'test_fixture' } });
  });
}
