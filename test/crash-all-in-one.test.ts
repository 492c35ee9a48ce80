/**
 * kill -9 of the whole all-in-one process (API, worker, simulator, embedded database) while
 * charges are in flight: after a restart on the same data dir, a client retrying with the same
 * Idempotency-Key converges on the same objects, and everything settles once. A failpoint also
 * kills it exactly between the commit of a charge or refund and its response.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startPspSimulator } from '../psp-simulator/index.ts';
import { call, eventually, freshDatabase, pspCreateCalls, type ChargeBody, type RefundBody, type TestDatabase } from './helpers.ts';

interface FinCoreProcess {
  child: ChildProcess;
  url: () => Promise<string>;
  exited: Promise<unknown>;
}

function startProcess(env: Record<string, string>): FinCoreProcess {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start'], {
    env: { ...process.env, ...env, PORT: '0', FINCORE_SIM_PORT: '0', FINCORE_ADMIN_KEY: 'adm_crash', LOG_LEVEL: 'warn', FINCORE_RECONCILE_AFTER_MS: '300', FINCORE_RECONCILE_INTERVAL_MS: '200', FINCORE_JOB_LEASE_MS: '1500' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    child,
    exited,
    url: () => eventually(async () => /API:\s+(http:\/\/\S+)/.exec(output)?.[1], 30_000, `the API to start: ${output}`),
  };
}

describe('kill -9 of the all-in-one process', () => {
  let database: TestDatabase;
  const children: ChildProcess[] = [];
  before(async () => {
    database = await freshDatabase();
  });
  after(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await database.drop();
  });

  it('loses nothing and doubles nothing; retries with the same key converge', async () => {
    const first = startProcess(database.env);
    children.push(first.child);
    let url = await first.url();
    const merchant = await call<{ api_key: string }>(url, 'POST', '/v1/merchants', { key: 'adm_crash', body: { name: 'Crash shop' } });
    const apiKey = merchant.body.api_key;
    // The PSP answers slowly, so jobs are in flight when the process dies.
    const requests = Array.from({ length: 12 }, (_, i) => ({ key: randomUUID(), body: { amount: 1000 + i, currency: 'usd', payment_method: 'pm_card_visa' } }));
    const firstAnswers = await Promise.all(requests.map((r) => call<ChargeBody>(url, 'POST', '/v1/charges', { key: apiKey, body: r.body, headers: { 'idempotency-key': r.key } })));
    first.child.kill('SIGKILL');
    await first.exited;

    const second = startProcess(database.env);
    children.push(second.child);
    url = await second.url();
    // The client did not trust the first answers and retries every request with its key.
    const retried = await Promise.all(requests.map((r) => call<ChargeBody>(url, 'POST', '/v1/charges', { key: apiKey, body: r.body, headers: { 'idempotency-key': r.key } })));
    retried.forEach((answer, i) => {
      assert.equal(answer.status, 201);
      assert.equal(answer.body.id, firstAnswers[i]?.body.id, 'the retry converges on the first object');
      assert.equal(answer.headers.get('idempotent-replayed'), 'true');
    });
    for (const answer of retried) {
      await eventually(async () => ((await call<ChargeBody>(url, 'GET', `/v1/charges/${answer.body.id}`, { key: apiKey })).body.status === 'succeeded' ? true : undefined), 20_000, `charge ${answer.body.id} to settle`);
    }
    const list = await call<{ data: ChargeBody[] }>(url, 'GET', '/v1/charges?limit=100', { key: apiKey });
    assert.equal(list.body.data.length, requests.length, 'no charge was created twice');
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0);
  });

  it('a crash between commit and response: the retry replays what was committed, once', async () => {
    // A dies right after committing a charge, B right after committing a refund: each client saw
    // only a dropped connection, which is all a real client sees in that window. The PSP is
    // outside FinCore and outlives its crashes, as a real one does.
    let url = '';
    const psp = await startPspSimulator({ port: 0, webhookUrl: () => `${url}/v1/webhooks/psp`, webhookSecret: 'whsec_fincore_simulator_dev_only', settleMs: 30 });
    after(() => psp.close());
    const env = { ...database.env, FINCORE_SIM_URL: psp.url };
    const a = startProcess({ ...env, FINCORE_FAILPOINTS: 'charge.after_commit' });
    children.push(a.child);
    url = await a.url();
    const merchant = await call<{ api_key: string }>(url, 'POST', '/v1/merchants', { key: 'adm_crash', body: { name: 'Commit window shop' } });
    const apiKey = merchant.body.api_key;
    const charge = { key: randomUUID(), body: { amount: 4200, currency: 'eur', payment_method: 'pm_card_visa' } };
    const postCharge = () => call<ChargeBody>(url, 'POST', '/v1/charges', { key: apiKey, body: charge.body, headers: { 'idempotency-key': charge.key } });
    await assert.rejects(postCharge(), 'no answer reaches the client');
    await a.exited;
    assert.equal(a.child.signalCode, 'SIGKILL');

    const b = startProcess({ ...env, FINCORE_FAILPOINTS: 'refund.after_commit' });
    children.push(b.child);
    url = await b.url();
    const charged = await postCharge();
    assert.equal(charged.status, 201);
    assert.equal(charged.headers.get('idempotent-replayed'), 'true', 'the committed charge is replayed, not created again');
    const chargeId = charged.body.id;
    await eventually(async () => ((await call<ChargeBody>(url, 'GET', `/v1/charges/${chargeId}`, { key: apiKey })).body.status === 'succeeded' ? true : undefined), 20_000, 'the charge to settle');
    const charges = await call<{ data: ChargeBody[] }>(url, 'GET', '/v1/charges?limit=100', { key: apiKey });
    assert.deepEqual(charges.body.data.map((c) => c.id), [chargeId], 'exactly one charge exists');
    const refund = { key: randomUUID(), body: { charge_id: chargeId, amount: 1500 } };
    const postRefund = () => call<RefundBody>(url, 'POST', '/v1/refunds', { key: apiKey, body: refund.body, headers: { 'idempotency-key': refund.key } });
    await assert.rejects(postRefund(), 'no answer reaches the client');
    await b.exited;
    assert.equal(b.child.signalCode, 'SIGKILL');

    const c = startProcess(env);
    children.push(c.child);
    url = await c.url();
    const refunded = await postRefund();
    assert.equal(refunded.status, 201);
    assert.equal(refunded.headers.get('idempotent-replayed'), 'true', 'the committed refund is replayed, not created again');
    const refundId = refunded.body.id;
    await eventually(async () => ((await call<RefundBody>(url, 'GET', `/v1/refunds/${refundId}`, { key: apiKey })).body.status === 'succeeded' ? true : undefined), 20_000, 'the refund to settle');
    const settled = await call<ChargeBody>(url, 'GET', `/v1/charges/${chargeId}`, { key: apiKey });
    assert.deepEqual(settled.body.refunds.data.map((r) => r.id), [refundId], 'exactly one refund exists');
    assert.equal(settled.body.amount_refunded, 1500);
    // The PSP saw each once: the job committed with it ran once, nothing resubmitted it.
    const calls = await pspCreateCalls(psp.url);
    assert.equal(calls[`charges ${chargeId}`], 1);
    assert.equal(calls[`refunds ${refundId}`], 1);
    c.child.kill('SIGTERM');
    assert.equal(await c.exited, 0);
  });
});
