/**
 * The job queue: retries with backoff, dead-lettering after the last attempt (kept, visible,
 * with an audit event), replay of a dead job (twice is harmless), and lease expiry.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { claimDueJobs, enqueueJob, findJob, listDeadJobs, requeueDeadJob } from '../src/db/jobs.ts';
import type { FlowContext } from '../src/flows/context.ts';
import type { Queryable } from '../src/db/pool.ts';
import { CompletionBatch, startWorker } from '../src/jobs/worker.ts';
import { createSimulatorGateway } from '../src/psp/simulator/adapter.ts';
import { call, createMerchant, pspCreateCalls, eventually, startTestFinCore, waitForCharge, type ChargeBody, type TestFinCore } from './helpers.ts';

const workerOptions = { pollIntervalMs: 20, leaseMs: 30_000, batchSize: 8, concurrency: 16, backoffBaseMs: 5, backoffMaxMs: 20 };

describe('job queue', () => {
  let fincore: TestFinCore;
  let apiKey: string;

  before(async () => {
    // No in-process worker: each test runs the workers it needs.
    fincore = await startTestFinCore({ FINCORE_JOB_MAX_ATTEMPTS: '3' }, { api: true, worker: false, simulator: true });
    apiKey = (await createMerchant(fincore.url)).apiKey;
  });
  after(() => fincore.stop());

  it('a job whose PSP is unreachable is retried, then dead-lettered with an event; replaying it (twice) settles the charge once', async () => {
    const created = await call<ChargeBody>(fincore.url, 'POST', '/v1/charges', { key: apiKey, body: { amount: 1200, currency: 'usd', payment_method: 'pm_card_visa' } });
    assert.equal(created.status, 201);
    const chargeId = created.body.id;

    // A worker whose PSP gateway points at a port where nothing listens: every call is transient.
    const unreachable: FlowContext = { ...fincore.ctx, psp: createSimulatorGateway({ baseUrl: 'http://127.0.0.1:9', webhookSecret: 'x', timeoutMs: 500 }) };
    const failing = await startWorker(unreachable, workerOptions, pino({ level: 'silent' }));
    const dead = await eventually(async () => (await listDeadJobs(fincore.db.pool, 10)).find((j) => j.ref === chargeId), 10_000, 'job to be dead-lettered');
    await failing.stop();

    assert.equal(dead.attempts, 3);
    assert.match(dead.last_error ?? '', /PspTransientError/);
    const events = await fincore.db.pool.query<{ type: string }>(`SELECT type FROM events WHERE object_id = $1`, [dead.id]);
    assert.deepEqual(events.rows.map((e) => e.type), ['job.dead_lettered']);
    // Unknown is not failed: the charge is still pending, its money not decided.
    assert.equal((await call<ChargeBody>(fincore.url, 'GET', `/v1/charges/${chargeId}`, { key: apiKey })).body.status, 'pending');

    assert.ok(await requeueDeadJob(fincore.db.pool, dead.id));
    assert.equal(await requeueDeadJob(fincore.db.pool, dead.id), undefined, 'a second replay of a job already queued changes nothing');

    const healthy = await startWorker(fincore.ctx, workerOptions, pino({ level: 'silent' }));
    try {
      const charge = await waitForCharge(fincore.url, apiKey, chargeId);
      assert.equal(charge.status, 'succeeded', JSON.stringify(charge));
      await eventually(async () => ((await findJob(fincore.db.pool, dead.id))?.status === 'done' ? true : undefined), 5000, 'job done');
    } finally {
      await healthy.stop();
    }
    // Replaying a job that already succeeded is harmless: the PSP saw one create call.
    assert.equal((await pspCreateCalls(fincore.simulatorUrl))[`charges ${chargeId}`], 1);
  });

  it('a job whose worker died is claimed again once its lease expires', async () => {
    const created = await call<ChargeBody>(fincore.url, 'POST', '/v1/charges', { key: apiKey, body: { amount: 700, currency: 'eur', payment_method: 'pm_card_visa' } });
    // A "worker" claims the job with a short lease and then dies without finishing it.
    const claimed = await claimDueJobs(fincore.db.pool, 'wrk_died', 10, 200);
    assert.ok(claimed.some((j) => j.ref === created.body.id));
    assert.equal((await claimDueJobs(fincore.db.pool, 'wrk_other', 10, 200)).length, 0, 'a leased job is not claimed twice');

    const worker = await startWorker(fincore.ctx, workerOptions, pino({ level: 'silent' }));
    try {
      const charge = await waitForCharge(fincore.url, apiKey, created.body.id);
      assert.equal(charge.status, 'succeeded');
    } finally {
      await worker.stop();
    }
  });

  it('a slow PSP call does not hold back the jobs claimed after it', async () => {
    const slow = await call<ChargeBody>(fincore.url, 'POST', '/v1/charges', { key: apiKey, body: { amount: 900, currency: 'usd', payment_method: 'pm_card_visa' } });
    let release = (): void => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const psp = fincore.ctx.psp;
    const slowPsp: FlowContext = {
      ...fincore.ctx,
      psp: { ...psp, createCharge: async (request) => { if (request.reference === slow.body.id) await gate; return psp.createCharge(request); } },
    };
    const worker = await startWorker(slowPsp, { ...workerOptions, batchSize: 4, concurrency: 8 }, pino({ level: 'silent' }));
    try {
      await eventually(async () => ((await findJob(fincore.db.pool, (await fincore.db.pool.query<{ id: string }>('SELECT id FROM jobs WHERE ref = $1', [slow.body.id])).rows[0]?.id ?? ''))?.status === 'running' ? true : undefined), 5000, 'slow job claimed');
      // Claimed in batches of 4 behind the slow one: all must finish while it still hangs.
      const others: string[] = [];
      for (let i = 0; i < 20; i++) others.push((await call<ChargeBody>(fincore.url, 'POST', '/v1/charges', { key: apiKey, body: { amount: 100 + i, currency: 'usd', payment_method: 'pm_card_visa' } })).body.id);
      for (const id of others) assert.equal((await waitForCharge(fincore.url, apiKey, id)).status, 'succeeded');
      assert.equal((await call<ChargeBody>(fincore.url, 'GET', `/v1/charges/${slow.body.id}`, { key: apiKey })).body.status, 'pending');
      release();
      assert.equal((await waitForCharge(fincore.url, apiKey, slow.body.id)).status, 'succeeded');
    } finally {
      release();
      await worker.stop();
    }
  });

  it('finished jobs are marked done in groups, and only under the lease of the worker that holds them', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push(await enqueueJob(fincore.db.pool, { type: 'CHARGE', ref: `ch_group_${i}`, maxAttempts: 3 }));
    const claimed = await claimDueJobs(fincore.db.pool, 'wrk_group', 100, 30_000);
    assert.deepEqual(claimed.map((j) => j.id).filter((id) => ids.includes(id)).sort(), [...ids].sort());

    const statements: string[] = [];
    const counting = { query: (text: string, values?: unknown[]) => (statements.push(text), fincore.db.pool.query(text, values)) } as unknown as Queryable;
    const shared = new CompletionBatch(counting, 'wrk_group');
    await Promise.all(ids.slice(0, 10).map((id) => shared.complete(id)));
    assert.equal(statements.length, 1, 'ten jobs finishing together take one statement');
    for (const id of ids.slice(0, 10)) assert.equal((await findJob(fincore.db.pool, id))?.status, 'done');

    // Another worker's completion of a job it does not hold changes nothing.
    await new CompletionBatch(fincore.db.pool, 'wrk_stranger').complete(ids[10] as string);
    assert.equal((await findJob(fincore.db.pool, ids[10] as string))?.status, 'running');
  });
});
