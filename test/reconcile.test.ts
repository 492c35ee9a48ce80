/**
 * Reconciliation: with every webhook lost (the simulator drops them all), charges and refunds
 * still settle from the PSP's answer to a query, through either PSP adapter. An object the PSP
 * has never seen stays pending: unknown is not failed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { reconcilePending } from '../src/flows/reconcile.ts';
import type { ReconciliationReport } from '../src/flows/operations.ts';
import { newId } from '../src/domain/ids.ts';
import { computeSignature } from '../src/psp/simulator/webhook.ts';
import { ADMIN_KEY, call, createMerchant, eventually, freshDatabase, insertPendingCharge, settledCharge, startTestFinCore, waitForRefund, type ChargeBody, type RefundBody, type TestFinCore } from './helpers.ts';

for (const psp of ['simulator', 'stripe']) describe(`reconciliation settles what lost webhooks left pending (${psp} adapter)`, () => {
  let fincore: TestFinCore;
  let merchant: { id: string; apiKey: string };

  before(async () => {
    fincore = await startTestFinCore({
      FINCORE_PSP: psp,
      FINCORE_SIM_WEBHOOK_DROP_RATE: '1',
      FINCORE_RECONCILE_AFTER_MS: '50',
      FINCORE_RECONCILE_INTERVAL_MS: '100',
    });
    merchant = await createMerchant(fincore.url);
  });
  after(() => fincore.stop());

  it('a charge and its refunds settle with cause "reconciliation", failures included', async () => {
    const charge = await settledCharge(fincore.url, merchant.apiKey, 3000, 'pm_card_refundFail');
    assert.equal(charge.status, 'succeeded');
    const refund = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: merchant.apiKey, body: { charge_id: charge.id, amount: 1000 } });
    const settled = await waitForRefund(fincore.url, merchant.apiKey, refund.body.id);
    assert.equal(settled.status, 'failed');
    assert.ok(settled.failure_reason);

    const causes = await fincore.db.pool.query<{ type: string; cause_type: string }>(
      `SELECT type, cause_type FROM events WHERE object_id = ANY($1) AND type NOT LIKE '%.created' ORDER BY id`,
      [[charge.id, refund.body.id]],
    );
    // The webhooks are lost, so each job's pending answer recorded its PSP reference first (the
    // reference the sweep asks the PSP with).
    assert.deepEqual(causes.rows, [
      { type: 'charge.updated', cause_type: 'job' },
      { type: 'charge.succeeded', cause_type: 'reconciliation' },
      { type: 'refund.updated', cause_type: 'job' },
      { type: 'refund.failed', cause_type: 'reconciliation' },
    ]);
    const declined = await settledCharge(fincore.url, merchant.apiKey, 500, 'pm_card_chargeDeclined');
    assert.equal(declined.failure_code, 'card_declined');
  });

  it('a pending charge the PSP never saw stays pending, and a second sweep changes nothing', async () => {
    const id = newId('ch');
    await insertPendingCharge(fincore.db.pool, { id, merchantId: merchant.id, amount: 100 });
    await new Promise((r) => setTimeout(r, 100));
    const report = await reconcilePending(fincore.ctx, 0);
    assert.ok(report.checked >= 1);
    const again = await reconcilePending(fincore.ctx, 0);
    assert.equal(again.settled, 0);
    const charge = await call<ChargeBody>(fincore.url, 'GET', `/v1/charges/${id}`, { key: merchant.apiKey });
    assert.equal(charge.body.status, 'pending');
  });
});

describe('start-up sweep: a clean stop right after creating a charge', () => {
  it('a charge left pending by a stopped FinCore (its in-process PSP and webhook gone) settles within seconds of the next start', async () => {
    const database = await freshDatabase();
    let second: TestFinCore | undefined;
    try {
      // The simulator would settle after a minute: the stop comes first, and its webhook dies with it.
      const first = await startTestFinCore({ FINCORE_SIM_SETTLE_MS: '60000' }, undefined, database);
      const merchant = await createMerchant(first.url);
      const charge = await call<ChargeBody>(first.url, 'POST', '/v1/charges', { key: merchant.apiKey, body: { amount: 4200, currency: 'usd', payment_method: 'pm_card_visa' } });
      assert.equal(charge.status, 201);
      await eventually(async () => {
        const { rows } = await first.db.pool.query<{ status: string }>(`SELECT status FROM jobs WHERE ref = $1`, [charge.body.id]);
        return rows[0]?.status === 'done' ? true : undefined;
      }, 10_000, 'the PSP call to be made (job done)');
      assert.equal((await call<ChargeBody>(first.url, 'GET', `/v1/charges/${charge.body.id}`, { key: merchant.apiKey })).body.status, 'pending');
      await first.stop();

      // The regular sweep would not look before 30 s (+ a 10 s interval); the start-up sweep does at once.
      const startedAt = Date.now();
      second = await startTestFinCore({ FINCORE_RECONCILE_AFTER_MS: '30000', FINCORE_RECONCILE_INTERVAL_MS: '10000', FINCORE_RECONCILE_AT_START_MS: '200' }, undefined, database);
      const settled = await eventually(async () => {
        const c = await call<ChargeBody>(second!.url, 'GET', `/v1/charges/${charge.body.id}`, { key: merchant.apiKey });
        return c.body.status === 'pending' ? undefined : c.body;
      }, 8000, 'the charge to settle after the restart');
      assert.equal(settled.status, 'succeeded');
      assert.ok(Date.now() - startedAt < 8000);
    } finally {
      await second?.stop();
      await database.drop();
    }
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

interface SimRefund {
  id: string;
  object: 'refund';
  reference: string;
  charge: string;
  amount: number;
  currency: string;
  status: string;
  failure_reason: string | null;
}

describe('terminal sweep: a refund FinCore holds as succeeded that the PSP failed, its late webhook lost', () => {
  let fincore: TestFinCore;
  let merchant: { id: string; apiKey: string };

  before(async () => {
    // Neither the pending sweep nor the interval runs by itself here: the test runs the sweeps.
    fincore = await startTestFinCore({ FINCORE_RECONCILE_AFTER_MS: '3600000', FINCORE_RECONCILE_INTERVAL_MS: '3600000' });
    merchant = await createMerchant(fincore.url);
  });
  after(() => fincore.stop());

  it('the drift report shows it (exit 1), the sweep moves it to failed late, then the report is clean (exit 0) and the next sweep does not re-read it', async () => {
    const simUrl = fincore.simulatorUrl!;
    const charge = await settledCharge(fincore.url, merchant.apiKey, 3000, 'pm_card_refundFail');
    assert.equal(charge.status, 'succeeded');

    // From now on the PSP's webhooks are lost: only a query of the PSP can learn what it did.
    assert.equal((await fetch(`${simUrl}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ webhook_drop_rate: 1 }) })).status, 200);
    const refund = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: merchant.apiKey, body: { charge_id: charge.id, amount: 1000 } });
    assert.equal(refund.status, 201);
    const atPsp = await eventually(async () => {
      const state = (await (await fetch(`${simUrl}/sim/state`)).json()) as { refunds: SimRefund[] };
      return state.refunds.find((r) => r.reference === refund.body.id && r.status === 'failed');
    }, 10_000, 'the PSP to fail the refund');
    await eventually(async () => {
      const { rows } = await fincore.db.pool.query<{ psp_reference: string | null }>('SELECT psp_reference FROM refunds WHERE id = $1', [refund.body.id]);
      return rows[0]?.psp_reference ? true : undefined;
    }, 10_000, 'the REFUND job to record the PSP reference');

    // The PSP had first said succeeded (as Stripe does before a card refund fails days later): a
    // signed refund.succeeded, then its refund.failed was lost. FinCore holds succeeded.
    const event = { id: `simevt_late_${refund.body.id}`, type: 'refund.succeeded', created: Math.floor(Date.now() / 1000), data: { object: { ...atPsp, status: 'succeeded', failure_reason: null } } };
    const raw = JSON.stringify(event);
    const t = Math.floor(Date.now() / 1000);
    const signed = await call(fincore.url, 'POST', '/v1/webhooks/psp', { rawBody: raw, headers: { 'content-type': 'application/json', 'fincore-psp-signature': `t=${t},v1=${computeSignature('whsec_fincore_simulator_dev_only', t, Buffer.from(raw))}` } });
    assert.equal(signed.status, 200);
    assert.equal((await call<RefundBody>(fincore.url, 'GET', `/v1/refunds/${refund.body.id}`, { key: merchant.apiKey })).body.status, 'succeeded');

    // The report: drift, nothing changed, exit 1.
    const env = { FINCORE_ADMIN_KEY: ADMIN_KEY, ...fincore.database.env };
    const before = await cli(['reconcile', '--report', '--url', fincore.url], env);
    assert.equal(before.status, 1, before.stderr + before.stdout);
    assert.match(before.stdout, /drift: status_differs=1 amount_or_currency_differs=0 unknown_at_psp=0 canceled_refund_at_psp=0 psp_errors=0/);
    assert.match(before.stdout, new RegExp(`status_differs  refund ${refund.body.id}  psp=simulator  fincore=succeeded 1000 usd  at_psp=failed`));
    assert.equal((await call<RefundBody>(fincore.url, 'GET', `/v1/refunds/${refund.body.id}`, { key: merchant.apiKey })).body.status, 'succeeded', 'the report changes nothing');

    // The sweep (what the reconciler runs every interval), through the admin API.
    const sweep = await call<ReconciliationReport>(fincore.url, 'POST', '/v1/admin/reconcile', { key: ADMIN_KEY, body: { older_than_ms: 3_600_000 } });
    assert.equal(sweep.status, 200);
    assert.equal(sweep.body.terminal.moved, 1);
    assert.equal(sweep.body.terminal.errors, 0);
    const failed = await call<RefundBody>(fincore.url, 'GET', `/v1/refunds/${refund.body.id}`, { key: merchant.apiKey });
    assert.equal(failed.body.status, 'failed');
    assert.ok(failed.body.failure_reason);
    const { rows: moves } = await fincore.db.pool.query<{ type: string; cause_type: string; previous: string }>(
      `SELECT type, cause_type, data->'previous_attributes'->>'status' AS previous FROM events WHERE object_id = $1 AND type = 'refund.failed'`,
      [refund.body.id],
    );
    assert.deepEqual(moves, [{ type: 'refund.failed', cause_type: 'reconciliation', previous: 'succeeded' }]);
    // The amount is refundable again.
    assert.equal((await call<ChargeBody>(fincore.url, 'GET', `/v1/charges/${charge.id}`, { key: merchant.apiKey })).body.amount_refunded, 0);

    // Checked once: the next sweep within the recheck interval does not ask the PSP again.
    const again = await call<ReconciliationReport>(fincore.url, 'POST', '/v1/admin/reconcile', { key: ADMIN_KEY, body: { older_than_ms: 3_600_000 } });
    assert.equal(again.body.terminal.checked, 0);
    const { rows: checks } = await fincore.db.pool.query<{ object_id: string; psp_status: string }>('SELECT object_id, psp_status FROM reconcile_checks WHERE object_id = ANY($1) ORDER BY object_type', [[charge.id, refund.body.id]]);
    assert.deepEqual(checks, [{ object_id: charge.id, psp_status: 'succeeded' }, { object_id: refund.body.id, psp_status: 'failed' }]);

    const afterward = await cli(['reconcile', '--report', '--url', fincore.url], env);
    assert.equal(afterward.status, 0, afterward.stderr + afterward.stdout);
    assert.match(afterward.stdout, /drift: status_differs=0 amount_or_currency_differs=0 unknown_at_psp=0 canceled_refund_at_psp=0 psp_errors=0/);
    assert.match(afterward.stdout, /no drift/);
  });
});
