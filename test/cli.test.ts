/**
 * The `fincore` CLI as a user runs it: `start` in a child process prints its URLs and admin key,
 * a charge and a refund settle, SIGTERM shuts down cleanly and releases the data dir, and the
 * jobs commands answer.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call, eventually, freshDatabase, type ChargeBody, type RefundBody, type TestDatabase } from './helpers.ts';

function cli(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { env: { ...process.env, ...env, LOG_LEVEL: 'warn' }, encoding: 'utf8' });
}

interface RunningCli {
  output(): string;
  stop(): Promise<number | null>;
}

/** `fincore start` in a child process; resolves once it printed its API URL. */
async function startCli(env: Record<string, string>): Promise<RunningCli & { api: string; adminKey: string | undefined }> {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start'], {
    env: { ...process.env, PORT: '0', FINCORE_SIM_PORT: '0', FINCORE_ADMIN_KEY: '', LOG_LEVEL: 'warn', ...env },
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const stop = () => {
    child.kill('SIGTERM');
    return exited;
  };
  try {
    const api = await eventually(async () => /API:\s+(http:\/\/\S+)/.exec(output)?.[1], 30_000, 'the API URL to be printed');
    await eventually(async () => (output.includes('Press Ctrl-C') ? true : undefined), 5000, 'the banner to be printed');
    const adminKey = /Admin key:\s+(\S+)/.exec(output)?.[1];
    return { api, adminKey, output: () => output, stop };
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n${output}`);
  }
}

describe('fincore CLI', () => {
  let database: TestDatabase;
  before(async () => {
    database = await freshDatabase();
  });
  after(() => database.drop());

  it('start: serves, settles a charge and a refund, and stops cleanly on SIGTERM', async () => {
    const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start'], {
      env: { ...process.env, ...database.env, PORT: '0', FINCORE_SIM_PORT: '0', FINCORE_ADMIN_KEY: '', LOG_LEVEL: 'warn' },
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const api = await eventually(async () => /API:\s+(http:\/\/\S+)/.exec(output)?.[1], 30_000, 'the API URL to be printed');
      const adminKey = await eventually(async () => /Admin key:\s+(\S+)/.exec(output)?.[1], 5000, 'the admin key to be printed');
      assert.match(output, /API docs:\s+http:\/\/\S+\/docs/);
      assert.match(output, /Dashboard:\s+http:\/\/\S+\/dashboard/);

      const merchant = await call<{ api_key: string }>(api, 'POST', '/v1/merchants', { key: adminKey, body: { name: 'CLI shop' } });
      assert.equal(merchant.status, 201);
      const key = merchant.body.api_key;
      const charge = await call<ChargeBody>(api, 'POST', '/v1/charges', { key, body: { amount: 2500, currency: 'jpy', payment_method: 'pm_card_visa' } });
      const settled = await eventually(async () => {
        const c = await call<ChargeBody>(api, 'GET', `/v1/charges/${charge.body.id}`, { key });
        return c.body.status === 'succeeded' ? c.body : undefined;
      }, 5000, 'charge to settle');
      assert.equal(settled.currency, 'jpy');
      const refund = await call<RefundBody>(api, 'POST', '/v1/refunds', { key, body: { charge_id: charge.body.id } });
      assert.equal(refund.status, 201);
      await eventually(async () => ((await call<RefundBody>(api, 'GET', `/v1/refunds/${refund.body.id}`, { key })).body.status === 'succeeded' ? true : undefined), 5000, 'refund to settle');
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, output);
    if (database.env.FINCORE_DATA_DIR) assert.equal(existsSync(join(database.env.FINCORE_DATA_DIR, 'fincore.lock')), false, 'the data dir lock is released');
  });

  it('embedded: a restart on the same data dir keeps the generated admin key (stored 0600)', { skip: Boolean(process.env.DATABASE_URL) }, async () => {
    const own = await freshDatabase();
    try {
      const first = await startCli(own.env);
      assert.ok(first.adminKey, first.output());
      const merchant = await call<{ api_key: string }>(first.api, 'POST', '/v1/merchants', { key: first.adminKey, body: { name: 'Before restart' } });
      assert.equal(merchant.status, 201);
      assert.equal(await first.stop(), 0, first.output());
      const keyFile = join(own.env.FINCORE_DATA_DIR!, 'admin.key');
      assert.equal(statSync(keyFile).mode & 0o777, 0o600);

      const second = await startCli(own.env);
      try {
        assert.equal(second.adminKey, first.adminKey, 'the same key is printed again');
        const list = await call<{ data: Array<{ name: string }> }>(second.api, 'GET', '/v1/admin/merchants', { key: first.adminKey });
        assert.equal(list.status, 200);
        assert.ok(list.body.data.some((m) => m.name === 'Before restart'));
      } finally {
        assert.equal(await second.stop(), 0, second.output());
      }

      // FINCORE_ADMIN_KEY still wins over the stored key.
      const third = await startCli({ ...own.env, FINCORE_ADMIN_KEY: 'adm_from_environment_0123456789' });
      try {
        assert.equal((await call(third.api, 'GET', '/v1/admin/merchants', { key: 'adm_from_environment_0123456789' })).status, 200);
        assert.equal((await call(third.api, 'GET', '/v1/admin/merchants', { key: first.adminKey })).status, 401);
      } finally {
        await third.stop();
      }
    } finally {
      await own.drop();
    }
  });

  it('jobs dead / jobs retry answer on the same database', () => {
    const dead = cli(['jobs', 'dead'], database.env);
    assert.equal(dead.status, 0, dead.stderr);
    assert.match(dead.stdout, /no dead-lettered jobs/);
    const retry = cli(['jobs', 'retry', 'job_DOESNOTEXIST'], database.env);
    assert.equal(retry.status, 1);
    assert.match(retry.stderr, /no job job_DOESNOTEXIST/);
    const usage = cli(['frobnicate'], database.env);
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /usage: fincore/);
  });
});
