/**
 * Reconciliation of canceled refunds, with the PSP simulator: a refund is canceled only before
 * any PSP call, so its PSP must never hold it. One the PSP holds anyway (here: the worker's call,
 * keyed by the refund's FinCore id, got through although the cancel committed; its webhooks lost)
 * is a contradiction: the drift report (`GET /v1/admin/reconcile/report`, `fincore reconcile
 * --report`) shows it, and the sweep opens one review item `canceled_refund_at_psp` with a
 * review.opened event, a warning and fincore_reviews_opened_total, leaving the refund canceled.
 * A canceled refund the PSP does not know (the normal case) produces nothing. The PSP's webhook
 * about one is answered and opens the same review (it was refused with a 500 for ever).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { reconcileTerminal } from '../src/flows/reconcile.ts';
import type { ReconciliationDrift, ReconciliationReport } from '../src/flows/operations.ts';
import { startWorker, type RunningWorker } from '../src/jobs/worker.ts';
import { ADMIN_KEY, call, createMerchant, eventually, startTestFinCore, type ChargeBody, type ListBody, type RefundBody, type TestFinCore } from './helpers.ts';

interface ReviewBody {
  id: string;
  reason: string;
  status: string;
  object_type: string | null;
  object_id: string | null;
  status_before: string | null;
  psp: { status: string | null; amount: number | null; currency: string | null };
}

const REASON = 'canceled_refund_at_psp';

describe('reconciliation of canceled refunds', () => {
  let fincore: TestFinCore;
  let chargeWorker: RunningWorker;
  let apiKey: string;
  let charge: ChargeBody;
  let chargePspReference: string;

  before(async () => {
    // No REFUND worker and no periodic sweep: refunds stay queued until canceled, and the test
    // runs the sweeps. Charges settle through a worker of the CHARGE lane only.
    fincore = await startTestFinCore({ FINCORE_RECONCILE_AFTER_MS: '3600000', FINCORE_RECONCILE_INTERVAL_MS: '3600000' }, { api: true, worker: false, simulator: true });
    chargeWorker = await startWorker(fincore.ctx, { pollIntervalMs: 10, leaseMs: 30_000, batchSize: 4, concurrency: 8, backoffBaseMs: 5, backoffMaxMs: 20, jobTypes: ['CHARGE'] }, pino({ level: 'silent' }));
    apiKey = (await createMerchant(fincore.url, 'Cancel Reconcile Shop')).apiKey;
    const created = await call<ChargeBody>(fincore.url, 'POST', '/v1/charges', { key: apiKey, body: { amount: 9000, currency: 'usd', payment_method: 'pm_card_visa' } });
    assert.equal(created.status, 201);
    charge = await eventually(async () => {
      const got = await call<ChargeBody>(fincore.url, 'GET', `/v1/charges/${created.body.id}`, { key: apiKey });
      return got.body.status === 'succeeded' ? got.body : undefined;
    }, 10_000, 'charge to succeed');
    const { rows } = await fincore.db.pool.query<{ psp_reference: string }>('SELECT psp_reference FROM payments WHERE id = $1', [charge.id]);
    chargePspReference = rows[0]!.psp_reference;
    // From now on the PSP's webhooks are lost: only a query of the PSP learns what it holds.
    assert.equal((await fetch(`${fincore.simulatorUrl}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ webhook_drop_rate: 1 }) })).status, 200);
  });
  after(async () => {
    await fetch(`${fincore.simulatorUrl}/sim/faults`, { method: 'DELETE' });
    await chargeWorker?.stop();
    await fincore?.stop();
  });

  async function canceledRefund(amount: number): Promise<RefundBody> {
    const created = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body: { charge_id: charge.id, amount } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const canceled = await call<RefundBody>(fincore.url, 'POST', `/v1/refunds/${created.body.id}/cancel`, { key: apiKey });
    assert.equal(canceled.status, 200, JSON.stringify(canceled.body));
    assert.equal(canceled.body.status, 'canceled');
    return canceled.body;
  }

  /** The call a worker that raced the cancel would have made: the PSP's refund API, keyed by the FinCore id. */
  async function refundAtPsp(refund: RefundBody): Promise<void> {
    await fincore.ctx.psp.createRefund({ reference: refund.id, chargeReference: charge.id, chargePspReference, amount: refund.amount, currency: 'usd' });
    await eventually(async () => {
      const state = (await (await fetch(`${fincore.simulatorUrl}/sim/state`)).json()) as { refunds: { reference: string | null; status: string }[] };
      return state.refunds.some((r) => r.reference === refund.id && r.status === 'succeeded') ? true : undefined;
    }, 10_000, `the PSP to settle its refund for ${refund.id}`);
  }

  const reviewsOf = async (refundId: string) =>
    (await call<ListBody<ReviewBody>>(fincore.url, 'GET', '/v1/admin/reviews?limit=100', { key: ADMIN_KEY })).body.data.filter((r) => r.object_id === refundId);
  async function reviewsOpenedMetric(): Promise<number> {
    const text = await (await fetch(`${fincore.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).text();
    const line = text.split('\n').find((l) => l.startsWith('fincore_reviews_opened_total{') && l.includes(`reason="${REASON}"`) && l.includes('object="refund"'));
    return line ? Number(line.split(' ').pop()) : 0;
  }

  it('a canceled refund the PSP holds: in the drift report, then one review item with its event and metric; the refund stays canceled; a normal canceled refund produces nothing', async () => {
    const contradicted = await canceledRefund(1000);
    const normal = await canceledRefund(500);
    await refundAtPsp(contradicted);

    // The drift report: the contradiction, and nothing about the normal one. Changes nothing.
    const report = await call<ReconciliationDrift>(fincore.url, 'GET', '/v1/admin/reconcile/report?older_than_ms=3600000', { key: ADMIN_KEY });
    assert.equal(report.status, 200);
    assert.deepEqual(report.body.drift.canceled_refund_at_psp.map((d) => [d.object, d.id, d.fincore.status, d.fincore.amount, d.at_psp?.status]), [['refund', contradicted.id, 'canceled', 1000, 'succeeded']]);
    assert.equal(report.body.has_drift, true);
    for (const kind of ['status_differs', 'amount_or_currency_differs', 'unknown_at_psp'] as const) {
      assert.deepEqual(report.body.drift[kind].filter((d) => d.id === contradicted.id || d.id === normal.id), [], kind);
    }
    const cliReport = await cli(['reconcile', '--report', '--url', fincore.url], { FINCORE_ADMIN_KEY: ADMIN_KEY, ...fincore.database.env });
    assert.equal(cliReport.status, 1, cliReport.stderr + cliReport.stdout);
    assert.match(cliReport.stdout, /drift: status_differs=0 amount_or_currency_differs=0 unknown_at_psp=0 canceled_refund_at_psp=1 psp_errors=0/);
    assert.match(cliReport.stdout, new RegExp(`canceled_refund_at_psp  refund ${contradicted.id}  psp=simulator  fincore=canceled 1000 usd  at_psp=succeeded 1000 usd`));
    assert.deepEqual(await reviewsOf(contradicted.id), [], 'the report opens nothing');

    const metricBefore = await reviewsOpenedMetric();
    const sweep = await call<ReconciliationReport>(fincore.url, 'POST', '/v1/admin/reconcile', { key: ADMIN_KEY, body: { older_than_ms: 3_600_000 } });
    assert.equal(sweep.status, 200);
    assert.equal(sweep.body.terminal.reviews_opened, 1);
    assert.equal(sweep.body.terminal.errors, 0);

    const [review, ...others] = await reviewsOf(contradicted.id);
    assert.equal(others.length, 0);
    assert.ok(review);
    assert.deepEqual(
      { reason: review.reason, status: review.status, object_type: review.object_type, status_before: review.status_before, psp: review.psp },
      { reason: REASON, status: 'open', object_type: 'refund', status_before: 'canceled', psp: { status: 'succeeded', amount: 1000, currency: 'usd' } },
    );
    assert.deepEqual(await reviewsOf(normal.id), [], 'a canceled refund the PSP does not know is no contradiction');
    assert.equal(await reviewsOpenedMetric(), metricBefore + 1);
    const { rows: events } = await fincore.db.pool.query<{ merchant_id: string; cause_type: string; review_id: string }>(
      `SELECT merchant_id, cause_type, object_id AS review_id FROM events WHERE type = 'review.opened' AND data->'review'->>'object_id' = $1`,
      [contradicted.id],
    );
    assert.deepEqual(events.map((e) => [e.cause_type, e.review_id]), [['reconciliation', review.id]]);
    const { rows: checks } = await fincore.db.pool.query<{ object_id: string; psp_status: string }>('SELECT object_id, psp_status FROM reconcile_checks WHERE object_id = ANY($1) ORDER BY psp_status', [[contradicted.id, normal.id]]);
    assert.deepEqual(checks, [{ object_id: contradicted.id, psp_status: 'succeeded' }, { object_id: normal.id, psp_status: 'unknown' }]);

    // FinCore's books are not guessed at: the refund stays canceled, its amount released.
    const refund = await call<RefundBody>(fincore.url, 'GET', `/v1/refunds/${contradicted.id}`, { key: apiKey });
    assert.equal(refund.body.status, 'canceled');
    assert.equal((await call<ChargeBody>(fincore.url, 'GET', `/v1/charges/${charge.id}`, { key: apiKey })).body.amount_refunded, 0);

    // Once per refund: later sweeps, even re-reading everything, open no other item.
    const again = await call<ReconciliationReport>(fincore.url, 'POST', '/v1/admin/reconcile', { key: ADMIN_KEY, body: { older_than_ms: 3_600_000, recheck_all: true } });
    assert.equal(again.body.terminal.reviews_opened, 0);
    assert.equal((await reviewsOf(contradicted.id)).length, 1);

    // Resolving it records the decision and note; the canceled refund does not move.
    const resolved = await call<ReviewBody & { decision: string }>(fincore.url, 'POST', `/v1/admin/reviews/${review.id}/resolve`, { key: ADMIN_KEY, body: { decision: 'keep_fincore', note: 'PSP refund reversed at the PSP' } });
    assert.equal(resolved.status, 200, JSON.stringify(resolved.body));
    assert.deepEqual([resolved.body.status, resolved.body.decision], ['resolved', 'keep_fincore']);
    assert.equal((await call<RefundBody>(fincore.url, 'GET', `/v1/refunds/${contradicted.id}`, { key: apiKey })).body.status, 'canceled');
    const afterResolve = await call<ReconciliationReport>(fincore.url, 'POST', '/v1/admin/reconcile', { key: ADMIN_KEY, body: { older_than_ms: 3_600_000, recheck_all: true } });
    assert.equal(afterResolve.body.terminal.reviews_opened, 0, 'a resolved item is not opened again');
    // The report keeps showing it while the PSP holds the refund.
    const still = await call<ReconciliationDrift>(fincore.url, 'GET', '/v1/admin/reconcile/report?older_than_ms=3600000', { key: ADMIN_KEY });
    assert.deepEqual(still.body.drift.canceled_refund_at_psp.map((d) => d.id), [contradicted.id]);
  });

  it('the sweep logs a warning naming the refund and the reason, and reads only refunds canceled within its window', async () => {
    const contradicted = await canceledRefund(700);
    await refundAtPsp(contradicted);
    const lines: Array<{ level: number; msg: string; id?: string; reason?: string }> = [];
    const log = pino({ level: 'info' }, new Writable({ write(chunk: Buffer, _encoding, done) { lines.push(JSON.parse(chunk.toString())); done(); } }));

    const outside = await reconcileTerminal({ ...fincore.ctx, log }, { windowMs: 1, recheckMs: null, batch: 100 });
    assert.deepEqual([outside.checked, outside.reviews_opened], [0, 0], 'canceled before the window: not read');
    const inside = await reconcileTerminal({ ...fincore.ctx, log }, { windowMs: 3_600_000, recheckMs: null, batch: 100 });
    assert.equal(inside.reviews_opened, 1);
    const warning = lines.find((l) => l.id === contradicted.id && l.reason === REASON);
    assert.ok(warning, JSON.stringify(lines));
    assert.equal(warning.level, 40, 'a warning');
    assert.match(warning.msg, new RegExp(`PSP holds refund ${contradicted.id}.*canceled`));
  });

  it("the PSP's webhook about a canceled refund is answered (not refused for ever) and opens the same review item, the refund staying canceled", async () => {
    const refund = await canceledRefund(600);
    const sim = fincore.simulatorUrl!;
    const webhooks = async () => ((await (await fetch(`${sim}/sim/state`)).json()) as { webhooks: { pending: number; acknowledged: number } }).webhooks;
    assert.equal((await fetch(`${sim}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ webhook_drop_rate: 0 }) })).status, 200);
    try {
      const acknowledged = (await webhooks()).acknowledged;
      await refundAtPsp(refund);
      // Its refund.succeeded, acknowledged by FinCore (a 500 would be retried for ever).
      await eventually(async () => {
        const now = await webhooks();
        return now.acknowledged > acknowledged && now.pending === 0 ? true : undefined;
      }, 15_000, 'the webhook acknowledged');
    } finally {
      await fetch(`${sim}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ webhook_drop_rate: 1 }) });
    }
    const reviews = await reviewsOf(refund.id);
    assert.deepEqual(reviews.map((r) => [r.reason, r.status, r.status_before]), [[REASON, 'open', 'canceled']]);
    assert.equal((await call<RefundBody>(fincore.url, 'GET', `/v1/refunds/${refund.id}`, { key: apiKey })).body.status, 'canceled');
    const { rows } = await fincore.db.pool.query<{ cause_type: string }>(`SELECT cause_type FROM events WHERE type = 'review.opened' AND data->'review'->>'object_id' = $1`, [refund.id]);
    assert.deepEqual(rows, [{ cause_type: 'psp_event' }]);
  });
});

/** `fincore <args>` in a child process, without blocking this one (its FinCore must keep answering). */
function cli(args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { env: { ...process.env, ...env, LOG_LEVEL: 'warn' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}
