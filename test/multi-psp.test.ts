/**
 * Issue 16 item 7: the PSP of each charge is recorded and serves it, whatever the default is now.
 * One simulator runs outside FinCore for the whole test (it plays both the native PSP and Stripe),
 * so it keeps its charges across FinCore's restart: first FinCore runs with the simulator as its
 * PSP, then it restarts with FINCORE_PSP=stripe and FINCORE_PSPS_ENABLED=simulator. The old
 * charge's refund goes to the simulator's native API and settles by its webhook at
 * /v1/webhooks/psp; a new charge and its refund go to the Stripe mode and settle by
 * /v1/webhooks/stripe. Each stored PSP event names the PSP whose intake received it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { ConfigError, loadConfig } from '../src/config.ts';
import { loadDevSimulator, type DevSimulator } from '../src/dev-simulator.ts';
import { pspOf, PspNotConfiguredError } from '../src/flows/context.ts';
import { call, createMerchant, freshDatabase, settledCharge, startTestFinCore, testConfig, waitForRefund, type ChargeBody, type RefundBody, type TestDatabase, type TestFinCore } from './helpers.ts';

interface SimState {
  charges: Array<{ id: string; reference: string; status: string }>;
  refunds: Array<{ id: string; reference: string; status: string }>;
}

/** payments.psp: the PSP that took the charge. */
async function pspColumn(fincore: TestFinCore, chargeId: string): Promise<string | null> {
  const { rows } = await fincore.db.pool.query<{ psp: string | null }>('SELECT psp FROM payments WHERE id = $1', [chargeId]);
  return rows[0]?.psp ?? null;
}

async function simState(url: string): Promise<SimState> {
  return (await fetch(`${url}/sim/state`)).json() as Promise<SimState>;
}

