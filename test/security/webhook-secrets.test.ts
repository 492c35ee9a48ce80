/**
 * Issue 14, critical: a webhook secret that is in the public source must never verify events
 * outside local development, an empty secret never means "default", and the audit trail records
 * which secret (by fingerprint) verified each PSP event. Signed but unreadable events are kept and
 * acknowledged instead of failing with 500 on every delivery.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import Stripe from 'stripe';
import { ConfigError, DEV_WEBHOOK_SECRETS, isLoopbackHost, loadConfig } from '../../src/config.ts';
import { environmentWithSecrets } from '../../src/lambda.ts';
import { secretFingerprint } from '../../src/psp/gateway.ts';
import { computeSignature } from '../../src/psp/simulator/webhook.ts';
import { ADMIN_KEY, call, createMerchant, startTestFinCore, type ChargeBody, type TestFinCore } from '../helpers.ts';

/** loadConfig's error for this environment, or null when it loads. */
function refusal(env: Record<string, string>): string | null {
  try {
    loadConfig(env);
    return null;
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
}

describe('development default webhook secrets are accepted only for local development', () => {
  it('npm start (no settings): both defaults, reported as development defaults', () => {
    const config = loadConfig({});
    assert.equal(config.pspWebhookSecret, DEV_WEBHOOK_SECRETS.FINCORE_PSP_WEBHOOK_SECRET);
    assert.deepEqual(config.devDefaultSecrets, ['FINCORE_PSP_WEBHOOK_SECRET', 'STRIPE_WEBHOOK_SECRET']);
  });

  it('FINCORE_PSP=stripe played by the simulator on loopback may use the Stripe default', () => {
    assert.equal(refusal({ FINCORE_PSP: 'stripe' }), null);
    assert.equal(refusal({ FINCORE_PSP: 'stripe', STRIPE_API_BASE: 'http://127.0.0.1:4010', STRIPE_SECRET_KEY: 'sk_test_fincore_simulator' }), null);
  });

  it('FINCORE_PSP=stripe with a real key and no STRIPE_WEBHOOK_SECRET refuses to start, naming the variable', () => {
    for (const key of ['sk_live_51abc', 'sk_test_51abc', 'rk_live_51abc']) {
      const message = refusal({ FINCORE_PSP: 'stripe', STRIPE_SECRET_KEY: key });
      assert.ok(message?.includes('STRIPE_WEBHOOK_SECRET'), `${key}: ${message}`);
    }
    // A live key never gets the default, even pointed at a loopback server.
    assert.match(refusal({ FINCORE_PSP: 'stripe', STRIPE_SECRET_KEY: 'sk_live_51abc', STRIPE_API_BASE: 'http://127.0.0.1:4010' }) ?? '', /STRIPE_WEBHOOK_SECRET.*live key/);
    assert.match(refusal({ FINCORE_PSP: 'stripe', STRIPE_API_BASE: 'https://stripe.internal.example', STRIPE_SECRET_KEY: 'sk_test_x' }) ?? '', /STRIPE_WEBHOOK_SECRET/);
  });

  it('the simulator PSP beyond loopback, or an API listening beyond loopback, needs FINCORE_PSP_WEBHOOK_SECRET', () => {
    assert.match(refusal({ HOST: '0.0.0.0' }) ?? '', /FINCORE_PSP_WEBHOOK_SECRET is not set: the API listens on 0\.0\.0\.0/);
    assert.match(refusal({ HOST: '::' }) ?? '', /FINCORE_PSP_WEBHOOK_SECRET/);
    assert.match(refusal({ FINCORE_SIM_URL: 'http://10.0.0.7:4010' }) ?? '', /FINCORE_PSP_WEBHOOK_SECRET.*not on loopback/);
    assert.match(refusal({ HOST: '0.0.0.0', FINCORE_PSP: 'stripe', STRIPE_API_BASE: 'http://127.0.0.1:4010' }) ?? '', /STRIPE_WEBHOOK_SECRET/);
    assert.equal(refusal({ HOST: '0.0.0.0', FINCORE_PSP_WEBHOOK_SECRET: 'whsec_a_real_one' }), null);
  });

  it('an empty value is never the default, for either secret and in any mode', () => {
    for (const env of [{}, { FINCORE_PSP: "stripe" }, { HOST: "0.0.0.0" }] as Record<string, string>[]) {
      assert.match(refusal({ ...env, FINCORE_PSP_WEBHOOK_SECRET: '' }) ?? '', /FINCORE_PSP_WEBHOOK_SECRET is set but empty/);
      assert.match(refusal({ ...env, STRIPE_WEBHOOK_SECRET: '' }) ?? '', /STRIPE_WEBHOOK_SECRET is set but empty/);
    }
  });

  it('the public development value given explicitly is refused wherever the default would be', () => {
    assert.match(
      refusal({ FINCORE_PSP: 'stripe', STRIPE_SECRET_KEY: 'sk_live_51abc', STRIPE_WEBHOOK_SECRET: DEV_WEBHOOK_SECRETS.STRIPE_WEBHOOK_SECRET }) ?? '',
      /STRIPE_WEBHOOK_SECRET is the development default, which is public/,
    );
    assert.match(refusal({ HOST: '0.0.0.0', FINCORE_PSP_WEBHOOK_SECRET: DEV_WEBHOOK_SECRETS.FINCORE_PSP_WEBHOOK_SECRET }) ?? '', /development default/);
  });

  it('a real secret is never reported as a development default', () => {
    const config = loadConfig({ HOST: '0.0.0.0', FINCORE_PSP: 'stripe', STRIPE_SECRET_KEY: 'sk_live_51abc', STRIPE_WEBHOOK_SECRET: 'whsec_real', FINCORE_PSP_WEBHOOK_SECRET: 'whsec_sim_real' });
    assert.deepEqual(config.devDefaultSecrets, []);
    assert.equal(config.stripe.webhookSecret, 'whsec_real');
  });

  it('loopback is 127.0.0.0/8, ::1 and localhost in their spellings; nothing else', () => {
    for (const host of ['127.0.0.1', '127.9.9.9', '::1', '[::1]', 'localhost', 'LOCALHOST.', '::ffff:127.0.0.1']) assert.ok(isLoopbackHost(host), host);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.1', 'example.com', 'localhost.example.com', '128.0.0.1', '']) assert.ok(!isLoopbackHost(host), host);
  });

  it('property: with no secret set, any API host that is not loopback refuses to start, naming the secret', () => {
    const hosts = fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain()).filter((host) => !isLoopbackHost(host));
    fc.assert(
      fc.property(hosts, fc.constantFrom('simulator', 'stripe'), (host, psp) => {
        const message = refusal({ HOST: host, FINCORE_PSP: psp });
        const name = psp === 'stripe' ? 'STRIPE_WEBHOOK_SECRET' : 'FINCORE_PSP_WEBHOOK_SECRET';
        return message !== null && message.includes(name);
      }),
      { numRuns: 200 },
    );
  });

  it('fincore api with a live Stripe key and no webhook secret exits 2 with one line naming the variable', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'api'], {
      env: { PATH: process.env.PATH ?? '', FINCORE_PSP: 'stripe', STRIPE_SECRET_KEY: 'sk_live_51abc', DATABASE_URL: 'postgres://127.0.0.1:9/none' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /^fincore: STRIPE_WEBHOOK_SECRET is not set/);
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
  });
});

