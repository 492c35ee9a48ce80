/**
 * Rate limits (README "Rate limits"): per merchant after auth, per client address before it,
 * failed authentications per address (a key brute-force is throttled), admin and the PSP webhook
 * intake under their own limits. The fairness claim (one merchant's flood leaves another's p99
 * within 2x) is measured by `npm run bench -- --fairness`, not here.
 *
 * The API trusts X-Forwarded-For from 127.0.0.1 (FINCORE_TRUST_PROXY, as behind the ALB), so
 * each test speaks from its own client address.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig, ConfigError } from '../../src/config.ts';
import { ADMIN_KEY, call, createMerchant, startTestFinCore, type ApiAnswer, type ErrorBody, type TestFinCore } from '../helpers.ts';

const MERCHANT_PER_S = 20;
const ADMIN_PER_S = 8;
const WEBHOOK_PER_S = 10;
const ADDRESS_PER_S = 10;
const AUTH_FAILURES = 5;

let fincore: TestFinCore;
before(async () => {
  fincore = await startTestFinCore({
    FINCORE_RATE_LIMIT_PER_S: String(MERCHANT_PER_S),
    FINCORE_RATE_LIMIT_ADMIN_PER_S: String(ADMIN_PER_S),
    FINCORE_RATE_LIMIT_WEBHOOK_PER_S: String(WEBHOOK_PER_S),
    FINCORE_RATE_LIMIT_ADDRESS_PER_S: String(ADDRESS_PER_S),
    FINCORE_RATE_LIMIT_AUTH_FAILURES: String(AUTH_FAILURES),
    FINCORE_TRUST_PROXY: '127.0.0.1',
  });
});
after(async () => fincore?.stop());

let addressCounter = 0;
/** A client address of its own (X-Forwarded-For, trusted from 127.0.0.1). */
function newClient(): Record<string, string> {
  addressCounter++;
  return { 'x-forwarded-for': `198.51.100.${addressCounter}` };
}

function statuses(answers: ApiAnswer[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const a of answers) counts[a.status] = (counts[a.status] ?? 0) + 1;
  return counts;
}