function refusal(env: Record<string, string>): string | null {
  try {
    loadConfig(env);
    return null;
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
}

describe('configuration of several PSPs', () => {
  it('FINCORE_PSPS_ENABLED adds PSPs after the default, once each; an unknown name is refused', () => {
    assert.deepEqual(loadConfig({}).psps, ['simulator']);
    assert.deepEqual(loadConfig({ FINCORE_PSP: 'stripe', FINCORE_PSPS_ENABLED: 'simulator' }).psps, ['stripe', 'simulator']);
    assert.deepEqual(loadConfig({ FINCORE_PSP: 'stripe', FINCORE_PSPS_ENABLED: ' simulator , stripe,' }).psps, ['stripe', 'simulator']);
    assert.match(refusal({ FINCORE_PSPS_ENABLED: 'adyen' }) ?? '', /FINCORE_PSPS_ENABLED: unknown PSP "adyen"/);
  });

  it('the webhook-secret rule applies to every configured PSP, not only the default', () => {
    // Beyond loopback, the simulator's intake is mounted too: its secret must be set.
    const base = { HOST: '0.0.0.0', FINCORE_PSP: 'stripe', STRIPE_SECRET_KEY: 'sk_test_51abc', STRIPE_WEBHOOK_SECRET: 'whsec_real_stripe' };
    assert.equal(refusal(base), null);
    assert.match(refusal({ ...base, FINCORE_PSPS_ENABLED: 'simulator' }) ?? '', /FINCORE_PSP_WEBHOOK_SECRET is not set/);
    assert.equal(refusal({ ...base, FINCORE_PSPS_ENABLED: 'simulator', FINCORE_PSP_WEBHOOK_SECRET: 'whsec_real_sim' }), null);
    // And the other way round: Stripe enabled beside the simulator needs its secret.
    assert.match(refusal({ HOST: '0.0.0.0', FINCORE_PSP_WEBHOOK_SECRET: 'whsec_real_sim', FINCORE_PSPS_ENABLED: 'stripe', STRIPE_SECRET_KEY: 'sk_test_51abc' }) ?? '', /STRIPE_WEBHOOK_SECRET/);
  });

  it("a charge whose PSP is not configured is never sent to another one", () => {
    const simulator = { name: 'simulator' } as never;
    assert.equal(pspOf({ psp: simulator }, null), simulator);
    assert.equal(pspOf({ psp: simulator }, 'simulator'), simulator);
    assert.throws(() => pspOf({ psp: simulator, psps: { simulator } }, 'stripe'), PspNotConfiguredError);
  });
});

describe('two PSPs side by side: a charge is served by the PSP that took it', () => {
  let simulator: DevSimulator;
  let database: TestDatabase;
  let fincore: TestFinCore | undefined;
  /** Where the simulator delivers: the FinCore running now. */
  let apiUrl = '';

  before(async () => {
    database = await freshDatabase();
    const starter = await loadDevSimulator(testConfig({ FINCORE_SIM_PORT: '0' }));
    simulator = await starter.start({
      webhookUrl: () => `${apiUrl}/v1/webhooks/psp`,
      stripeWebhookUrl: () => `${apiUrl}/v1/webhooks/stripe`,
      logger: pino({ level: 'silent' }),
    });
  });
  after(async () => {
    await fincore?.stop();
    await simulator.close();
    await database.drop();
  });

  async function start(env: Record<string, string>): Promise<TestFinCore> {
    const started = await startTestFinCore({ FINCORE_SIM_URL: simulator.url, ...env }, { api: true, worker: true, simulator: false }, database);
    apiUrl = started.url;
    return started;
  }

  it('the old charge refunds at the simulator after FINCORE_PSP=stripe; new charges go to Stripe; both intakes accept their webhooks', async () => {
    // 1. The simulator is the PSP.
    fincore = await start({});
    const merchant = await createMerchant(fincore.url);
    const old = await settledCharge(fincore.url, merchant.apiKey, 4000);
    assert.equal(old.status, 'succeeded');
    assert.equal(await pspColumn(fincore, old.id), 'simulator');
    // Only the configured PSP's intake is mounted.
    assert.equal((await call(fincore.url, 'POST', '/v1/webhooks/stripe', { rawBody: '{}', headers: { 'content-type': 'application/json' } })).status, 404);
    await fincore.stop();
    fincore = undefined;

    // 2. Stripe takes new charges; the simulator stays enabled for the charges it took.
    fincore = await start({ FINCORE_PSP: 'stripe', FINCORE_PSPS_ENABLED: 'simulator', STRIPE_API_BASE: simulator.url });
    for (const path of ['/v1/webhooks/psp', '/v1/webhooks/stripe']) {
      const unsigned: { status: number } = await call(fincore.url, 'POST', path, { rawBody: '{}', headers: { 'content-type': 'application/json' } });
      assert.equal(unsigned.status, 400, `${path} is mounted and refuses an unsigned event`);
    }

    const oldRefund = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: merchant.apiKey, body: { charge_id: old.id, amount: 1500 } });
    assert.equal(oldRefund.status, 201, JSON.stringify(oldRefund.body));
    assert.equal((await waitForRefund(fincore.url, merchant.apiKey, oldRefund.body.id)).status, 'succeeded');

    const fresh = await settledCharge(fincore.url, merchant.apiKey, 2500);
    assert.equal(fresh.status, 'succeeded');
    assert.equal(await pspColumn(fincore, fresh.id), 'stripe');
    const freshRefund = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: merchant.apiKey, body: { charge_id: fresh.id, amount: 500 } });
    assert.equal(freshRefund.status, 201, JSON.stringify(freshRefund.body));
    assert.equal((await waitForRefund(fincore.url, merchant.apiKey, freshRefund.body.id)).status, 'succeeded');

    // At the PSP: the old charge's refund is a native one (simre_), the new charge a PaymentIntent.
    const state = await simState(simulator.url);
    const nativeRefund = state.refunds.find((r) => r.reference === oldRefund.body.id);
    assert.ok(nativeRefund?.id.startsWith('simre_'), `the old charge's refund went to the simulator's native API: ${JSON.stringify(nativeRefund)}`);
    assert.equal(nativeRefund?.status, 'succeeded');
    assert.ok(state.charges.find((c) => c.reference === fresh.id)?.id.startsWith('pi_'), 'the new charge went to the Stripe mode');
    assert.ok(!state.refunds.some((r) => r.reference === oldRefund.body.id && !r.id.startsWith('simre_')), 'nothing of the old charge went to Stripe');

    // Each PSP event names the intake it came through, and every one was applied.
    const { rows } = await fincore.db.pool.query<{ psp: string; object_id: string; result: string }>(
      `SELECT psp, object_id, result FROM psp_events WHERE object_id = ANY($1) ORDER BY received_at`,
      [[old.id, oldRefund.body.id, fresh.id, freshRefund.body.id]],
    );
    const pspOfEvents = (id: string) => [...new Set(rows.filter((r) => r.object_id === id).map((r) => r.psp))];
    assert.deepEqual(pspOfEvents(old.id), ['simulator']);
    assert.deepEqual(pspOfEvents(oldRefund.body.id), ['simulator']);
    assert.deepEqual(pspOfEvents(fresh.id), ['stripe']);
    assert.deepEqual(pspOfEvents(freshRefund.body.id), ['stripe']);

    const charges = await Promise.all([old.id, fresh.id].map(async (id) => (await call<ChargeBody>(fincore!.url, 'GET', `/v1/charges/${id}`, { key: merchant.apiKey })).body));
    assert.deepEqual(charges.map((c) => c.amount_refunded), [1500, 500]);
    // The API's charge object carries `psp` once its response schema (src/api/schemas.ts) lists it.
    for (const charge of charges) if ('psp' in charge) assert.equal(charge.psp, charge.id === old.id ? 'simulator' : 'stripe');
  });
});