describe('the Lambda worker refuses an unfilled PSP secret', () => {
  it('an empty STRIPE_WEBHOOK_SECRET in the PSP secret is passed on and refused by name', async () => {
    const secrets = mockClient(SecretsManagerClient);
    secrets.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ STRIPE_SECRET_KEY: 'sk_live_51abc', STRIPE_WEBHOOK_SECRET: '' }) });
    try {
      const env = await environmentWithSecrets({ FINCORE_PSP: 'stripe', FINCORE_PSP_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:psp-AbCdEf' }, new SecretsManagerClient({}));
      assert.equal(env.STRIPE_WEBHOOK_SECRET, '');
      assert.throws(() => loadConfig(env), /STRIPE_WEBHOOK_SECRET is set but empty/);
    } finally {
      secrets.restore();
    }
  });
});

describe('PSP events: the verifying secret is recorded, unreadable signed events are kept and acknowledged', () => {
  const SECRET = 'whsec_security_test_simulator';
  let fincore: TestFinCore;
  let apiKey: string;

  before(async () => {
    fincore = await startTestFinCore({ FINCORE_PSP_WEBHOOK_SECRET: SECRET, FINCORE_SIM_SETTLE_MS: '600000' }, { api: true, worker: false, simulator: true });
    apiKey = (await createMerchant(fincore.url, 'Secrets Shop')).apiKey;
  });
  after(() => fincore.stop());

  function postSigned(raw: string, secret = SECRET) {
    const t = Math.floor(Date.now() / 1000);
    const headers = { 'content-type': 'application/json', 'fincore-psp-signature': `t=${t},v1=${computeSignature(secret, t, Buffer.from(raw))}` };
    return call<Record<string, unknown>>(fincore.url, 'POST', '/v1/webhooks/psp', { rawBody: raw, headers });
  }

  function chargeSucceeded(reference: string, extra: Record<string, unknown> = {}): string {
    const id = `simevt_${randomBytes(6).toString('hex')}`;
    const object = { id: `simch_${randomBytes(6).toString('hex')}`, object: 'charge', reference, amount: 5000, currency: 'usd', payment_method: 'pm_card_visa', status: 'succeeded', failure_code: null, failure_message: null, amount_refunded: 0, ...extra };
    return JSON.stringify({ id, type: 'charge.succeeded', created: Math.floor(Date.now() / 1000), data: { object } });
  }

  it('each stored PSP event carries the fingerprint of the secret that verified it, never the secret', async () => {
    const created = await call<ChargeBody>(fincore.url, 'POST', '/v1/charges', { key: apiKey, body: { amount: 5000, currency: 'usd', payment_method: 'pm_card_visa' } });
    const raw = chargeSucceeded(created.body.id);
    const answer = await postSigned(raw);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const { rows } = await fincore.db.pool.query<{ secret_fingerprint: string; row: string }>('SELECT secret_fingerprint, row_to_json(psp_events)::text AS row FROM psp_events WHERE id = $1', [JSON.parse(raw).id]);
    assert.equal(rows[0]?.secret_fingerprint, secretFingerprint(SECRET));
    assert.match(rows[0]!.secret_fingerprint, /^sha256:[0-9a-f]{16}$/);
    assert.ok(!rows[0]!.row.includes(SECRET), 'the secret itself is nowhere in the row');
  });

  it('a signed event with NUL or a lone surrogate: 200, kept as sent, a redelivery is a duplicate; no 500', async () => {
    for (const poison of [chargeSucceeded('ch_\u0000x'), chargeSucceeded('ch_ok', { failure_message: 'a\ud800b' }), chargeSucceeded('ch_ok', { ['k\u0000']: 1 })]) {
      const first = await postSigned(poison);
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal(first.body.malformed, true);
      const again = await postSigned(poison);
      assert.equal(again.status, 200);
      assert.equal(again.body.duplicate, true);
      const { rows } = await fincore.db.pool.query<{ raw_body: Buffer; malformed_reason: string; secret_fingerprint: string }>(
        "SELECT raw_body, malformed_reason, secret_fingerprint FROM psp_events WHERE type = 'malformed' AND raw_body = $1",
        [Buffer.from(poison)],
      );
      assert.equal(rows.length, 1);
      assert.match(rows[0]!.malformed_reason, /NUL or an unpaired UTF-16 surrogate/);
      assert.equal(rows[0]!.secret_fingerprint, secretFingerprint(SECRET));
    }
  });

  it('a signed body that is not JSON, or not an event, is kept and acknowledged; an unsigned one is still refused', async () => {
    for (const raw of ['{"id": "simevt_x", "type": ', '[1,2,3]', JSON.stringify({ id: 'simevt_y', type: 'charge.succeeded', data: {} })]) {
      const answer = await postSigned(raw);
      assert.equal(answer.status, 200, `${raw}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.malformed, true);
    }
    const forged = await postSigned(chargeSucceeded('ch_forged'), 'whsec_not_the_secret');
    assert.equal(forged.status, 400);
    const { rows } = await fincore.db.pool.query("SELECT 1 FROM psp_events WHERE payload->'data'->'object'->>'reference' = 'ch_forged'");
    assert.equal(rows.length, 0);
  });

  it('a signed event of a type FinCore does not act on is acknowledged, not refused', async () => {
    const answer = await postSigned(JSON.stringify({ id: 'simevt_payout', type: 'payout.paid', created: Math.floor(Date.now() / 1000), data: { object: {} } }));
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.ignored, true);
  });

  it('metrics count the unreadable events', async () => {
    const metrics = await fetch(`${fincore.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    assert.match(await metrics.text(), /fincore_psp_webhooks_total\{result="malformed"\} [1-9]/);
  });
});

describe('Stripe intake: a signed but unreadable event is not blamed on the signature', () => {
  const SECRET = 'whsec_security_test_stripe';
  let fincore: TestFinCore;

  before(async () => {
    fincore = await startTestFinCore({ FINCORE_PSP: 'stripe', STRIPE_WEBHOOK_SECRET: SECRET }, { api: true, worker: false, simulator: true });
  });
  after(() => fincore.stop());

  it('verified, not JSON: 200 and kept with the fingerprint of the Stripe secret', async () => {
    const raw = '{"id": "evt_1", "object": "event", ';
    const header = Stripe.webhooks.generateTestHeaderString({ payload: raw, secret: SECRET });
    const answer = await call<Record<string, unknown>>(fincore.url, 'POST', '/v1/webhooks/stripe', { rawBody: raw, headers: { 'content-type': 'application/json', 'stripe-signature': header } });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.malformed, true);
    const { rows } = await fincore.db.pool.query<{ malformed_reason: string; secret_fingerprint: string }>("SELECT malformed_reason, secret_fingerprint FROM psp_events WHERE type = 'malformed'");
    assert.equal(rows.length, 1);
    assert.match(rows[0]!.malformed_reason, /not valid JSON/);
    assert.doesNotMatch(rows[0]!.malformed_reason, /signature/i);
    assert.equal(rows[0]!.secret_fingerprint, secretFingerprint(SECRET));
  });

  it('a wrong signature is still 400 and stores nothing', async () => {
    const raw = JSON.stringify({ id: 'evt_2', object: 'event', type: 'payment_intent.succeeded', data: { object: {} } });
    const header = Stripe.webhooks.generateTestHeaderString({ payload: raw, secret: 'whsec_attacker' });
    const answer = await call<{ error: { code: string; message: string } }>(fincore.url, 'POST', '/v1/webhooks/stripe', { rawBody: raw, headers: { 'content-type': 'application/json', 'stripe-signature': header } });
    assert.equal(answer.status, 400);
    assert.match(answer.body.error.message, /signature/i);
    const { rows } = await fincore.db.pool.query("SELECT 1 FROM psp_events WHERE id = 'evt_2'");
    assert.equal(rows.length, 0);
  });
});
