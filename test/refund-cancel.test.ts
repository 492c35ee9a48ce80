/**
 * POST /v1/refunds/{id}/cancel through real HTTP: a refund no PSP call was started for, or whose
 * every call failed before reaching the PSP (a PSP outage: connection refused, attempts
 * `not_sent`), is canceled (job withdrawn, amount refundable again, refund.canceled, ledger
 * release); once the PSP may have seen it (a call in flight, one that timed out) the cancel is
 * refused with refund_not_cancelable. Raced against a running worker, on the postgres queue and
 * on the SQS path (outbox relay -> Lambda handler), also right when a PSP outage ends, exactly one
 * of the two wins for every refund: canceled with no PSP refund at the simulator, or sent to the
 * PSP with the cancel refused. The audit trail and ledger are checked when FinCore stops.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import pino from 'pino';
import { claimDueJobs, findJob, WITHDRAWN, type JobRecord } from '../src/db/jobs.ts';
import { relayOnce } from '../src/jobs/outbox-relay.ts';
import type { JobMessage } from '../src/jobs/message.ts';
import { startWorker, type RunningWorker } from '../src/jobs/worker.ts';
import { createHandler } from '../src/lambda.ts';
import { ADMIN_KEY, call, createMerchant, eventually, startTestFinCore, testConfig, waitForRefund, type ChargeBody, type ErrorBody, type RefundBody, type TestFinCore } from './helpers.ts';

const silent = pino({ level: 'silent' });
const workerOptions = { pollIntervalMs: 10, leaseMs: 30_000, batchSize: 4, concurrency: 8, backoffBaseMs: 5, backoffMaxMs: 20 };

interface SimRefund {
  reference: string;
  status: string;
}

interface Attempt {
  attempt_number: number;
  finished_at: string | null;
  outcome: string | null;
  message: string | null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sleepUntil = (at: number) => sleep(Math.max(0, at - Date.now()));

describe('POST /v1/refunds/{id}/cancel', () => {
  let fincore: TestFinCore;
  let apiKey: string;
  let chargeWorker: RunningWorker;

  before(async () => {
    // No money worker: refunds stay queued until a test runs one. Charges settle through a
    // worker of the CHARGE lane only.
    // A PSP call times out after 1 s (the timeout test), and a refund retried through an outage
    // is never dead-lettered for it.
    fincore = await startTestFinCore({ FINCORE_PSP_TIMEOUT_MS: '1000', FINCORE_JOB_MAX_ATTEMPTS: '100' }, { api: true, worker: false, simulator: true });
    apiKey = (await createMerchant(fincore.url)).apiKey;
    chargeWorker = await startWorker(fincore.ctx, { ...workerOptions, jobTypes: ['CHARGE'] }, silent);
  });
  after(async () => {
    await chargeWorker.stop();
    await fincore.stop();
  });

  async function succeededCharge(amount: number): Promise<ChargeBody> {
    const created = await call<ChargeBody>(fincore.url, 'POST', '/v1/charges', { key: apiKey, body: { amount, currency: 'usd', payment_method: 'pm_card_visa' } });
    assert.equal(created.status, 201);
    return eventually(async () => {
      const got = await call<ChargeBody>(fincore.url, 'GET', `/v1/charges/${created.body.id}`, { key: apiKey });
      return got.body.status === 'succeeded' ? got.body : undefined;
    }, 10_000, 'charge to succeed');
  }

  async function refund(chargeId: string, amount: number): Promise<RefundBody> {
    const created = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body: { charge_id: chargeId, amount } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body;
  }

  const cancel = (id: string, idempotencyKey?: string) =>
    call<RefundBody & ErrorBody>(fincore.url, 'POST', `/v1/refunds/${id}/cancel`, { key: apiKey, headers: idempotencyKey ? { 'idempotency-key': idempotencyKey } : {} });

  async function refundJob(refundId: string): Promise<JobRecord> {
    const { rows } = await fincore.db.pool.query<JobRecord>(`SELECT * FROM jobs WHERE ref = $1 AND job_type = 'REFUND'`, [refundId]);
    assert.equal(rows.length, 1);
    return rows[0] as JobRecord;
  }

  async function simRefunds(): Promise<Map<string, SimRefund>> {
    const state = (await (await fetch(`${fincore.simulatorUrl}/sim/state`)).json()) as { refunds: SimRefund[]; create_requests: Record<string, number> };
    return new Map(state.refunds.map((r) => [r.reference, r]));
  }
  async function pspCalls(): Promise<Record<string, number>> {
    return ((await (await fetch(`${fincore.simulatorUrl}/sim/state`)).json()) as { create_requests: Record<string, number> }).create_requests;
  }

  async function simControl(path: string, body: Record<string, unknown> | null): Promise<Record<string, unknown>> {
    const res = await fetch(`${fincore.simulatorUrl}${path}`, body ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : { method: 'DELETE' });
    const answer = (await res.json()) as Record<string, unknown>;
    assert.equal(res.status, 200, JSON.stringify(answer));
    return answer;
  }
  /** The PSP down for `ms` (connections refused); returns when it listens again (epoch ms). */
  async function outage(ms: number): Promise<number> {
    const { outage: answer } = (await simControl('/sim/outage', { duration_ms: ms })) as { outage: { until: string } };
    // The simulator closed FinCore's kept-alive sockets: let the client read those closes, so the
    // next call opens a connection (and is refused) instead of reusing one that is gone.
    await sleep(50);
    return Date.parse(answer.until);
  }
  async function simulatorBack(): Promise<void> {
    await eventually(() => fetch(`${fincore.simulatorUrl}/sim/state`).then(() => true, () => undefined), 10_000, 'the simulator listening again');
  }
  async function attemptsOf(refundId: string): Promise<Attempt[]> {
    const answer = await call<{ data: Attempt[] }>(fincore.url, 'GET', `/v1/refunds/${refundId}/attempts`, { key: apiKey });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body.data;
  }
  const pspStatusOf = async (refundId: string) => (await call<RefundBody & { psp_status: string }>(fincore.url, 'GET', `/v1/refunds/${refundId}`, { key: apiKey })).body;

  it('cancels a queued refund: 200 canceled, job withdrawn, amount refundable again, event and ledger release; a second cancel is refused', async () => {
    const charge = await succeededCharge(5000);
    const queued = await refund(charge.id, 1500);

    type Stats = { refunds_settled_total: number; settle_latency_ms: { count: number } };
    const stats = async () => (await call<Stats>(fincore.url, 'GET', '/v1/admin/stats', { key: ADMIN_KEY })).body;
    const before = await stats();
    const canceled = await cancel(queued.id, 'cancel-once');
    assert.equal(canceled.status, 200, JSON.stringify(canceled.body));
    // A canceled refund never reached the PSP: not a settlement, and no settle latency.
    const afterCancel = await stats();
    assert.equal(afterCancel.refunds_settled_total, before.refunds_settled_total);
    assert.equal(afterCancel.settle_latency_ms.count, before.settle_latency_ms.count);
    assert.equal(canceled.body.status, 'canceled');
    assert.equal(canceled.body.id, queued.id);
    assert.equal((await call<RefundBody>(fincore.url, 'GET', `/v1/refunds/${queued.id}`, { key: apiKey })).body.status, 'canceled');

    // The same request with the same key: the stored answer.
    const replay = await cancel(queued.id, 'cancel-once');
    assert.equal(replay.status, 200);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(replay.body, canceled.body);

    const job = await refundJob(queued.id);
    assert.equal(job.status, 'done');
    assert.equal(job.attempts, 0);
    assert.equal(job.last_error, WITHDRAWN);

    const events = await call<{ data: Array<{ type: string; cause: { type: string; idempotency_key: string | null }; data: { object_id: string; object: RefundBody; previous_attributes: { status: string } } }> }>(fincore.url, 'GET', '/v1/events?type=refund.canceled', { key: apiKey });
    const event = events.body.data.find((e) => e.data.object_id === queued.id);
    assert.ok(event, 'refund.canceled written');
    assert.equal(event.data.object.status, 'canceled');
    assert.equal(event.cause.type, 'api_request');
    assert.equal(event.cause.idempotency_key, 'cancel-once');
    assert.equal(event.data.previous_attributes.status, 'pending');

    const ledger = await fincore.db.pool.query<{ movement: string }>('SELECT DISTINCT movement FROM ledger_entries WHERE refund_id = $1 ORDER BY movement', [queued.id]);
    assert.deepEqual(ledger.rows.map((r) => r.movement), ['refund_released', 'refund_reserved']);

    // The whole charge is refundable again.
    const full = await refund(charge.id, 5000);
    assert.equal(full.amount, 5000);

    // Nothing to cancel any more; the message says why.
    const again = await cancel(queued.id);
    assert.equal(again.status, 400);
    assert.equal(again.body.error.code, 'refund_not_cancelable');
    assert.equal(again.body.error.param, 'id');
    assert.match(again.body.error.message, /already canceled/);

    const missing = await cancel('re_doesnotexist');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'resource_missing');

    // The PSP never heard of it.
    assert.equal((await pspCalls())[`refunds ${queued.id}`], undefined);
    assert.equal((await simRefunds()).has(queued.id), false);
    // The refund of 5000 stays queued until the last test's worker (it has a job like any other).
  });

  it('refuses once the PSP may have seen the refund: claimed by a worker, or settled', async () => {
    const charge = await succeededCharge(3000);
    const claimedRefund = await refund(charge.id, 1000);
    // A worker claimed the job (and may be calling the PSP now).
    const claimed = await claimDueJobs(fincore.db.pool, 'wrk_test', 100, 30_000, ['REFUND']);
    assert.ok(claimed.some((j) => j.ref === claimedRefund.id));
    const refused = await cancel(claimedRefund.id);
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, 'refund_not_cancelable');
    assert.match(refused.body.error.message, /being sent/);
    assert.equal((await call<RefundBody>(fincore.url, 'GET', `/v1/refunds/${claimedRefund.id}`, { key: apiKey })).body.status, 'pending');
    // Hand the claimed jobs back to the queue for the worker below (as if their lease expired).
    await fincore.db.pool.query(`UPDATE jobs SET locked_until = now() - interval '1 second' WHERE locked_by = 'wrk_test'`);

    const sent = await refund(charge.id, 500);
    const worker = await startWorker(fincore.ctx, { ...workerOptions, jobTypes: ['REFUND'] }, silent);
    try {
      assert.equal((await waitForRefund(fincore.url, apiKey, sent.id)).status, 'succeeded');
      assert.equal((await waitForRefund(fincore.url, apiKey, claimedRefund.id)).status, 'succeeded');
    } finally {
      await worker.stop();
    }
    const late = await cancel(sent.id);
    assert.equal(late.status, 400);
    assert.equal(late.body.error.code, 'refund_not_cancelable');
    assert.match(late.body.error.message, /already succeeded/);
    assert.equal((await call<RefundBody>(fincore.url, 'GET', `/v1/refunds/${sent.id}`, { key: apiKey })).body.status, 'succeeded');
  });

  it('PSP outage: attempts refused at connect are not_sent, psp_status not_sent, and the refund is canceled: refundable again, refund.canceled, unknown to the PSP once it is back', async () => {
    const charge = await succeededCharge(2000);
    const down = await refund(charge.id, 1200);
    await outage(2500);
    const worker = await startWorker(fincore.ctx, { ...workerOptions, backoffBaseMs: 100, backoffMaxMs: 200, jobTypes: ['REFUND'] }, silent);
    try {
      await eventually(async () => ((await attemptsOf(down.id)).filter((a) => a.finished_at !== null).length >= 2 ? true : undefined), 10_000, 'two attempts during the outage');
    } finally {
      // The job waits for its next retry (a running job is never canceled: that is the race tests').
      await worker.stop();
    }
    const history = await attemptsOf(down.id);
    assert.ok(history.length >= 2);
    for (const attempt of history) {
      assert.equal(attempt.outcome, 'not_sent', JSON.stringify(attempt));
      assert.match(attempt.message ?? '', /ECONNREFUSED/);
    }
    const waiting = await pspStatusOf(down.id);
    assert.deepEqual([waiting.status, waiting.psp_status], ['pending', 'not_sent'], 'nothing reached the PSP');

    const canceled = await cancel(down.id);
    assert.equal(canceled.status, 200, JSON.stringify(canceled.body));
    assert.equal(canceled.body.status, 'canceled');
    const job = await refundJob(down.id);
    assert.deepEqual([job.status, job.last_error], ['done', WITHDRAWN]);
    assert.equal(job.attempts, history.length, 'every claim recorded its attempt');
    const events = await call<{ data: Array<{ data: { object_id: string } }> }>(fincore.url, 'GET', '/v1/events?type=refund.canceled', { key: apiKey });
    assert.ok(events.body.data.some((e) => e.data.object_id === down.id), 'refund.canceled written');
    // The whole charge is refundable again (that refund is canceled too: a queued job left behind
    // would be in the way of the race tests' workers).
    const whole = await refund(charge.id, 2000);
    assert.equal((await cancel(whole.id)).status, 200);

    await simulatorBack();
    assert.equal((await pspCalls())[`refunds ${down.id}`], undefined, 'the PSP never saw the canceled refund');
    assert.equal((await simRefunds()).has(down.id), false);
    assert.deepEqual((await attemptsOf(down.id)).length, history.length, 'no call after the cancel');
  });

  it('refused after an attempt that timed out, also when the attempts after it never reached the PSP; the message names the attempt', async () => {
    const charge = await succeededCharge(1000);
    const timedOut = await refund(charge.id, 700);
    // The PSP carries the call out but answers too late; its webhook is dropped, so the refund
    // stays pending (FinCore learns the outcome by retrying with the same key).
    await simControl('/sim/faults', { timeout_rate: 1, timeout_hold_ms: 1500, webhook_drop_rate: 1 });
    let worker = await startWorker(fincore.ctx, { ...workerOptions, backoffBaseMs: 100, backoffMaxMs: 200, jobTypes: ['REFUND'] }, silent);
    try {
      await eventually(async () => ((await attemptsOf(timedOut.id)).some((a) => a.outcome === 'timeout') ? true : undefined), 10_000, 'an attempt that timed out');
    } finally {
      await worker.stop();
      await simControl('/sim/faults', null);
    }
    assert.equal((await pspStatusOf(timedOut.id)).psp_status, 'unknown_after_timeout');
    const refused = await cancel(timedOut.id);
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, 'refund_not_cancelable');
    assert.equal(refused.body.error.param, 'id');
    assert.match(refused.body.error.message, /attempt 1 .*ended timeout/);

    // Then an outage: the next attempts are not_sent, but the first one may have reached the PSP.
    await outage(1500);
    worker = await startWorker(fincore.ctx, { ...workerOptions, backoffBaseMs: 100, backoffMaxMs: 200, jobTypes: ['REFUND'] }, silent);
    try {
      await eventually(async () => ((await attemptsOf(timedOut.id))[0]?.outcome === 'not_sent' ? true : undefined), 10_000, 'a not_sent attempt after the timeout');
    } finally {
      await worker.stop();
    }
    const again = await cancel(timedOut.id);
    assert.equal(again.status, 400, JSON.stringify(again.body));
    assert.match(again.body.error.message, /attempt 1 .*ended timeout/);
    assert.equal((await pspStatusOf(timedOut.id)).status, 'pending');
    // The latest attempt never left FinCore, but attempt 1 may have reached the PSP: still unknown.
    assert.equal((await pspStatusOf(timedOut.id)).psp_status, 'unknown_after_timeout');
    await simulatorBack();
    // The timed-out call was carried out at the PSP: it has the refund FinCore did not cancel, and
    // the next retry (the same key) is its replay: accepted (its webhook was dropped, so it stays
    // pending here; reconciliation would settle it). Its job is done, out of the race tests' way.
    assert.ok((await simRefunds()).has(timedOut.id));
    worker = await startWorker(fincore.ctx, { ...workerOptions, jobTypes: ['REFUND'] }, silent);
    try {
      await eventually(async () => ((await refundJob(timedOut.id)).status === 'done' ? true : undefined), 10_000, 'the retry after the outage');
    } finally {
      await worker.stop();
    }
    assert.equal((await pspStatusOf(timedOut.id)).psp_status, 'accepted');
    assert.equal((await pspCalls())[`refunds ${timedOut.id}`] !== undefined, true);
  });

  it('a claim that recorded no attempt is unknown: refused until every claim has its not_sent attempt; a dead-lettered job is withdrawn too', async () => {
    const charge = await succeededCharge(800);
    const lost = await refund(charge.id, 300);
    // A worker claimed the job and died before recording its call (or the call predates attempt
    // history); its lease then ended and the job waits again, counted as attempted.
    const claimed = await claimDueJobs(fincore.db.pool, 'wrk_gone', 100, 30_000, ['REFUND']);
    assert.ok(claimed.some((j) => j.ref === lost.id));
    await fincore.db.pool.query(`UPDATE jobs SET status = 'queued', locked_by = NULL, locked_until = NULL WHERE locked_by = 'wrk_gone'`);
    const unknown = await cancel(lost.id);
    assert.equal(unknown.status, 400, JSON.stringify(unknown.body));
    assert.match(unknown.body.error.message, /no attempt of it is recorded/);

    // With that claim's attempt recorded as never sent, and the job dead-lettered since: canceled.
    await fincore.db.pool.query(
      `INSERT INTO psp_attempts (object_type, object_id, merchant_id, attempt_number, psp, idempotency_key, finished_at, latency_ms, outcome, message)
       SELECT 'refund', id, merchant_id, 1, 'simulator', id, clock_timestamp(), 1, 'not_sent', 'connect ECONNREFUSED' FROM refunds WHERE id = $1`,
      [lost.id],
    );
    await fincore.db.pool.query(`UPDATE jobs SET status = 'dead' WHERE ref = $1`, [lost.id]);
    const canceled = await cancel(lost.id);
    assert.equal(canceled.status, 200, JSON.stringify(canceled.body));
    assert.deepEqual([(await refundJob(lost.id)).status, (await refundJob(lost.id)).last_error], ['done', WITHDRAWN]);
  });

  /** For every refund exactly one won: canceled and unknown to the PSP, or sent and the cancel refused. */
  async function assertExactlyOneWon(refunds: RefundBody[], answers: Array<{ status: number; body: RefundBody & ErrorBody }>): Promise<{ canceled: number; sent: number }> {
    const settled = await Promise.all(refunds.map((r) => waitForRefund(fincore.url, apiKey, r.id)));
    const atPsp = await simRefunds();
    const calls = await pspCalls();
    let canceled = 0;
    let sent = 0;
    refunds.forEach((r, i) => {
      const answer = answers[i];
      const now = settled[i];
      assert.ok(answer && now);
      if (answer.status === 200) {
        canceled++;
        assert.equal(now.status, 'canceled', `${r.id}: cancel answered 200`);
        assert.equal(atPsp.has(r.id), false, `${r.id}: canceled, yet the PSP has a refund`);
        assert.equal(calls[`refunds ${r.id}`], undefined, `${r.id}: canceled, yet the PSP was called`);
      } else {
        sent++;
        assert.equal(answer.status, 400, JSON.stringify(answer.body));
        assert.equal(answer.body.error.code, 'refund_not_cancelable');
        assert.equal(now.status, 'succeeded', `${r.id}: cancel refused, so the worker sent it`);
        assert.equal(atPsp.get(r.id)?.status, 'succeeded', `${r.id}: sent, so the PSP has it`);
      }
    });
    return { canceled, sent };
  }

  it('postgres queue: many refunds, each raced by a cancel and a running worker; exactly one wins', async () => {
    const refunds: RefundBody[] = [];
    for (let c = 0; c < 8; c++) {
      const charge = await succeededCharge(1000);
      for (let r = 0; r < 5; r++) refunds.push(await refund(charge.id, 100 + r));
    }
    let worker: RunningWorker | undefined;
    const [answers] = await Promise.all([
      Promise.all(refunds.map(async (r, i) => {
        await new Promise((resolve) => setTimeout(resolve, (i * 7) % 60));
        return cancel(r.id);
      })),
      (async () => {
        await new Promise((resolve) => setTimeout(resolve, 15));
        worker = await startWorker(fincore.ctx, { ...workerOptions, batchSize: 2, concurrency: 2, jobTypes: ['REFUND'] }, silent);
      })(),
    ]);
    try {
      const won = await assertExactlyOneWon(refunds, answers);
      assert.equal(won.canceled + won.sent, refunds.length);
      assert.ok(won.canceled > 0 && won.sent > 0, `both sides should win some races: ${JSON.stringify(won)}`);
    } finally {
      await worker?.stop();
    }
  });

  /** Refunds whose every attempt so far failed at connect: the ones a cancel must win for. */
  async function allNotSent(refunds: readonly RefundBody[]): Promise<boolean> {
    const histories = await Promise.all(refunds.map((r) => attemptsOf(r.id)));
    return histories.every((h) => h.length >= 1 && h.every((a) => a.outcome === 'not_sent'));
  }

  it('postgres queue: refunds retried through a PSP outage, each raced by a cancel right when it ends; exactly one wins, and a canceled one never reached the PSP', async (t) => {
    const refunds: RefundBody[] = [];
    for (let c = 0; c < 4; c++) {
      const charge = await succeededCharge(1000);
      for (let r = 0; r < 5; r++) refunds.push(await refund(charge.id, 100 + r));
    }
    const until = await outage(1500);
    const worker = await startWorker(fincore.ctx, { ...workerOptions, backoffBaseMs: 80, backoffMaxMs: 120, jobTypes: ['REFUND'] }, silent);
    try {
      await eventually(async () => ((await allNotSent(refunds)) ? true : undefined), 10_000, 'every refund tried during the outage');
      // Cancels spread from 200 ms before the end of the outage to 180 ms after it, while the
      // worker retries every ~100 ms: early ones find a job waiting after not_sent attempts,
      // late ones race the first call that reaches the PSP.
      const answers = await Promise.all(refunds.map(async (r, i) => {
        await sleepUntil(until - 200 + i * 20);
        return cancel(r.id);
      }));
      const won = await assertExactlyOneWon(refunds, answers);
      assert.equal(won.canceled + won.sent, refunds.length);
      assert.ok(won.canceled > 0, `cancels before the outage ended find only not_sent attempts and win: ${JSON.stringify(won)}`);
      for (const [i, r] of refunds.entries()) {
        if (answers[i]?.status !== 200) continue;
        const history = await attemptsOf(r.id);
        assert.ok(history.every((a) => a.outcome === 'not_sent'), `${r.id} canceled after ${JSON.stringify(history)}`);
      }
      t.diagnostic(`outage race (postgres): ${JSON.stringify(won)}`);
    } finally {
      await worker.stop();
    }
  });

  /**
   * The SQS path without AWS: the outbox relay publishes every unpublished job into an array, and
   * `deliver` hands a job's message to the Lambda handler (as a first receive: never the DLQ).
   */
  async function sqsHarness(refunds: readonly RefundBody[]): Promise<{ deliver(r: RefundBody): Promise<SQSBatchResponse> }> {
    const config = testConfig({ ...fincore.database.env });
    const lambda = createHandler(async () => ({ ctx: fincore.ctx, config, logger: silent }));
    const handler = (event: SQSEvent) => lambda(event) as Promise<SQSBatchResponse>;
    const fixture = JSON.parse(readFileSync(new URL('./fixtures/sqs-record.json', import.meta.url), 'utf8')) as SQSRecord;
    const record = (m: JobMessage): SQSRecord => ({ ...fixture, messageId: `msg-${m.job_id}`, body: JSON.stringify(m), attributes: { ...fixture.attributes, ApproximateReceiveCount: '1' } });
    const queue: JobMessage[] = [];
    while ((await relayOnce(fincore.db.pool, { publish: async (messages) => (queue.push(...messages), { sent: messages.map((m) => m.job_id), failed: [] }) }, { batchSize: 100, leaseMs: 5000 })).leased > 0);
    const messageOf = new Map(queue.map((m) => [m.ref, m]));
    for (const r of refunds) assert.ok((await findJob(fincore.db.pool, messageOf.get(r.id)?.job_id ?? ''))?.published_at, `${r.id} relayed`);
    return { deliver: (r) => handler({ Records: [record(messageOf.get(r.id) as JobMessage)] }) };
  }

  it('SQS path: the relayed message of a canceled refund is dropped; raced by the Lambda handler, exactly one wins', async (t) => {
    const refunds: RefundBody[] = [];
    for (let c = 0; c < 6; c++) {
      const charge = await succeededCharge(1000);
      for (let r = 0; r < 5; r++) refunds.push(await refund(charge.id, 100 + r));
    }
    const sqs = await sqsHarness(refunds);

    // Canceled after the relay, before the delivery: the message is dropped, the PSP never called.
    const first = refunds.shift() as RefundBody;
    assert.equal((await cancel(first.id)).status, 200);
    assert.deepEqual(await sqs.deliver(first), { batchItemFailures: [] });
    assert.equal((await pspCalls())[`refunds ${first.id}`], undefined);
    assert.equal((await call<RefundBody>(fincore.url, 'GET', `/v1/refunds/${first.id}`, { key: apiKey })).body.status, 'canceled');

    // Delivered (sent to the PSP) before the cancel: refused.
    const second = refunds.shift() as RefundBody;
    assert.deepEqual(await sqs.deliver(second), { batchItemFailures: [] });
    const tooLate = await cancel(second.id);
    assert.equal(tooLate.status, 400);
    assert.equal(tooLate.body.error.code, 'refund_not_cancelable');
    assert.equal((await waitForRefund(fincore.url, apiKey, second.id)).status, 'succeeded');

    // The rest: each message delivered while its cancel is on its way, one or the other a few
    // milliseconds ahead (alternately), so both sides win some.
    const answers = await Promise.all(refunds.map(async (r, i) => {
      const delivery = (async () => {
        await new Promise((resolve) => setTimeout(resolve, i % 2 === 0 ? i % 3 : 6 + (i % 4)));
        const result = await sqs.deliver(r);
        assert.deepEqual(result, { batchItemFailures: [] });
      })();
      const answer = (async () => {
        await new Promise((resolve) => setTimeout(resolve, i % 2 === 0 ? 6 + (i % 4) : i % 3));
        return cancel(r.id);
      })();
      await delivery;
      return answer;
    }));
    const won = await assertExactlyOneWon(refunds, answers);
    assert.equal(won.canceled + won.sent, refunds.length);
    // Which side wins depends on timing (on embedded PGlite the handler's first query often
    // queues behind the cancel): reported, not asserted.
    t.diagnostic(`SQS race: ${JSON.stringify(won)}`);
  });
  it('SQS path: deliveries during a PSP outage end not_sent and are left to SQS; raced at its end by the redelivery, exactly one wins', async (t) => {
    const refunds: RefundBody[] = [];
    for (let c = 0; c < 3; c++) {
      const charge = await succeededCharge(1000);
      for (let r = 0; r < 4; r++) refunds.push(await refund(charge.id, 100 + r));
    }
    const sqs = await sqsHarness(refunds);
    const until = await outage(1500);
    // The first receive of every message: refused at connect, so the handler reports it failed
    // and SQS will deliver it again.
    for (const r of refunds) assert.equal((await sqs.deliver(r)).batchItemFailures.length, 1, `${r.id}: retried by SQS`);
    assert.ok(await allNotSent(refunds));
    assert.equal((await pspStatusOf(refunds[0]!.id)).psp_status, 'not_sent');

    // The redelivery and the cancel, around the end of the outage, one or the other a few
    // milliseconds ahead (alternately).
    const answers = await Promise.all(refunds.map(async (r, i) => {
      const at = until - 120 + i * 20;
      const delivery = (async () => {
        await sleepUntil(at + (i % 2 === 0 ? 0 : 5));
        await sqs.deliver(r);
      })();
      const answer = (async () => {
        await sleepUntil(at + (i % 2 === 0 ? 5 : 0));
        return cancel(r.id);
      })();
      await delivery;
      return answer;
    }));
    // SQS delivers a failed message again until it is handled: a canceled refund's is dropped
    // (its job is done), the others are sent once the PSP is back.
    await simulatorBack();
    for (const [i, r] of refunds.entries()) {
      for (let receive = 0; ; receive++) {
        const result = await sqs.deliver(r);
        if (result.batchItemFailures.length === 0) break;
        assert.ok(answers[i]?.status !== 200, `${r.id}: canceled, yet its message was not dropped`);
        assert.ok(receive < 20, `${r.id}: still failing after ${receive} redeliveries`);
        await sleep(50);
      }
    }
    const won = await assertExactlyOneWon(refunds, answers);
    assert.equal(won.canceled + won.sent, refunds.length);
    assert.ok(won.canceled > 0, `cancels before the outage ended find only not_sent attempts and win: ${JSON.stringify(won)}`);
    t.diagnostic(`outage race (SQS): ${JSON.stringify(won)}`);
  });
});
