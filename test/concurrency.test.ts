/**
 * Money rules under concurrency. Simultaneous refunds of one charge serialize on the charge row
 * lock, so they never sum above the charge; and worker processes sharing one queue never make
 * the PSP do a job twice. On embedded PGlite every request already runs one at a time, so the
 * PostgreSQL server run is the one that really races.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import {
  call,
  createMerchant,
  eventually,
  onServer,
  settledCharge,
  startTestFinCore,
  waitForCharge,
  waitForRefund,
  type ApiAnswer,
  type ChargeBody,
  type RefundBody,
  type TestFinCore,
  type ErrorBody,
  pspCreateCalls,
} from './helpers.ts';

type RefundAnswer = ApiAnswer<RefundBody & ErrorBody>;

describe('concurrent refunds of one charge', () => {
  let fincore: TestFinCore;
  let apiKey: string;

  before(async () => {
    fincore = await startTestFinCore();
    apiKey = (await createMerchant(fincore.url, 'Race Shop')).apiKey;
  });
  after(() => fincore.stop());

  function refund(chargeId: string, amount: number | undefined): Promise<RefundAnswer> {
    const body: Record<string, unknown> = { charge_id: chargeId };
    if (amount !== undefined) body.amount = amount;
    return call<RefundBody & ErrorBody>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body });
  }

  /** Sum of the refunds that hold money (pending or succeeded), read from the database. */
  async function reservedInDb(chargeId: string): Promise<number> {
    const { rows } = await fincore.db.pool.query<{ total: number }>(
      `SELECT coalesce(sum(amount), 0)::bigint AS total FROM refunds WHERE payment_id = $1 AND status IN ('pending', 'succeeded')`,
      [chargeId],
    );
    return rows[0]?.total ?? -1;
  }

  async function settleAll(chargeId: string, answers: RefundAnswer[]): Promise<ChargeBody> {
    for (const a of answers) if (a.status === 201) assert.equal((await waitForRefund(fincore.url, apiKey, a.body.id)).status, 'succeeded');
    return waitForCharge(fincore.url, apiKey, chargeId);
  }

  it('20 concurrent partial refunds on one charge never sum above the charge', async () => {
    const charge = await settledCharge(fincore.url, apiKey, 10_000);
    assert.equal(charge.status, 'succeeded');

    const answers = await Promise.all(Array.from({ length: 20 }, () => refund(charge.id, 700)));
    const accepted = answers.filter((a) => a.status === 201);
    const refused = answers.filter((a) => a.status !== 201);
    assert.equal(accepted.length, 14, `14 x 700 fit in 10000: ${answers.map((a) => a.status).join(',')}`);
    assert.equal(refused.length, 6);
    for (const a of refused) {
      assert.equal(a.status, 400, JSON.stringify(a.body));
      assert.equal(a.body.error.code, 'amount_too_large');
    }
    assert.equal(new Set(accepted.map((a) => a.body.id)).size, 14, 'fourteen distinct refunds');

    const reserved = await reservedInDb(charge.id);
    assert.ok(reserved <= 10_000, `reserved ${reserved}`);
    assert.equal(reserved, 9800);

    const final = await settleAll(charge.id, answers);
    assert.equal(final.amount_refunded, 9800);
    assert.equal(final.refunded, false);
    // The charge embeds its 10 oldest refunds; all 14 are listed at its refunds url.
    assert.equal(final.refunds.data.length, 10);
    assert.equal(final.refunds.has_more, true);
    const all = await call<{ data: unknown[] }>(fincore.url, 'GET', `${final.refunds.url}&limit=100`, { key: apiKey });
    assert.equal(all.body.data.length, 14);
    // The remaining 200 is still refundable, and only that.
    assert.equal((await refund(charge.id, 201)).body.error.code, 'amount_too_large');
    const rest = await refund(charge.id, undefined);
    assert.equal(rest.status, 201);
    assert.equal(rest.body.amount, 200);
  });

  for (const round of [1, 2, 3]) {
    it(`a full refund (amount omitted) racing partial refunds never sums above the charge (round ${round})`, async () => {
      const amount = 10_000;
      const charge = await settledCharge(fincore.url, apiKey, amount);
      // 8 x 1500 = 12000 > 10000, plus one "everything left" request somewhere in the middle.
      const requests: Array<number | undefined> = Array.from({ length: 8 }, () => 1500);
      requests.splice(round * 2, 0, undefined);
      const answers = await Promise.all(requests.map((a) => refund(charge.id, a)));

      const accepted = answers.filter((a) => a.status === 201);
      for (const a of answers.filter((x) => x.status !== 201)) {
        assert.equal(a.status, 400, JSON.stringify(a.body));
        assert.ok(['amount_too_large', 'charge_already_refunded'].includes(a.body.error.code), a.body.error.code);
      }
      const sum = accepted.reduce((s, a) => s + a.body.amount, 0);
      // Whenever the full refund got in, it took exactly what was left; when it did not, the
      // partials had already left too little for another 1500, or nothing at all.
      assert.ok(sum <= amount, `accepted refunds sum to ${sum}`);
      const fullAccepted = answers[round * 2]?.status === 201;
      if (fullAccepted) assert.equal(sum, amount, 'the full refund takes everything left');
      else assert.ok(sum > amount - 1500, `the partials used the charge up to less than one partial: ${sum}`);
      const reserved = await reservedInDb(charge.id);
      assert.equal(reserved, sum);
      assert.ok(reserved <= amount);

      const final = await settleAll(charge.id, answers);
      assert.equal(final.amount_refunded, sum);
      assert.ok(final.amount_refunded <= final.amount);
    });
  }
});

