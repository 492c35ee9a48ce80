/**
 * Issue 14, idempotency (API.md "Idempotency"), over real HTTP against a real FinCore:
 * - a request's identity is method + full path + body: the same key on another delivery's resend
 *   is a reuse (400 idempotency_key_reused), never a replay of the first delivery's answer;
 * - refusals decided before any work (validation, the key in flight) are not stored, so the
 *   corrected retry with the same key works; refusals decided by the endpoint's work are stored;
 * - one Idempotency-Key header only;
 * - records expire (FINCORE_IDEMPOTENCY_TTL_HOURS, at least 24) and an expired key is new;
 * - the purge deletes expired records only, in bounded batches, never a key in flight.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { buildApp } from '../../src/api/app.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { deleteExpiredIdempotencyRecords, findIdempotencyRecord, saveIdempotencyRecord } from '../../src/db/idempotency.ts';
import { claimIdempotencyKey, purgeExpiredIdempotencyKeys, storeIdempotentResponse, type IdempotentRequest } from '../../src/flows/idempotency.ts';
import { startIdempotencyPurger } from '../../src/jobs/idempotency-purger.ts';
import {
  ADMIN_KEY,
  call,
  createMerchant,
  eventually,
  onServer,
  settledCharge,
  startTestFinCore,
  type ApiAnswer,
  type ChargeBody,
  type ErrorBody,
  type ListBody,
  type RefundBody,
  type TestFinCore,
} from '../helpers.ts';

const visa = { amount: 2500, currency: 'usd', payment_method: 'pm_card_visa' };

function newKey(): string {
  return `key-${randomUUID()}`;
}

function assertError(answer: ApiAnswer<unknown>, status: number, code: string, param?: string): void {
  const context = `${answer.status} ${JSON.stringify(answer.body)}`;
  assert.equal(answer.status, status, context);
  const body = answer.body as ErrorBody;
  assert.deepEqual(Object.keys(body), ['error'], context);
  assert.equal(body.error.code, code, context);
  assert.equal(typeof body.error.message, 'string', context);
  if (param !== undefined) assert.equal(body.error.param, param, context);
}

function replayed(answer: ApiAnswer<unknown>): boolean {
  return answer.headers.get('idempotent-replayed') === 'true';
}

interface DeliveryBody {
  id: string;
  event_id: string;
  status: string;
  attempts: number;
}

/** A merchant's webhook receiver that answers 200 and counts what it got per event id. */
async function startReceiver(): Promise<{ server: Server; url: string; count(eventId: string): number }> {
  const received: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      received.push((JSON.parse(body) as { id: string }).id);
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`, count: (eventId) => received.filter((id) => id === eventId).length };
}

/** POST with the header lines exactly as given (fetch would join two values into one line). */
async function postRawHeaders(url: string, path: string, headerLines: [string, string][], body: unknown): Promise<{ status: number; body: ErrorBody & Record<string, unknown> }> {
  const payload = JSON.stringify(body);
  // With a raw header list Node adds no Host line of its own.
  const rawHeaders = [['Host', new URL(url).host], ...headerLines, ['Content-Type', 'application/json'], ['Content-Length', String(Buffer.byteLength(payload))]].flat();
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}${path}`, { method: 'POST', headers: rawHeaders }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as ErrorBody & Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

describe('idempotency (issue 14)', () => {
  let fincore: TestFinCore;
  let url: string;
  let merchant: { id: string; apiKey: string };
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  async function post<T = Record<string, unknown>>(path: string, body: unknown, idempotencyKey: string | undefined, apiKey = merchant.apiKey): Promise<ApiAnswer<T>> {
    const headers: Record<string, string> = {};
    if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
    return call<T>(url, 'POST', path, { key: apiKey, body, headers });
  }

  async function chargeCount(): Promise<number> {
    const { rows } = await fincore.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM payments WHERE merchant_id = $1', [merchant.id]);
    return rows[0]?.n ?? -1;
  }

  async function expire(scope: string, key: string): Promise<void> {
    const { rowCount } = await fincore.db.pool.query(`UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE scope = $1 AND key = $2`, [scope, key]);
    assert.equal(rowCount, 1, `a record under ${key}`);
  }

  before(async () => {
    receiver = await startReceiver();
    fincore = await startTestFinCore({ FINCORE_WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true', FINCORE_WEBHOOK_BACKOFF_BASE_MS: '50' });
    url = fincore.url;
    merchant = await createMerchant(url, 'Idempotency Shop');
  });
  after(async () => {
    await fincore.stop();
    await new Promise<void>((resolve) => receiver.server.close(() => resolve()));
  });

  describe('identity: method + full path + body', () => {
    it('the same key on another delivery\'s resend is 400 idempotency_key_reused, and that delivery is resent with its own key', async () => {
      const endpoint = await post<{ id: string }>('/v1/webhook_endpoints', { url: receiver.url, enabled_events: ['*'] }, undefined);
      assert.equal(endpoint.status, 201, JSON.stringify(endpoint.body));
      await settledCharge(url, merchant.apiKey, 1200);
      const delivered = await eventually(async () => {
        const list = await call<ListBody<DeliveryBody>>(url, 'GET', `/v1/webhook_endpoints/${endpoint.body.id}/deliveries?limit=100`, { key: merchant.apiKey });
        const done = list.body.data.filter((d) => d.status === 'succeeded');
        return done.length >= 2 ? done : undefined;
      }, 15_000, 'two delivered events');
      const [d1, d2] = delivered as [DeliveryBody, DeliveryBody];
      const resend = (d: DeliveryBody) => `/v1/webhook_endpoints/${endpoint.body.id}/deliveries/${d.id}/resend`;

      const key = newKey();
      const first = await post<DeliveryBody>(resend(d1), {}, key);
      assert.equal(first.status, 202, JSON.stringify(first.body));
      assert.equal(first.body.id, d1.id);
      const replay = await post<DeliveryBody>(resend(d1), {}, key);
      assert.equal(replay.status, 202);
      assert.ok(replayed(replay));
      assert.equal(replay.body.id, d1.id);

      // Same key, same method and body, other path: another request, never d1's answer.
      const reused = await post(resend(d2), {}, key);
      assertError(reused, 400, 'idempotency_key_reused');
      assert.equal((reused.body as unknown as ErrorBody).error.type, 'idempotency_error');
      assert.ok(!replayed(reused));

      await eventually(async () => (receiver.count(d1.event_id) === 2 ? true : undefined), 10_000, 'd1 delivered again');
      assert.equal(receiver.count(d2.event_id), 1, 'd2 was not resent by the reused key');
      const own = await post<DeliveryBody>(resend(d2), {}, newKey());
      assert.equal(own.status, 202, JSON.stringify(own.body));
      assert.equal(own.body.id, d2.id);
      await eventually(async () => (receiver.count(d2.event_id) === 2 ? true : undefined), 10_000, 'd2 delivered again');
    });

    it('the stored record names the full path, not the route template', async () => {
      const key = newKey();
      const missing = `/v1/webhook_endpoints/we_missing_${randomUUID().slice(0, 8)}/deliveries/whd_x/resend`;
      assertError(await post(missing, {}, key), 404, 'resource_missing');
      const { rows } = await fincore.db.pool.query<{ request_path: string }>('SELECT request_path FROM idempotency_keys WHERE scope = $1 AND key = $2', [merchant.id, key]);
      assert.deepEqual(rows, [{ request_path: missing }]);
    });
  });

  describe('what is stored against the key', () => {
    it('a refund refused by validation is not stored: the corrected retry with the same key creates the refund', async () => {
      const charge = await settledCharge(url, merchant.apiKey, 3000);
      const key = newKey();
      assertError(await post('/v1/refunds', { charge_id: charge.id, amount: -5 }, key), 400, 'parameter_invalid', 'amount');
      assertError(await post('/v1/refunds', { charge_id: charge.id, amount: 100, colour: 'red' }, key), 400, 'parameter_unknown', 'colour');
      const corrected = await post<RefundBody>('/v1/refunds', { charge_id: charge.id, amount: 100 }, key);
      assert.equal(corrected.status, 201, JSON.stringify(corrected.body));
      assert.ok(!replayed(corrected));
      const again = await post<RefundBody>('/v1/refunds', { charge_id: charge.id, amount: 100 }, key);
      assert.ok(replayed(again));
      assert.equal(again.body.id, corrected.body.id);
    });

    it('a charge refused by the handler before any work is not stored (unknown currency), nor an invalid JSON body', async () => {
      const key = newKey();
      const before = await chargeCount();
      assertError(await post('/v1/charges', { ...visa, currency: 'xyz' }, key), 400, 'parameter_invalid', 'currency');
      const broken = await call(url, 'POST', '/v1/charges', { key: merchant.apiKey, rawBody: '{"amount": 25', headers: { 'idempotency-key': key } });
      assertError(broken, 400, 'invalid_json');
      assert.equal(await chargeCount(), before);
      const corrected = await post<ChargeBody>('/v1/charges', visa, key);
      assert.equal(corrected.status, 201, JSON.stringify(corrected.body));
      assert.ok(!replayed(corrected));
      assert.equal(await chargeCount(), before + 1);
    });

    it('a webhook endpoint refused for its url (validation before the key is claimed) is not stored', async () => {
      const key = newKey();
      assertError(await post('/v1/webhook_endpoints', { url: 'ftp://shop.example/hooks', enabled_events: ['*'] }, key), 400, 'parameter_invalid', 'url');
      const corrected = await post<{ id: string }>('/v1/webhook_endpoints', { url: 'https://shop.example/hooks', enabled_events: ['*'] }, key);
      assert.equal(corrected.status, 201, JSON.stringify(corrected.body));
      assert.ok(!replayed(corrected));
    });

    it('a business refusal judged by the endpoint\'s work (amount_too_large on the charge) stays stored, like Stripe', async () => {
      const charge = await settledCharge(url, merchant.apiKey, 1000);
      const key = newKey();
      const body = { charge_id: charge.id, amount: 1001 };
      const first = await post('/v1/refunds', body, key);
      assertError(first, 400, 'amount_too_large', 'amount');
      const replay = await post('/v1/refunds', body, key);
      assert.ok(replayed(replay));
      assert.deepEqual(replay.body, first.body);
      assertError(await post('/v1/refunds', { charge_id: charge.id, amount: 10 }, key), 400, 'idempotency_key_reused');
    });

    it('a request refused with 409 while the key is in flight stores nothing; once it is free the same key works', { skip: onServer ? false : 'embedded PGlite: one session, an open transaction blocks every other connection, so no request can be in flight beside it' }, async () => {
      const key = newKey();
      const inFlight = await fincore.db.pool.connect();
      try {
        await inFlight.query('BEGIN');
        await inFlight.query('SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))', [merchant.id, key]);
        assertError(await post('/v1/charges', visa, key), 409, 'idempotency_key_in_use');
        const charge = await settledCharge(url, merchant.apiKey, 800);
        assertError(await post('/v1/refunds', { charge_id: charge.id, amount: 100 }, key), 409, 'idempotency_key_in_use');
        await inFlight.query('ROLLBACK');
      } finally {
        inFlight.release();
      }
      const { rows } = await fincore.db.pool.query('SELECT 1 FROM idempotency_keys WHERE scope = $1 AND key = $2', [merchant.id, key]);
      assert.equal(rows.length, 0);
      const created = await post<ChargeBody>('/v1/charges', visa, key);
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.ok(!replayed(created));
    });

    it('two Idempotency-Key headers: 400 parameter_invalid (param Idempotency-Key), nothing created or stored', async () => {
      const before = await chargeCount();
      const answer = await postRawHeaders(url, '/v1/charges', [['Authorization', `Bearer ${merchant.apiKey}`], ['Idempotency-Key', 'twice-a'], ['Idempotency-Key', 'twice-b']], visa);
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      assert.deepEqual(Object.keys(answer.body), ['error']);
      assert.equal(answer.body.error.type, 'invalid_request_error');
      assert.equal(answer.body.error.code, 'parameter_invalid');
      assert.equal(answer.body.error.param, 'Idempotency-Key');
      // The same value twice is still two headers.
      const same = await postRawHeaders(url, '/v1/charges', [['Authorization', `Bearer ${merchant.apiKey}`], ['Idempotency-Key', 'twice-c'], ['idempotency-key', 'twice-c']], visa);
      assert.equal(same.status, 400, JSON.stringify(same.body));
      assert.equal(same.body.error.param, 'Idempotency-Key');
      assert.equal(await chargeCount(), before);
      const { rows } = await fincore.db.pool.query(`SELECT key FROM idempotency_keys WHERE key LIKE 'twice-%'`);
      assert.deepEqual(rows, []);
      // One header line still works.
      const one = await postRawHeaders(url, '/v1/charges', [['Authorization', `Bearer ${merchant.apiKey}`], ['Idempotency-Key', 'once-a']], visa);
      assert.equal(one.status, 201, JSON.stringify(one.body));
    });
  });

  describe('expiry', () => {
    it('records count 24 hours by default; FINCORE_IDEMPOTENCY_TTL_HOURS sets more, never less than 24', async () => {
      const key = newKey();
      assert.equal((await post('/v1/charges', visa, key)).status, 201);
      const { rows } = await fincore.db.pool.query<{ hours: number }>(
        'SELECT extract(epoch FROM expires_at - created_at)::int / 3600 AS hours FROM idempotency_keys WHERE scope = $1 AND key = $2',
        [merchant.id, key],
      );
      assert.deepEqual(rows, [{ hours: 24 }]);

      assert.equal(loadConfig({}).idempotency.ttlHours, 24);
      assert.equal(loadConfig({ FINCORE_IDEMPOTENCY_TTL_HOURS: '72' }).idempotency.ttlHours, 72);
      for (const tooShort of ['23', '0', '1.5']) assert.throws(() => loadConfig({ FINCORE_IDEMPOTENCY_TTL_HOURS: tooShort }), ConfigError);

      // The app stores with the configured TTL (here 48 h), on the flow path and the one-call write.
      const app = await buildApp({ ctx: fincore.ctx, adminKey: ADMIN_KEY, bodyLimitBytes: 65536, logger: pino({ level: 'silent' }), version: 'test', idempotencyTtlHours: 48 });
      try {
        const keyed = newKey();
        const merchantAnswer = await app.inject({ method: 'POST', url: '/v1/merchants', headers: { authorization: `Bearer ${ADMIN_KEY}`, 'idempotency-key': keyed }, payload: { name: 'Long TTL' } });
        assert.equal(merchantAnswer.statusCode, 201, merchantAnswer.body);
        const chargeAnswer = await app.inject({ method: 'POST', url: '/v1/charges', headers: { authorization: `Bearer ${merchant.apiKey}`, 'idempotency-key': keyed }, payload: visa });
        assert.equal(chargeAnswer.statusCode, 201, chargeAnswer.body);
        const stored = await fincore.db.pool.query<{ scope: string; hours: number }>(
          'SELECT scope, extract(epoch FROM expires_at - created_at)::int / 3600 AS hours FROM idempotency_keys WHERE key = $1 ORDER BY scope',
          [keyed],
        );
        assert.deepEqual(stored.rows, [{ scope: 'admin', hours: 48 }, { scope: merchant.id, hours: 48 }].sort((a, b) => (a.scope < b.scope ? -1 : 1)));
      } finally {
        await app.close();
      }
    });

    it('an expired key is new: a charge with it is created again, and another body is no reuse', async () => {
      const key = newKey();
      const first = await post<ChargeBody>('/v1/charges', visa, key);
      assert.equal(first.status, 201);
      await expire(merchant.id, key);
      const second = await post<ChargeBody>('/v1/charges', visa, key);
      assert.equal(second.status, 201, JSON.stringify(second.body));
      assert.ok(!replayed(second), 'an expired record is not replayed');
      assert.notEqual(second.body.id, first.body.id);
      const replay = await post<ChargeBody>('/v1/charges', visa, key);
      assert.ok(replayed(replay));
      assert.equal(replay.body.id, second.body.id);

      await expire(merchant.id, key);
      const other = await post<ChargeBody>('/v1/charges', { ...visa, amount: 777 }, key);
      assert.equal(other.status, 201, JSON.stringify(other.body));
      assert.equal(other.body.amount, 777);
    });

    it('an expired key is new for refunds (fast path read and one-call write) and for merchant creation (locked flow)', async () => {
      const charge = await settledCharge(url, merchant.apiKey, 5000);
      const key = newKey();
      const first = await post<RefundBody>('/v1/refunds', { charge_id: charge.id, amount: 100 }, key);
      assert.equal(first.status, 201);
      await expire(merchant.id, key);
      const second = await post<RefundBody>('/v1/refunds', { charge_id: charge.id, amount: 100 }, key);
      assert.equal(second.status, 201, JSON.stringify(second.body));
      assert.ok(!replayed(second));
      assert.notEqual(second.body.id, first.body.id);

      const adminKey = newKey();
      const m1 = await post<{ id: string }>('/v1/merchants', { name: 'Expiring' }, adminKey, ADMIN_KEY);
      assert.equal(m1.status, 201);
      await expire('admin', adminKey);
      const m2 = await post<{ id: string }>('/v1/merchants', { name: 'Expiring' }, adminKey, ADMIN_KEY);
      assert.equal(m2.status, 201);
      assert.ok(!replayed(m2));
      assert.notEqual(m2.body.id, m1.body.id);
    });
  });

  describe('the epilogue (store_idempotency_record), called directly', () => {
    const record = (code: number) => ({ request_method: 'POST', request_path: '/v1/charges', request_hash: `h${code}`, response_code: code, response_body: { code } });

    it('stores a new key, keeps a live record (false), and replaces an expired one', async () => {
      const scope = merchant.id;
      const key = newKey();
      assert.equal(await saveIdempotencyRecord(fincore.db.pool, scope, key, record(201), 24), true, 'a new key is stored');
      assert.equal(await saveIdempotencyRecord(fincore.db.pool, scope, key, record(402), 24), false, 'a live record is not overwritten');
      assert.equal((await findIdempotencyRecord(fincore.db.pool, scope, key))?.response_code, 201);

      await expire(scope, key);
      assert.equal(await saveIdempotencyRecord(fincore.db.pool, scope, key, record(409), 48), true, 'an expired record is replaced');
      const stored = await findIdempotencyRecord(fincore.db.pool, scope, key);
      assert.equal(stored?.response_code, 409);
      assert.deepEqual(stored?.response_body, { code: 409 });
      const { rows } = await fincore.db.pool.query<{ hours: number }>(
        'SELECT round(extract(epoch FROM expires_at - now()) / 3600)::int AS hours FROM idempotency_keys WHERE scope = $1 AND key = $2',
        [scope, key],
      );
      assert.equal(rows[0]?.hours, 48, 'the replacement carries its own time to live');
    });
  });

  describe('purge of expired records', () => {
    const scope = 'purge_test_scope';

    async function seed(expired: number, live: number, prefix: string): Promise<void> {
      await fincore.db.pool.query(
        `INSERT INTO idempotency_keys (scope, key, request_method, request_path, request_hash, response_code, response_body, created_at, expires_at)
         SELECT $1, $2 || '-expired-' || i, 'POST', '/v1/charges', 'h', 201, '{}'::jsonb, now() - interval '25 hours', now() - interval '1 hour' - i * interval '1 second'
           FROM generate_series(1, $3::int) AS i
         UNION ALL
         SELECT $1, $2 || '-live-' || i, 'POST', '/v1/charges', 'h', 201, '{}'::jsonb, now(), now() + interval '24 hours'
           FROM generate_series(1, $4::int) AS i`,
        [scope, prefix, expired, live],
      );
    }

    async function counts(): Promise<{ expired: number; live: number }> {
      const { rows } = await fincore.db.pool.query<{ expired: number; live: number }>(
        `SELECT count(*) FILTER (WHERE expires_at <= now())::int AS expired, count(*) FILTER (WHERE expires_at > now())::int AS live
           FROM idempotency_keys WHERE scope = $1`,
        [scope],
      );
      return rows[0] ?? { expired: -1, live: -1 };
    }

    async function clearExpired(): Promise<void> {
      await purgeExpiredIdempotencyKeys(fincore.db.pool, { batchSize: 1000, maxBatches: 1000 });
    }

    it('one batch deletes at most its size, expired records only, oldest expiry first', async () => {
      await clearExpired();
      await seed(25, 7, 'batch');
      assert.equal(await deleteExpiredIdempotencyRecords(fincore.db.pool, 10), 10);
      assert.deepEqual(await counts(), { expired: 15, live: 7 });
      // Oldest expiry first: expired-25 expired longest ago (i seconds before the hour).
      const { rows } = await fincore.db.pool.query<{ key: string }>(`SELECT key FROM idempotency_keys WHERE scope = $1 AND key = 'batch-expired-25'`, [scope]);
      assert.deepEqual(rows, []);
      const report = await purgeExpiredIdempotencyKeys(fincore.db.pool, { batchSize: 10, maxBatches: 1 });
      assert.deepEqual(report, { deleted: 10, batches: 1 });
      assert.deepEqual(await purgeExpiredIdempotencyKeys(fincore.db.pool, { batchSize: 10, maxBatches: 100 }), { deleted: 5, batches: 1 });
      assert.deepEqual(await counts(), { expired: 0, live: 7 });
    });

    it('under steady load the table holds only live records: each pass removes what expired since the last', async () => {
      await clearExpired();
      const { rows: startRows } = await fincore.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM idempotency_keys WHERE scope = $1', [scope]);
      const start = startRows[0]?.n ?? 0;
      for (let round = 1; round <= 5; round++) {
        // Each round: 120 records written a TTL ago expire, 10 new ones are written.
        await seed(120, 10, `load-${round}`);
        const report = await purgeExpiredIdempotencyKeys(fincore.db.pool, { batchSize: 50, maxBatches: 100 });
        assert.deepEqual(report, { deleted: 120, batches: 3 });
        const now = await counts();
        assert.deepEqual(now, { expired: 0, live: start + round * 10 });
      }
    });

    it('the purger runs on its own timer beside the worker (FINCORE_IDEMPOTENCY_PURGE_INTERVAL_MS) and empties what expired', async () => {
      assert.equal(loadConfig({}).idempotency.purgeIntervalMs, 60_000);
      assert.equal(loadConfig({}).idempotency.purgeBatch, 500);
      // A FinCore of its own (worker only), so its timer is the one that purges.
      const worker = await startTestFinCore({ FINCORE_IDEMPOTENCY_PURGE_INTERVAL_MS: '50', FINCORE_IDEMPOTENCY_PURGE_BATCH: '7' }, { api: false, worker: true, simulator: false });
      try {
        const count = async (where: string) => {
          const { rows } = await worker.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM idempotency_keys WHERE ${where}`);
          return rows[0]?.n ?? -1;
        };
        await worker.db.pool.query(
          `INSERT INTO idempotency_keys (scope, key, request_method, request_path, request_hash, response_code, response_body, created_at, expires_at)
           SELECT 'timer', 'expired-' || i, 'POST', '/v1/charges', 'h', 201, '{}'::jsonb, now() - interval '25 hours', now() - interval '1 hour' FROM generate_series(1, 30) AS i
           UNION ALL
           SELECT 'timer', 'live-' || i, 'POST', '/v1/charges', 'h', 201, '{}'::jsonb, now(), now() + interval '24 hours' FROM generate_series(1, 3) AS i`,
        );
        await eventually(async () => ((await count('expires_at <= now()')) === 0 ? true : undefined), 10_000, 'the purger to delete the expired records');
        assert.equal(await count('expires_at > now()'), 3);
      } finally {
        await worker.stop();
      }

      // The timer itself, on this FinCore's database: a batch of 7 at a time, live records kept.
      await seed(30, 3, 'timer');
      const purger = startIdempotencyPurger(fincore.db.pool, { intervalMs: 20, batchSize: 7 }, pino({ level: 'silent' }));
      try {
        await eventually(async () => ((await counts()).expired === 0 ? true : undefined), 10_000, 'the purger to delete the expired records');
      } finally {
        await purger.stop();
      }
      assert.ok((await counts()).live >= 3);
    });

    it('a key in flight is never purged, even when its old record has expired', { skip: onServer ? false : 'embedded PGlite: one session, an open transaction blocks every other connection, so no purge can run beside a request in flight' }, async () => {
      await clearExpired();
      await seed(5, 0, 'flight');
      const key = 'flight-expired-3';
      const request: IdempotentRequest = { scope, key, method: 'POST', path: '/v1/charges', requestHash: 'h2', ttlHours: 24, started: false };
      const inFlight = await fincore.db.pool.connect();
      try {
        await inFlight.query('BEGIN');
        await claimIdempotencyKey(inFlight, request);
        assert.equal(request.started, true, 'the expired record does not stop the claim');
        assert.deepEqual(await purgeExpiredIdempotencyKeys(fincore.db.pool, { batchSize: 100, maxBatches: 10 }), { deleted: 4, batches: 1 });
        const { rows } = await fincore.db.pool.query<{ key: string }>('SELECT key FROM idempotency_keys WHERE scope = $1', [scope]);
        assert.ok(rows.some((r) => r.key === key), 'the in-flight key kept its row');
        assert.equal(await storeIdempotentResponse(inFlight, request, { status: 201, body: { id: 'ch_new' } }), true, 'the in-flight request replaces its expired record');
        await inFlight.query('COMMIT');
      } finally {
        inFlight.release();
      }
      const { rows } = await fincore.db.pool.query<{ request_hash: string; live: boolean }>('SELECT request_hash, expires_at > now() AS live FROM idempotency_keys WHERE scope = $1 AND key = $2', [scope, key]);
      assert.deepEqual(rows, [{ request_hash: 'h2', live: true }]);
      assert.deepEqual(await purgeExpiredIdempotencyKeys(fincore.db.pool, { batchSize: 100, maxBatches: 10 }), { deleted: 0, batches: 1 });
    });
  });
});
