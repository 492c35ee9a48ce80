/**
 * API keys can be rolled (a new key, shown once; the old one works for an optional overlap) and
 * revoked; each writes its event in the same transaction. A revoked key stops working at once in
 * the process that revoked it and within the key cache TTL (FINCORE_API_KEY_CACHE_MS) elsewhere.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/api/app.ts';
import { ADMIN_KEY, call, createMerchant, startTestFinCore, type TestFinCore } from '../helpers.ts';

let fincore: TestFinCore;
before(async () => {
  fincore = await startTestFinCore();
});
after(async () => fincore?.stop());

const works = async (key: string) => (await call(fincore.url, 'GET', '/v1/charges?limit=1', { key })).status;

interface RolledKey {
  id: string;
  object: string;
  merchant_id: string;
  api_key: string | null;
  expires_at: string | null;
  previous_keys: Array<{ id: string; expires_at: string }>;
}

async function eventsOf(merchantId: string, type: string) {
  const { rows } = await fincore.db.pool.query<{ data: Record<string, unknown>; cause_type: string; cause_id: string }>(
    'SELECT data, cause_type, cause_id FROM events WHERE merchant_id = $1 AND type = $2 ORDER BY sequence',
    [merchantId, type],
  );
  return rows;
}

describe('roll', () => {
  it('issues a new key shown once; the old key stops at once (no overlap), in this process even though it was cached', async () => {
    const merchant = await createMerchant(fincore.url, 'Rolling shop');
    assert.equal(await works(merchant.apiKey), 200); // now cached in this process
    const rolled = await call<RolledKey>(fincore.url, 'POST', `/v1/admin/merchants/${merchant.id}/api_keys/roll`, { key: ADMIN_KEY, body: {} });
    assert.equal(rolled.status, 201, JSON.stringify(rolled.body));
    assert.equal(rolled.body.object, 'api_key');
    assert.equal(rolled.body.merchant_id, merchant.id);
    assert.match(rolled.body.id, /^key_/);
    assert.match(rolled.body.api_key ?? '', /^sk_/);
    assert.notEqual(rolled.body.api_key, merchant.apiKey);
    assert.equal(rolled.body.expires_at, null);
    assert.equal(rolled.body.previous_keys.length, 1);
    assert.equal(await works(merchant.apiKey), 401, 'the old key is refused at once');
    assert.equal(await works(rolled.body.api_key ?? ''), 200);

    const [event, ...more] = await eventsOf(merchant.id, 'api_key.rolled');
    assert.equal(more.length, 0);
    assert.equal(event?.cause_type, 'api_request');
    assert.equal((event?.data.api_key as { id: string }).id, rolled.body.id);
    assert.doesNotMatch(JSON.stringify(event?.data), /sk_/, 'the event never holds a key');

    const listed = await call<{ data: Array<{ id: string; expires_at: string | null }> }>(fincore.url, 'GET', `/v1/admin/merchants/${merchant.id}/api_keys`, { key: ADMIN_KEY });
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.data.map((k) => k.id), [rolled.body.id, rolled.body.previous_keys[0]?.id]);
    assert.doesNotMatch(JSON.stringify(listed.body), /sk_/);
  });

  it('with expires_in_seconds the old key keeps working for the overlap, then stops', async () => {
    const merchant = await createMerchant(fincore.url, 'Overlapping shop');
    assert.equal(await works(merchant.apiKey), 200);
    const rolled = await call<RolledKey>(fincore.url, 'POST', `/v1/admin/merchants/${merchant.id}/api_keys/roll`, { key: ADMIN_KEY, body: { expires_in_seconds: 2 } });
    assert.equal(rolled.status, 201);
    const end = Date.parse(rolled.body.previous_keys[0]?.expires_at ?? '');
    assert.ok(end > Date.now() + 1000 && end <= Date.now() + 2500, `old key ends ${rolled.body.previous_keys[0]?.expires_at}`);
    assert.equal(await works(merchant.apiKey), 200, 'old key inside the overlap');
    assert.equal(await works(rolled.body.api_key ?? ''), 200, 'new key');
    await new Promise((r) => setTimeout(r, Math.max(0, end - Date.now()) + 100));
    assert.equal(await works(merchant.apiKey), 401, 'old key after the overlap (its cache entry ended with it)');
    assert.equal(await works(rolled.body.api_key ?? ''), 200);
  });

  it('an idempotent replay returns the roll with api_key null and rolls nothing more', async () => {
    const merchant = await createMerchant(fincore.url, 'Replayed roll');
    const headers = { 'idempotency-key': 'roll-1' };
    const first = await call<RolledKey>(fincore.url, 'POST', `/v1/admin/merchants/${merchant.id}/api_keys/roll`, { key: ADMIN_KEY, body: {}, headers });
    const again = await call<RolledKey>(fincore.url, 'POST', `/v1/admin/merchants/${merchant.id}/api_keys/roll`, { key: ADMIN_KEY, body: {}, headers });
    assert.equal(again.status, 201);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(again.body.id, first.body.id);
    assert.equal(again.body.api_key, null);
    assert.equal(await works(first.body.api_key ?? ''), 200, 'the key of the first roll stays valid');
    assert.equal((await eventsOf(merchant.id, 'api_key.rolled')).length, 1);
  });

  it('refuses an unknown merchant, a negative overlap and the wrong key', async () => {
    assert.equal((await call(fincore.url, 'POST', '/v1/admin/merchants/mer_nope/api_keys/roll', { key: ADMIN_KEY, body: {} })).status, 404);
    const merchant = await createMerchant(fincore.url, 'Validated roll');
    assert.equal((await call(fincore.url, 'POST', `/v1/admin/merchants/${merchant.id}/api_keys/roll`, { key: ADMIN_KEY, body: { expires_in_seconds: -1 } })).status, 400);
    assert.equal((await call(fincore.url, 'POST', `/v1/admin/merchants/${merchant.id}/api_keys/roll`, { key: merchant.apiKey, body: {} })).status, 401);
  });
});

describe('revoke', () => {
  it("ends every valid key of the merchant now, with an api_key.revoked event; a later roll gives it a key again", async () => {
    const merchant = await createMerchant(fincore.url, 'Compromised shop');
    assert.equal(await works(merchant.apiKey), 200);
    const revoked = await call<{ object: string; data: Array<{ id: string; expires_at: string }> }>(fincore.url, 'POST', `/v1/admin/merchants/${merchant.id}/api_keys/revoke`, { key: ADMIN_KEY, body: {} });
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    assert.equal(revoked.body.data.length, 1);
    assert.ok(Date.parse(revoked.body.data[0]?.expires_at ?? '') <= Date.now());
    assert.equal(await works(merchant.apiKey), 401);
    const [event] = await eventsOf(merchant.id, 'api_key.revoked');
    assert.deepEqual((event?.data.revoked as Array<{ id: string }>).map((k) => k.id), revoked.body.data.map((k) => k.id));

    const rolled = await call<RolledKey>(fincore.url, 'POST', `/v1/admin/merchants/${merchant.id}/api_keys/roll`, { key: ADMIN_KEY, body: {} });
    assert.equal(rolled.body.previous_keys.length, 0, 'nothing left to end');
    assert.equal(await works(rolled.body.api_key ?? ''), 200);
  });

  it('api_key_id revokes only that key (ends a roll overlap early)', async () => {
    const merchant = await createMerchant(fincore.url, 'Overlap ended early');
    const rolled = await call<RolledKey>(fincore.url, 'POST', `/v1/admin/merchants/${merchant.id}/api_keys/roll`, { key: ADMIN_KEY, body: { expires_in_seconds: 3600 } });
    assert.equal(await works(merchant.apiKey), 200);
    const oldKeyId = rolled.body.previous_keys[0]?.id;
    const revoked = await call<{ data: Array<{ id: string }> }>(fincore.url, 'POST', `/v1/admin/merchants/${merchant.id}/api_keys/revoke`, { key: ADMIN_KEY, body: { api_key_id: oldKeyId } });
    assert.deepEqual(revoked.body.data.map((k) => k.id), [oldKeyId]);
    assert.equal(await works(merchant.apiKey), 401);
    assert.equal(await works(rolled.body.api_key ?? ''), 200);
    const missing = await call(fincore.url, 'POST', `/v1/admin/merchants/${merchant.id}/api_keys/revoke`, { key: ADMIN_KEY, body: { api_key_id: oldKeyId } });
    assert.equal(missing.status, 404, 'already revoked');
  });

  it('another API process stops taking a revoked key within its key cache TTL', async () => {
    // A second API over the same database with its own key cache: another process, as far as the cache knows.
    const ttlMs = 1000;
    const other: FastifyInstance = await buildApp({ ctx: fincore.ctx, adminKey: ADMIN_KEY, bodyLimitBytes: 65536, logger: pino({ level: 'silent' }), version: 'test', apiKeyCacheMs: ttlMs });
    try {
      const merchant = await createMerchant(fincore.url, 'Revoked elsewhere');
      const viaOther = async () => (await other.inject({ method: 'GET', url: '/v1/charges?limit=1', headers: { authorization: `Bearer ${merchant.apiKey}` } })).statusCode;
      assert.equal(await viaOther(), 200); // cached in the other process
      const revokedAt = Date.now();
      assert.equal((await call(fincore.url, 'POST', `/v1/admin/merchants/${merchant.id}/api_keys/revoke`, { key: ADMIN_KEY, body: {} })).status, 200);
      assert.equal(await works(merchant.apiKey), 401, 'refused at once where it was revoked');
      let refusedAfter: number | undefined;
      while (Date.now() - revokedAt < ttlMs + 1000) {
        if ((await viaOther()) === 401) {
          refusedAfter = Date.now() - revokedAt;
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(refusedAfter !== undefined && refusedAfter <= ttlMs + 100, `refused by the other process after ${refusedAfter} ms (TTL ${ttlMs} ms)`);
    } finally {
      await other.close();
    }
  });

  it('the default key cache TTL, the documented bound, is 5 s', async () => {
    const { loadConfig } = await import('../../src/config.ts');
    assert.equal(loadConfig({}).apiKeyCacheMs, 5000);
  });
});