function assertContract429(answer: ApiAnswer) {
  assert.equal(answer.status, 429);
  const body = answer.body as unknown as ErrorBody;
  assert.equal(body.error.type, 'rate_limit_error');
  assert.equal(body.error.code, 'rate_limited');
  assert.match(body.error.message, /retry/i);
  const retryAfter = Number(answer.headers.get('retry-after'));
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After: ${answer.headers.get('retry-after')}`);
}

/** Sleeps until just after a second boundary so a burst fits in one one-second window. */
async function atWindowStart() {
  await new Promise((r) => setTimeout(r, 1100));
}

describe('per merchant, after auth', () => {
  it('A gets 429s past its limit while B, in the same second and from the same address, does not', async () => {
    const a = await createMerchant(fincore.url, 'Flooding merchant');
    const b = await createMerchant(fincore.url, 'Quiet merchant');
    const client = newClient();
    await atWindowStart();
    const burst = await Promise.all([
      ...Array.from({ length: MERCHANT_PER_S * 2 }, () => call(fincore.url, 'GET', '/v1/charges?limit=1', { key: a.apiKey, headers: client })),
      ...Array.from({ length: 5 }, () => call(fincore.url, 'GET', '/v1/charges?limit=1', { key: b.apiKey, headers: client })),
    ]);
    const ofA = burst.slice(0, MERCHANT_PER_S * 2);
    const ofB = burst.slice(MERCHANT_PER_S * 2);
    assert.deepEqual(statuses(ofB), { 200: 5 }, 'B is not limited by A');
    const countsA = statuses(ofA);
    assert.ok((countsA[429] ?? 0) >= MERCHANT_PER_S, `A: ${JSON.stringify(countsA)}`);
    assert.ok((countsA[200] ?? 0) <= MERCHANT_PER_S, `A got more than its limit: ${JSON.stringify(countsA)}`);
    assertContract429(ofA.find((x) => x.status === 429) as ApiAnswer);
    // A refused request did nothing: no idempotency record, no charge. A's next window is open again.
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal((await call(fincore.url, 'GET', '/v1/charges?limit=1', { key: a.apiKey, headers: client })).status, 200);
  });

  it('a refused POST creates nothing', async () => {
    const a = await createMerchant(fincore.url, 'Burst charger');
    await atWindowStart();
    const answers = await Promise.all(
      Array.from({ length: MERCHANT_PER_S + 10 }, (_, i) =>
        call(fincore.url, 'POST', '/v1/charges', { key: a.apiKey, headers: { ...newClient(), 'idempotency-key': `burst-${i}` }, body: { amount: 100, currency: 'usd', payment_method: 'pm_card_visa' } }),
      ),
    );
    const created = answers.filter((x) => x.status === 201).length;
    assert.ok(answers.some((x) => x.status === 429));
    await new Promise((r) => setTimeout(r, 1100));
    const list = await call<{ data: unknown[] }>(fincore.url, 'GET', '/v1/charges?limit=100', { key: a.apiKey });
    assert.equal(list.body.data.length, created, 'only the accepted requests made charges');
  });
});

describe('before auth, per client address', () => {
  it('an unauthenticated flood from one address gets 429; another address is unaffected', async () => {
    const flooder = newClient();
    await atWindowStart();
    const flood = await Promise.all(Array.from({ length: ADDRESS_PER_S * 3 }, () => call(fincore.url, 'GET', '/healthz', { headers: flooder })));
    const counts = statuses(flood);
    assert.ok((counts[200] ?? 0) <= ADDRESS_PER_S, JSON.stringify(counts));
    assert.ok((counts[429] ?? 0) >= ADDRESS_PER_S * 2, JSON.stringify(counts));
    assertContract429(flood.find((x) => x.status === 429) as ApiAnswer);
    assert.equal((await call(fincore.url, 'GET', '/healthz', { headers: newClient() })).status, 200);
  });

  it('failed authentications are throttled per address: past the allowance even a valid key is refused before it is checked', async () => {
    const merchant = await createMerchant(fincore.url, 'Brute-forced');
    const attacker = newClient();
    for (let i = 0; i < AUTH_FAILURES; i++) {
      const wrong = await call(fincore.url, 'GET', '/v1/charges', { key: `sk_guess_${i}`, headers: attacker });
      assert.equal(wrong.status, 401, `attempt ${i + 1}`);
    }
    const throttled = await call(fincore.url, 'GET', '/v1/charges', { key: 'sk_guess_next', headers: attacker });
    assertContract429(throttled);
    assert.ok(Number(throttled.headers.get('retry-after')) > 1, 'Retry-After covers the failure window');
    // A guess that happens to be right is not even looked at: the brute-force learns nothing.
    assertContract429(await call(fincore.url, 'GET', '/v1/charges', { key: merchant.apiKey, headers: attacker }));
    // Requests without any key count too (the same address, no Authorization header).
    assert.equal((await call(fincore.url, 'GET', '/v1/charges', { headers: attacker })).status, 429);
    // Wrong admin keys count against the same address.
    assert.equal((await call(fincore.url, 'GET', '/v1/admin/overview', { key: ADMIN_KEY, headers: attacker })).status, 429);
    // The merchant itself, from its own address, is unaffected.
    assert.equal((await call(fincore.url, 'GET', '/v1/charges', { key: merchant.apiKey, headers: newClient() })).status, 200);
  });

  it('wrong admin keys are failed authentications too', async () => {
    const client = newClient();
    for (let i = 0; i < AUTH_FAILURES; i++) assert.equal((await call(fincore.url, 'GET', '/v1/admin/overview', { key: `adm_guess_${i}`, headers: client })).status, 401);
    assertContract429(await call(fincore.url, 'GET', '/v1/admin/overview', { key: 'adm_guess_last', headers: client }));
  });
});

describe('admin and the PSP webhook path have their own limits', () => {
  it('admin requests are limited', async () => {
    await atWindowStart();
    const answers = await Promise.all(Array.from({ length: ADMIN_PER_S * 3 }, () => call(fincore.url, 'GET', '/v1/admin/merchants', { key: ADMIN_KEY, headers: newClient() })));
    const counts = statuses(answers);
    assert.ok((counts[200] ?? 0) <= ADMIN_PER_S && (counts[429] ?? 0) >= ADMIN_PER_S * 2, JSON.stringify(counts));
    assertContract429(answers.find((x) => x.status === 429) as ApiAnswer);
  });

  it('the webhook intake is limited per address, separately from the address limit of other routes', async () => {
    const sender = newClient();
    await atWindowStart();
    const answers = await Promise.all(
      Array.from({ length: WEBHOOK_PER_S * 3 }, () => call(fincore.url, 'POST', '/v1/webhooks/psp', { headers: { ...sender, 'psp-signature': 't=1,v1=00' }, rawBody: '{}' })),
    );
    const counts = statuses(answers);
    assert.ok((counts[429] ?? 0) >= WEBHOOK_PER_S * 2, JSON.stringify(counts));
    assert.ok((counts[429] ?? 0) < answers.length, 'the first ones were let through to the signature check');
    assertContract429(answers.find((x) => x.status === 429) as ApiAnswer);
    // The same address's health checks are counted in their own bucket.
    assert.equal((await call(fincore.url, 'GET', '/healthz', { headers: sender })).status, 200);
  });
});

describe('FINCORE_TRUST_PROXY', () => {
  it('parses false, true, hop counts and address lists, and refuses anything else', () => {
    assert.equal(loadConfig({}).trustProxy, false);
    assert.equal(loadConfig({ FINCORE_TRUST_PROXY: 'true' }).trustProxy, true);
    assert.equal(loadConfig({ FINCORE_TRUST_PROXY: '1' }).trustProxy, 1);
    assert.deepEqual(loadConfig({ FINCORE_TRUST_PROXY: '10.0.0.0/16, 127.0.0.1' }).trustProxy, ['10.0.0.0/16', '127.0.0.1']);
    assert.throws(() => loadConfig({ FINCORE_TRUST_PROXY: '10.0.0.0/99' }), ConfigError);
    assert.throws(() => loadConfig({ FINCORE_TRUST_PROXY: 'alb' }), ConfigError);
  });

  it('without it, X-Forwarded-For is ignored: a flooder cannot pick a fresh address per request', async () => {
    const plain = await startTestFinCore({ FINCORE_RATE_LIMIT_ADDRESS_PER_S: '5' });
    try {
      await atWindowStart();
      const answers = await Promise.all(Array.from({ length: 15 }, (_, i) => call(plain.url, 'GET', '/healthz', { headers: { 'x-forwarded-for': `203.0.113.${i + 1}` } })));
      assert.ok(answers.filter((x) => x.status === 429).length >= 10, JSON.stringify(statuses(answers)));
    } finally {
      await plain.stop();
    }
  });
});

it('the defaults fit one process: 100 requests/s per merchant, the rest tighter or their own', () => {
  const { rateLimits } = loadConfig({});
  assert.deepEqual(rateLimits, { merchantPerSecond: 100, adminPerSecond: 200, webhookPerSecond: 1000, addressPerSecond: 50, authFailures: 20, authFailureWindowMs: 60_000 });
});
