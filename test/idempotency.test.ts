/**
 * Idempotency-Key over real HTTP (API.md "Idempotency"): replays, reuse with another request,
 * per-merchant scope, remembered refusals, concurrency, key syntax, and the PSP seeing one
 * create call per object.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  ADMIN_KEY,
  call,
  createMerchant,
  settledCharge,
  startTestFinCore,
  waitForCharge,
  waitForRefund,
  type ApiAnswer,
  type ChargeBody,
  type RefundBody,
  type TestFinCore,
  type ErrorBody,
  type ListBody,
  pspCreateCalls,
} from './helpers.ts';

type Json = Record<string, unknown>;

function assertError(answer: ApiAnswer<unknown>, status: number, type: string, code: string, param?: string): void {
  const context = `${answer.status} ${JSON.stringify(answer.body)}`;
  assert.equal(answer.status, status, context);
  const body = answer.body as ErrorBody;
  assert.deepEqual(Object.keys(body), ['error'], context);
  for (const key of Object.keys(body.error)) assert.ok(['type', 'code', 'message', 'param'].includes(key), context);
  assert.equal(body.error.type, type, context);
  assert.equal(body.error.code, code, context);
  assert.equal(typeof body.error.message, 'string', context);
  if (param !== undefined) assert.equal(body.error.param, param, context);
}

function assertReplayed(answer: ApiAnswer<unknown>): void {
  assert.equal(answer.headers.get('idempotent-replayed'), 'true', `expected a replay: ${answer.status} ${JSON.stringify(answer.body)}`);
}

function assertNotReplayed(answer: ApiAnswer<unknown>): void {
  assert.equal(answer.headers.get('idempotent-replayed'), null, 'expected a first answer, not a replay');
}

const visa = { amount: 2500, currency: 'usd', payment_method: 'pm_card_visa' };

function newKey(): string {
  return `key-${randomUUID()}`;
}

describe('Idempotency-Key', () => {
  let fincore: TestFinCore;
  let url: string;
  let keyA: string;
  let keyB: string;

  async function post<T = Json>(path: string, body: unknown, idempotencyKey: string | undefined, apiKey = keyA): Promise<ApiAnswer<T>> {
    const headers: Record<string, string> = {};
    if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
    return call<T>(url, 'POST', path, { key: apiKey, body, headers });
  }

  async function chargeIds(apiKey = keyA): Promise<string[]> {
    const list = await call<ListBody<ChargeBody>>(url, 'GET', '/v1/charges?limit=100', { key: apiKey });
    assert.equal(list.status, 200);
    return list.body.data.map((c) => c.id);
  }

  async function refundIds(chargeId: string, apiKey = keyA): Promise<string[]> {
    const list = await call<ListBody<RefundBody>>(url, 'GET', `/v1/refunds?limit=100&charge_id=${chargeId}`, { key: apiKey });
    assert.equal(list.status, 200);
    return list.body.data.map((r) => r.id);
  }

  async function simCreateRequests(): Promise<Record<string, number>> {
    assert.ok(fincore.simulatorUrl, 'the in-process simulator runs');
    return pspCreateCalls(fincore.simulatorUrl);
  }

  before(async () => {
    fincore = await startTestFinCore();
    url = fincore.url;
    keyA = (await createMerchant(url, 'Shop A')).apiKey;
    keyB = (await createMerchant(url, 'Shop B')).apiKey;
  });
  after(() => fincore.stop());

  it('same key, same body: same status and body, Idempotent-Replayed: true, one charge, one PSP create call', async () => {
    const key = newKey();
    const before = await chargeIds();
    const first = await post<ChargeBody>('/v1/charges', visa, key);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assertNotReplayed(first);
    const second = await post<ChargeBody>('/v1/charges', visa, key);
    assert.equal(second.status, 201);
    assertReplayed(second);
    assert.deepEqual(second.body, first.body);
    // Same JSON with another key order and whitespace is the same request.
    const reordered = await call<ChargeBody>(url, 'POST', '/v1/charges', {
      key: keyA,
      rawBody: '{ "payment_method": "pm_card_visa",  "currency": "usd", "amount": 2500 }',
      headers: { 'idempotency-key': key },
    });
    assert.equal(reordered.status, 201);
    assertReplayed(reordered);
    assert.equal(reordered.body.id, first.body.id);

    const settled = await waitForCharge(url, keyA, first.body.id);
    assert.equal(settled.status, 'succeeded');
    // A replay after settlement still answers with the first response (pending).
    const late = await post<ChargeBody>('/v1/charges', visa, key);
    assertReplayed(late);
    assert.deepEqual(late.body, first.body);

    const after = await chargeIds();
    assert.deepEqual(after.filter((id) => !before.includes(id)), [first.body.id]);
    const creates = await simCreateRequests();
    assert.equal(creates[`charges ${first.body.id}`], 1, JSON.stringify(creates));
  });

  it('without a key, two identical requests make two charges', async () => {
    const one = await post<ChargeBody>('/v1/charges', visa, undefined);
    const two = await post<ChargeBody>('/v1/charges', visa, undefined);
    assert.equal(one.status, 201);
    assert.equal(two.status, 201);
    assert.notEqual(one.body.id, two.body.id);
    assertNotReplayed(two);
  });

  it('same key, different body: 400 idempotency_error/idempotency_key_reused, nothing created', async () => {
    const key = newKey();
    const first = await post<ChargeBody>('/v1/charges', visa, key);
    assert.equal(first.status, 201);
    const before = await chargeIds();
    assertError(await post('/v1/charges', { ...visa, amount: 2501 }, key), 400, 'idempotency_error', 'idempotency_key_reused');
    assertError(await post('/v1/charges', { ...visa, metadata: { a: 'b' } }, key), 400, 'idempotency_error', 'idempotency_key_reused');
    assert.deepEqual(await chargeIds(), before);
    // The key still replays the original request.
    const again = await post<ChargeBody>('/v1/charges', visa, key);
    assertReplayed(again);
    assert.equal(again.body.id, first.body.id);
  });

  it('same key on another path: 400 idempotency_key_reused', async () => {
    const key = newKey();
    const created = await post<ChargeBody>('/v1/charges', visa, key);
    assert.equal(created.status, 201);
    const settled = await waitForCharge(url, keyA, created.body.id);
    assertError(await post('/v1/refunds', { charge_id: settled.id }, key), 400, 'idempotency_error', 'idempotency_key_reused');
    assert.deepEqual(await refundIds(settled.id), []);

    const refundKey = newKey();
    const refunded = await post<RefundBody>('/v1/refunds', { charge_id: settled.id, amount: 100 }, refundKey);
    assert.equal(refunded.status, 201);
    assertError(await post('/v1/charges', visa, refundKey), 400, 'idempotency_error', 'idempotency_key_reused');
  });

  it('keys are per merchant: B uses A\'s key freely, and each gets its own charge', async () => {
    const key = newKey();
    const a = await post<ChargeBody>('/v1/charges', visa, key, keyA);
    assert.equal(a.status, 201);
    const b = await post<ChargeBody>('/v1/charges', { ...visa, amount: 999 }, key, keyB);
    assert.equal(b.status, 201, JSON.stringify(b.body));
    assertNotReplayed(b);
    assert.notEqual(b.body.id, a.body.id);
    assert.equal(b.body.amount, 999);
    const bSame = await post<ChargeBody>('/v1/charges', visa, key, keyB);
    assertError(bSame, 400, 'idempotency_error', 'idempotency_key_reused');
    const aAgain = await post<ChargeBody>('/v1/charges', visa, key, keyA);
    assertReplayed(aAgain);
    assert.equal(aAgain.body.id, a.body.id);
    assert.ok(!(await chargeIds(keyB)).includes(a.body.id));
  });

  it('a request refused by validation is not stored: the corrected retry with the same key creates the charge', async () => {
    const key = newKey();
    const invalid = { ...visa, amount: 50.5 };
    const before = await chargeIds();
    const first = await post('/v1/charges', invalid, key);
    assertError(first, 400, 'invalid_request_error', 'parameter_invalid', 'amount');
    const again = await post('/v1/charges', invalid, key);
    assertError(again, 400, 'invalid_request_error', 'parameter_invalid', 'amount');
    assertNotReplayed(again);
    assert.deepEqual(await chargeIds(), before);
    const corrected = await post<ChargeBody>('/v1/charges', visa, key);
    assert.equal(corrected.status, 201, JSON.stringify(corrected.body));
    assertNotReplayed(corrected);
    // Now the key holds an answer: the invalid body is another request.
    assertError(await post('/v1/charges', invalid, key), 400, 'idempotency_error', 'idempotency_key_reused');
  });

  it('a refusal decided by the handler before any work (unknown currency, unknown payment_method) is not stored either', async () => {
    for (const invalid of [{ ...visa, currency: 'xyz' }, { ...visa, payment_method: 'pm_nope' }]) {
      const key = newKey();
      assertError(await post('/v1/charges', invalid, key), 400, 'invalid_request_error', 'parameter_invalid');
      const corrected = await post<ChargeBody>('/v1/charges', visa, key);
      assert.equal(corrected.status, 201, JSON.stringify(corrected.body));
      assertNotReplayed(corrected);
    }
  });

  it('a refund refused by the refund rules is remembered', async () => {
    const charge = await settledCharge(url, keyA, 1000);
    const key = newKey();
    const tooMuch = { charge_id: charge.id, amount: 1001 };
    const first = await post('/v1/refunds', tooMuch, key);
    assertError(first, 400, 'invalid_request_error', 'amount_too_large', 'amount');
    const replay = await post('/v1/refunds', tooMuch, key);
    assertReplayed(replay);
    assert.deepEqual(replay.body, first.body);
    assertError(await post('/v1/refunds', { charge_id: charge.id, amount: 10 }, key), 400, 'idempotency_error', 'idempotency_key_reused');
    assert.deepEqual(await refundIds(charge.id), []);
  });

  it('10 concurrent POST /v1/charges with one key create exactly one charge', async () => {
    const key = newKey();
    const before = await chargeIds();
    const answers = await Promise.all(Array.from({ length: 10 }, () => post<ChargeBody>('/v1/charges', visa, key)));
    const created = answers.filter((a) => a.status === 201);
    assert.ok(created.length >= 1, answers.map((a) => a.status).join(','));
    const ids = new Set(created.map((a) => a.body.id));
    assert.equal(ids.size, 1, `one charge id, got ${[...ids].join(', ')}`);
    for (const answer of answers) {
      if (answer.status === 201) continue;
      assertError(answer, 409, 'idempotency_error', 'idempotency_key_in_use');
    }
    assert.equal(created.filter((a) => a.headers.get('idempotent-replayed') === null).length, 1, 'exactly one first answer');
    const [id] = [...ids];
    assert.ok(id);
    const newOnes = (await chargeIds()).filter((c) => !before.includes(c));
    assert.deepEqual(newOnes, [id]);
    await waitForCharge(url, keyA, id);
    assert.equal((await simCreateRequests())[`charges ${id}`], 1);
    // Once the first request is done, the key replays.
    const later = await post<ChargeBody>('/v1/charges', visa, key);
    assertReplayed(later);
    assert.equal(later.body.id, id);
  });

  it('10 concurrent POST /v1/refunds with one key create exactly one refund', async () => {
    const charge = await settledCharge(url, keyA, 10_000);
    const key = newKey();
    const body = { charge_id: charge.id, amount: 700 };
    const answers = await Promise.all(Array.from({ length: 10 }, () => post<RefundBody>('/v1/refunds', body, key)));
    const created = answers.filter((a) => a.status === 201);
    assert.ok(created.length >= 1, answers.map((a) => a.status).join(','));
    const ids = new Set(created.map((a) => a.body.id));
    assert.equal(ids.size, 1);
    for (const answer of answers) {
      if (answer.status === 201) continue;
      assertError(answer, 409, 'idempotency_error', 'idempotency_key_in_use');
    }
    const [id] = [...ids];
    assert.ok(id);
    assert.deepEqual(await refundIds(charge.id), [id]);
    const settled = await waitForRefund(url, keyA, id);
    assert.equal(settled.status, 'succeeded');
    assert.equal((await simCreateRequests())[`refunds ${id}`], 1, JSON.stringify(await simCreateRequests()));
    const got = await call<ChargeBody>(url, 'GET', `/v1/charges/${charge.id}`, { key: keyA });
    assert.equal(got.body.amount_refunded, 700);
  });

  it('refund replay survives settlement: same key answers the first (pending) response, no second refund', async () => {
    const charge = await settledCharge(url, keyA, 3000);
    const key = newKey();
    const body = { charge_id: charge.id, amount: 1000, reason: 'duplicate' };
    const first = await post<RefundBody>('/v1/refunds', body, key);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assertNotReplayed(first);
    await waitForRefund(url, keyA, first.body.id);
    const replay = await post<RefundBody>('/v1/refunds', body, key);
    assert.equal(replay.status, 201);
    assertReplayed(replay);
    assert.deepEqual(replay.body, first.body);
    assert.deepEqual(await refundIds(charge.id), [first.body.id]);
    assertError(await post('/v1/refunds', { ...body, amount: 1001 }, key), 400, 'idempotency_error', 'idempotency_key_reused');
    const got = await call<ChargeBody>(url, 'GET', `/v1/charges/${charge.id}`, { key: keyA });
    assert.equal(got.body.amount_refunded, 1000);
  });

  it('a refund that would be refused now still replays its first success', async () => {
    const charge = await settledCharge(url, keyA, 500);
    const key = newKey();
    const body = { charge_id: charge.id };
    const first = await post<RefundBody>('/v1/refunds', body, key);
    assert.equal(first.status, 201);
    // The charge is now fully refunded: a new request is refused, the replay is not.
    assertError(await post('/v1/refunds', body, newKey()), 400, 'invalid_request_error', 'charge_already_refunded');
    const replay = await post<RefundBody>('/v1/refunds', body, key);
    assert.equal(replay.status, 201);
    assertReplayed(replay);
    assert.equal(replay.body.id, first.body.id);
  });

  it('merchant creation with a key: replay returns the same merchant (api_key not repeated)', async () => {
    const key = newKey();
    const first = await post<Json>('/v1/merchants', { name: 'Idem Shop' }, key, ADMIN_KEY);
    assert.equal(first.status, 201);
    assert.equal(typeof first.body.api_key, 'string');
    const replay = await post<Json>('/v1/merchants', { name: 'Idem Shop' }, key, ADMIN_KEY);
    assert.equal(replay.status, 201);
    assertReplayed(replay);
    assert.equal(replay.body.id, first.body.id);
    assert.notEqual(replay.body.api_key, first.body.api_key);
  });

  it('Idempotency-Key syntax: 255 printable chars accepted; 256 chars or non-printable chars: 400 parameter_invalid', async () => {
    const longest = 'k'.repeat(255);
    const ok = await post<ChargeBody>('/v1/charges', visa, longest);
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    const printable = ' !"#$%&\'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~'.trim();
    const okPrintable = await post<ChargeBody>('/v1/charges', visa, printable);
    assert.equal(okPrintable.status, 201, JSON.stringify(okPrintable.body));

    const before = await chargeIds();
    // (fetch itself refuses to send control characters other than tab, so DEL is not tried here.)
    for (const bad of ['k'.repeat(256), 'tab\there', 'caf\u00e9']) {
      assertError(await post('/v1/charges', visa, bad), 400, 'invalid_request_error', 'parameter_invalid');
    }
    assertError(await post('/v1/refunds', { charge_id: ok.body.id }, 'k'.repeat(256)), 400, 'invalid_request_error', 'parameter_invalid');
    assert.deepEqual(await chargeIds(), before);
  });

  it('an empty Idempotency-Key header: 400 parameter_invalid', async () => {
    const answer = await post('/v1/charges', visa, '');
    assertError(answer, 400, 'invalid_request_error', 'parameter_invalid');
  });
});
