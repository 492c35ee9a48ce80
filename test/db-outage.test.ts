/**
 * While the database is unreachable the API answers 503 in the contract's shape with
 * Retry-After (never a hang or a 500), /readyz is 503 and /healthz stays 200.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/api/app.ts';
import { loadConfig } from '../src/config.ts';
import { attemptWriters, jobReaders, pspReferenceWriters } from '../src/context.ts';
import { JobWakeup } from '../src/db/wakeup.ts';
import { RefundFactsCache } from '../src/flows/refund-facts-cache.ts';
import { createSimulatorGateway } from '../src/psp/simulator/adapter.ts';

describe('database unreachable', () => {
  let app: FastifyInstance;
  let pool: pg.Pool;

  before(async () => {
    // A real pool to a port where no PostgreSQL listens: every connection is refused.
    pool = new pg.Pool({ host: '127.0.0.1', port: 9, user: 'postgres', connectionTimeoutMillis: 2000 });
    pool.on('error', () => {});
    const ctx = { pool, psp: createSimulatorGateway({ baseUrl: 'http://127.0.0.1:9', webhookSecret: 'x' }), wakeup: new JobWakeup(pool, false), jobMaxAttempts: 3, refundFacts: new RefundFactsCache(), pspReferences: pspReferenceWriters(pool), attempts: attemptWriters(pool), jobReads: jobReaders(pool), webhooks: loadConfig({}).webhooks, reconcileAfterMs: loadConfig({}).reconcile.afterMs };
    app = await buildApp({ ctx, adminKey: 'adm', bodyLimitBytes: 65536, logger: pino({ level: 'silent' }), version: 'test' });
  });
  after(async () => {
    await app.close();
    await pool.end();
  });

  it('POST /v1/charges answers 503 api_error with Retry-After', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/charges', headers: { authorization: 'Bearer sk_any' }, payload: { amount: 100, currency: 'usd', payment_method: 'pm_card_visa' } });
    assert.equal(res.statusCode, 503);
    assert.equal(res.headers['retry-after'], '1');
    const body = res.json() as { error: { type: string; code: string; message: string } };
    assert.equal(body.error.type, 'api_error');
    assert.equal(body.error.code, 'internal_error');
    assert.doesNotMatch(res.body, /ECONNREFUSED|127\.0\.0\.1|stack/);
  });

  it('/readyz is 503 and /healthz 200', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 503);
    assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
  });
});
