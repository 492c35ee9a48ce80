/**
 * kill -9 of the whole all-in-one process (API, worker, simulator, embedded database) while
 * charges are in flight: after a restart on the same data dir, a client retrying with the same
 * Idempotency-Key converges on the same objects, and everything settles once.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { call, eventually, freshDatabase, type ChargeBody, type TestDatabase } from './helpers.ts';

function startProcess(env: Record<string, string>): { child: ChildProcess; url: () => Promise<string>; exited: Promise<unknown> } {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start'], {
    env: { ...process.env, ...env, PORT: '0', FINCORE_SIM_PORT: '0', FINCORE_ADMIN_KEY: 'adm_crash', LOG_LEVEL: 'warn', FINCORE_RECONCILE_AFTER_MS: '300', FINCORE_RECONCILE_INTERVAL_MS: '200', FINCORE_JOB_LEASE_MS: '1500' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return { child, exited, url: () => eventually(async () => /API:\s+(http:\/\/\S+)/.exec(output)?.[1], 30_000, `the API to start: ${output}`) };
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
});