describe('two worker processes on one queue', () => {
  it('never process a job twice at the PSP', { skip: onServer ? false : 'needs a PostgreSQL server (DATABASE_URL): two processes cannot share an embedded PGlite data dir' }, async (t) => {
    const fincore = await startTestFinCore({}, { api: true, worker: false, simulator: true });
    const children: ChildProcess[] = [];
    const logs: string[][] = [];
    try {
      const databaseUrl = fincore.database.env.DATABASE_URL;
      assert.ok(databaseUrl, 'the test database has a URL');
      assert.ok(fincore.simulatorUrl);

      for (let i = 0; i < 2; i++) {
        // LOG_LEVEL=debug (not warn): each worker logs 'job done' per job, which shows who did what.
        const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'worker'], {
          env: { ...process.env, DATABASE_URL: databaseUrl, FINCORE_SIM_URL: fincore.simulatorUrl, LOG_LEVEL: 'debug', FINCORE_WORKER_POLL_MS: '50', FINCORE_WORKER_BATCH: '4' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        const lines: string[] = [];
        let buffered = '';
        child.stdout?.on('data', (chunk: Buffer) => {
          buffered += chunk.toString('utf8');
          const parts = buffered.split('\n');
          buffered = parts.pop() ?? '';
          lines.push(...parts);
        });
        child.stderr?.on('data', (chunk: Buffer) => lines.push(`stderr: ${chunk.toString('utf8')}`));
        children.push(child);
        logs.push(lines);
      }
      // Both workers listen before any job exists, so neither can drain the queue alone at start-up.
      await eventually(async () => (logs.every((lines) => lines.some((l) => l.includes('worker started'))) ? true : undefined), 20_000, 'both workers to start');

      const apiKey = (await createMerchant(fincore.url, 'Two Workers Shop')).apiKey;
      const created = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          call<ChargeBody>(fincore.url, 'POST', '/v1/charges', { key: apiKey, body: { amount: 1000 + i, currency: 'usd', payment_method: i % 2 === 0 ? 'pm_card_visa' : 'pm_card_mastercard' } }),
        ),
      );
      for (const c of created) assert.equal(c.status, 201, JSON.stringify(c.body));
      const charges = await Promise.all(created.map((c) => waitForCharge(fincore.url, apiKey, c.body.id)));
      for (const c of charges) assert.equal(c.status, 'succeeded');

      // Charges in parallel; per charge a partial refund, then the rest.
      const refunds = (
        await Promise.all(
          charges.map(async (c) => [
            await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body: { charge_id: c.id, amount: 300 } }),
            await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body: { charge_id: c.id } }),
          ]),
        )
      ).flat();
      for (const r of refunds) assert.equal(r.status, 201, JSON.stringify(r.body));
      for (const r of refunds) assert.equal((await waitForRefund(fincore.url, apiKey, r.body.id)).status, 'succeeded');
      for (const c of charges) assert.equal((await waitForCharge(fincore.url, apiKey, c.id)).refunded, true);

      const jobs = await eventually(async () => {
        const { rows } = await fincore.db.pool.query<{ id: string; ref: string; status: string; attempts: number }>('SELECT id, ref, status, attempts FROM jobs');
        return rows.every((j) => j.status === 'done') ? rows : undefined;
      }, 10_000, 'all jobs done');
      assert.equal(jobs.length, charges.length + refunds.length, 'one job per charge and per refund');
      assert.deepEqual(jobs.filter((j) => j.attempts !== 1), [], 'every job ran exactly once');

      const state = { create_requests: await pspCreateCalls(fincore.simulatorUrl) };
      for (const c of charges) assert.equal(state.create_requests[`charges ${c.id}`], 1, `PSP create calls for ${c.id}`);
      for (const r of refunds) assert.equal(state.create_requests[`refunds ${r.body.id}`], 1, `PSP create calls for ${r.body.id}`);
      assert.equal(Object.keys(state.create_requests).length, charges.length + refunds.length);

      // Who did what: each worker logs one 'job done' line per job it completed.
      const done = logs.map((lines) => lines.filter((l) => l.includes('"job done"')).map((l) => (JSON.parse(l) as { job: { job_id: string } }).job.job_id));
      const all = done.flat();
      assert.equal(all.length, jobs.length, 'every job completed once, by one worker');
      assert.equal(new Set(all).size, jobs.length);
      t.diagnostic(`jobs completed per worker process: ${done.map((ids) => ids.length).join(' + ')}`);
      assert.ok(done.every((ids) => ids.length > 0), `both workers did work: ${done.map((ids) => ids.length).join(' + ')}`);
    } finally {
      for (const child of children) {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = once(child, 'exit');
          child.kill('SIGTERM');
          const [code] = (await exited) as [number | null];
          assert.equal(code, 0, `worker exits cleanly on SIGTERM: ${logs.flat().filter((l) => l.startsWith('stderr')).join('\n')}`);
        }
      }
      await fincore.stop();
    }
  });
});
