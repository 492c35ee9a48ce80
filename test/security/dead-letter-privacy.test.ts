/**
 * A dead-lettered job: the merchant's `job.dead_lettered` event (events API, and so webhooks)
 * says a failure class, never the internal error text (it showed `ECONNREFUSED 127.0.0.1:4999`);
 * operators still see the full error in the job row and the operator API.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { listDeadJobs } from '../../src/db/jobs.ts';
import type { FlowContext } from '../../src/flows/context.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { createSimulatorGateway } from '../../src/psp/simulator/adapter.ts';
import { ADMIN_KEY, call, createMerchant, eventually, startTestFinCore, type ChargeBody, type ListBody, type TestFinCore } from '../helpers.ts';

interface EventBody {
  type: string;
  data: { object_id: string; object: Record<string, unknown> };
}

describe('dead-letter privacy', () => {
  let fincore: TestFinCore;
  let apiKey: string;

  before(async () => {
    fincore = await startTestFinCore({ FINCORE_JOB_MAX_ATTEMPTS: '1' }, { api: true, worker: false, simulator: true });
    apiKey = (await createMerchant(fincore.url)).apiKey;
  });
  after(() => fincore.stop());

  it('the merchant sees failure_class psp_unavailable and a fixed message; the operator sees the connection error', async () => {
    const created = await call<ChargeBody>(fincore.url, 'POST', '/v1/charges', { key: apiKey, body: { amount: 1200, currency: 'usd', payment_method: 'pm_card_visa' } });
    assert.equal(created.status, 201);
    // The PSP at a port where nothing listens: the error text names a host and port.
    const unreachable: FlowContext = { ...fincore.ctx, psp: createSimulatorGateway({ baseUrl: 'http://127.0.0.1:9', webhookSecret: 'x', timeoutMs: 500 }) };
    const worker = await startWorker(unreachable, { pollIntervalMs: 20, leaseMs: 30_000, batchSize: 8, concurrency: 4, backoffBaseMs: 5, backoffMaxMs: 20 }, pino({ level: 'silent' }));
    let dead;
    try {
      dead = await eventually(async () => (await listDeadJobs(fincore.db.pool, 10)).find((j) => j.ref === created.body.id), 10_000, 'job to be dead-lettered');
    } finally {
      await worker.stop();
    }

    const events = await call<ListBody<EventBody>>(fincore.url, 'GET', '/v1/events?type=job.dead_lettered', { key: apiKey });
    assert.equal(events.status, 200);
    const event = events.body.data.find((e) => e.data.object_id === dead.id);
    assert.ok(event, JSON.stringify(events.body));
    const job = event.data.object;
    assert.equal(job.failure_class, 'psp_unavailable');
    assert.equal(typeof job.failure_message, 'string');
    assert.equal('last_error' in job, false);
    assert.doesNotMatch(JSON.stringify(event), /ECONNREFUSED|127\.0\.0\.1|PspTransientError|fetch failed|:9\b/);

    // Operators keep the details.
    assert.match(dead.last_error ?? '', /PspTransientError/);
    const operator = await call<{ data: Array<{ id: string; last_error: string | null }> }>(fincore.url, 'GET', '/v1/admin/jobs?status=dead', { key: ADMIN_KEY });
    assert.match(operator.body.data.find((j) => j.id === dead.id)?.last_error ?? '', /PspTransientError/);
  });
});
