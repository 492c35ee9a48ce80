/**
 * Crash safety: a worker process killed with SIGKILL in the middle of its jobs loses nothing and
 * doubles nothing. Its claims expire after the lease, another worker process takes them over,
 * and every charge and refund ends settled with exactly one object at the PSP.
 * Needs a PostgreSQL server (separate processes cannot share one embedded data dir).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { checkInvariants, type SimState } from './faults/invariants.ts';
import { call, createMerchant, eventually, onServer, startTestFinCore, type ChargeBody, type TestFinCore } from './helpers.ts';

function workerProcess(databaseUrl: string, simulatorUrl: string): { child: ChildProcess; output: () => string } {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'worker'], {
    env: { ...process.env, DATABASE_URL: databaseUrl, FINCORE_SIM_URL: simulatorUrl, LOG_LEVEL: 'info', FINCORE_WORKER_POLL_MS: '50', FINCORE_JOB_LEASE_MS: '1500', FINCORE_WORKER_BATCH: '8' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

describe('a worker killed with SIGKILL mid-job', { skip: onServer ? false : 'needs a PostgreSQL server (DATABASE_URL): worker processes cannot share an embedded data dir' }, () => {
  let fincore: TestFinCore;
  const children: ChildProcess[] = [];

  before(async () => {
    fincore = await startTestFinCore({}, { api: true, worker: false, simulator: true });
  });
  after(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await fincore.stop();
  });

  it('loses nothing and doubles nothing', async () => {
    const sim = fincore.simulatorUrl ?? '';
    // Slow PSP answers, so the first worker is surely in the middle of PSP calls when it dies.
    await fetch(`${sim}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ latency_ms: 400 }) });
    const databaseUrl = fincore.database.env.DATABASE_URL ?? '';
    const first = workerProcess(databaseUrl, sim);
    children.push(first.child);
    await eventually(async () => (first.output().includes('worker started') ? true : undefined), 20_000, 'first worker to start');

    const apiKey = (await createMerchant(fincore.url, 'Crash Shop')).apiKey;
    const created = await Promise.all(
      Array.from({ length: 24 }, (_, i) => call<ChargeBody>(fincore.url, 'POST', '/v1/charges', { key: apiKey, body: { amount: 500 + i, currency: 'usd', payment_method: 'pm_card_visa' } })),
    );
    await eventually(async () => {
      const { rows } = await fincore.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE status = 'running'`);
      return (rows[0]?.n ?? 0) > 0 ? true : undefined;
    }, 10_000, 'the first worker to hold jobs');
    first.child.kill('SIGKILL');
    await new Promise((resolve) => first.child.once('exit', resolve));

    await fetch(`${sim}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ latency_ms: 0 }) });
    const second = workerProcess(databaseUrl, sim);
    children.push(second.child);

    for (const charge of created) {
      await eventually(async () => {
        const answer = await call<ChargeBody>(fincore.url, 'GET', `/v1/charges/${charge.body.id}`, { key: apiKey });
        return answer.body.status === 'succeeded' ? true : undefined;
      }, 20_000, `charge ${charge.body.id} to settle after the crash`);
    }
    const state = (await (await fetch(`${sim}/sim/state`)).json()) as SimState;
    assert.deepEqual(await checkInvariants(fincore.db.pool, state), []);
    second.child.kill('SIGTERM');
    await new Promise((resolve) => second.child.once('exit', resolve));
  });
});
