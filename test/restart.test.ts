/**
 * Embedded PostgreSQL keeps everything across a restart: charges, refunds, API keys and stored
 * idempotent responses live in the data dir, not in the process. And one data dir has one
 * opener at a time: a second FinCore on it is refused with a message that says why.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { DataDirLockedError } from '../src/db/embedded.ts';
import {
  call,
  createMerchant,
  freshDatabase,
  onServer,
  settledCharge,
  startTestFinCore,
  waitForRefund,
  type ChargeBody,
  type RefundBody,
  type TestDatabase,
  type TestFinCore,
} from './helpers.ts';

const SKIP = onServer ? 'embedded PGlite only: a data dir restart and its lock do not apply to a PostgreSQL server' : false;

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { env: { ...process.env, ...env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('restart on the same embedded data dir', { skip: SKIP }, () => {
  let database: TestDatabase;
  let fincore: TestFinCore | undefined;
  let apiKey: string;
  let chargeId: string;
  let refund: RefundBody;
  const refundBody = { amount: 1200, reason: 'requested_by_customer', metadata: { order: 'o-42' } };
  const idempotencyKey = `restart-${Date.now()}`;

  before(async () => {
    database = await freshDatabase();
  });
  after(async () => {
    await fincore?.stop();
    await database.drop();
  });

  it('creates a merchant, a settled charge and a refund with an Idempotency-Key, then stops', async () => {
    fincore = await startTestFinCore({}, undefined, database);
    apiKey = (await createMerchant(fincore.url, 'Restart Shop')).apiKey;
    const charge = await settledCharge(fincore.url, apiKey, 3000);
    assert.equal(charge.status, 'succeeded');
    chargeId = charge.id;
    const created = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body: { charge_id: chargeId, ...refundBody }, headers: { 'idempotency-key': idempotencyKey } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.headers.get('idempotent-replayed'), null);
    refund = created.body;
    assert.equal((await waitForRefund(fincore.url, apiKey, refund.id)).status, 'succeeded');
    await fincore.stop();
    fincore = undefined;
  });

  it('after a restart the charge and refund are there and the API key still works', async () => {
    fincore = await startTestFinCore({}, undefined, database);
    const charge = await call<ChargeBody>(fincore.url, 'GET', `/v1/charges/${chargeId}`, { key: apiKey });
    assert.equal(charge.status, 200, 'the API key survived the restart');
    assert.equal(charge.body.status, 'succeeded');
    assert.equal(charge.body.amount_refunded, 1200);
    assert.deepEqual(charge.body.refunds.data.map((r) => [r.id, r.amount, r.status]), [[refund.id, 1200, 'succeeded']]);
    const stored = await call<RefundBody>(fincore.url, 'GET', `/v1/refunds/${refund.id}`, { key: apiKey });
    assert.equal(stored.status, 200);
    assert.equal(stored.body.status, 'succeeded');
    assert.deepEqual(stored.body['metadata'], refundBody.metadata);
  });

  it('replaying the Idempotency-Key after the restart returns the same refund, marked replayed, and creates nothing', async () => {
    assert.ok(fincore);
    const replay = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body: { charge_id: chargeId, ...refundBody }, headers: { 'idempotency-key': idempotencyKey } });
    assert.equal(replay.status, 201);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(replay.body, refund, 'the first response, byte for byte');
    const { rows } = await fincore.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM refunds WHERE payment_id = $1', [chargeId]);
    assert.equal(rows[0]?.n, 1, 'no second refund');
    const jobs = await fincore.db.pool.query('SELECT 1 FROM jobs WHERE ref = $1', [refund.id]);
    assert.equal(jobs.rowCount, 1, 'no second job');

    const reused = await call<{ error: { code: string } }>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body: { charge_id: chargeId, amount: 1 }, headers: { 'idempotency-key': idempotencyKey } });
    assert.equal(reused.status, 400);
    assert.equal(reused.body.error.code, 'idempotency_key_reused');
  });

  it('another process opening the same data dir is refused: the directory is in use', async () => {
    assert.ok(fincore, 'FinCore holds the data dir');
    const dataDir = database.env.FINCORE_DATA_DIR;
    assert.ok(dataDir);
    const second = await runCli(['migrate'], { DATABASE_URL: '', FINCORE_DATA_DIR: dataDir });
    assert.equal(second.code, 2, `stdout: ${second.stdout} stderr: ${second.stderr}`);
    assert.match(second.stderr, /in use/);
    assert.match(second.stderr, new RegExp(`pid ${process.pid}`));
    // The holder is unharmed.
    assert.equal((await call(fincore.url, 'GET', '/readyz')).status, 200);
    assert.equal((await call(fincore.url, 'GET', `/v1/charges/${chargeId}`, { key: apiKey })).status, 200);
  });

  it(
    'a second FinCore in the same process opening the same data dir is refused too',
    async () => {
      assert.ok(fincore);
      let second: TestFinCore | undefined;
      try {
        await assert.rejects(
          (async () => {
            second = await startTestFinCore({}, { api: false, worker: false, simulator: false }, database);
          })(),
          (error: unknown) => error instanceof DataDirLockedError && /in use/.test(error.message),
        );
      } finally {
        // If it was wrongly let in, shut it down before it writes anything.
        await second?.close();
      }
    },
  );
});
