/**
 * The public contract (API.md) seen from a client over real HTTP: auth, validation, the error
 * shape, refund rules, tenant isolation, lists and paging, object shapes, health and docs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { newId } from '../src/domain/ids.ts';
import {
  insertPendingCharge,
  ADMIN_KEY,
  call,
  createMerchant,
  freshDatabase,
  settledCharge,
  startTestFinCore,
  waitForRefund,
  type ApiAnswer,
  type ChargeBody,
  type RefundBody,
  type TestFinCore,
  type ErrorBody,
  type ListBody,
} from './helpers.ts';

type Json = Record<string, unknown>;
type Answer<T = Json> = ApiAnswer<T>;

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Every error body seen by this file: checked at the end for stack traces and SQL. */
const errorBodies: string[] = [];

async function api<T = Json>(
  baseUrl: string,
  method: string,
  path: string,
  options: { key?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<Answer<T>> {
  const answer = await call<T>(baseUrl, method, path, options);
  if (answer.status >= 400) errorBodies.push(JSON.stringify(answer.body));
  return answer;
}

/**
 * Asserts status and the exact error shape. `param`: a string must match exactly, null means
 * "no param", undefined means "not checked" (but a string when present).
 */
function assertError(answer: Answer<unknown>, status: number, type: string, code: string, param?: string | null): void {
  const context = `${answer.status} ${JSON.stringify(answer.body)}`;
  assert.equal(answer.status, status, context);
  const body = answer.body as ErrorBody;
  assert.deepEqual(Object.keys(body), ['error'], context);
  const keys = Object.keys(body.error).sort();
  for (const key of keys) assert.ok(['code', 'message', 'param', 'type'].includes(key), `unexpected error field ${key}: ${context}`);
  assert.equal(body.error.type, type, context);
  assert.equal(body.error.code, code, context);
  assert.equal(typeof body.error.message, 'string', context);
  assert.ok(body.error.message.length > 0, context);
  if (param === null) assert.equal(body.error.param, undefined, context);
  else if (param !== undefined) assert.equal(body.error.param, param, context);
  else if (body.error.param !== undefined) assert.equal(typeof body.error.param, 'string', context);
  assert.match(answer.headers.get('content-type') ?? '', /^application\/json/, context);
}

function assertInvalid(answer: Answer<unknown>, code: string, param?: string | null): void {
  assertError(answer, 400, 'invalid_request_error', code, param);
}

function assertChargeShape(charge: Json): void {
  assert.match(String(charge.id), /^ch_/);
  assert.equal(charge.object, 'charge');
  for (const key of ['id', 'object', 'amount', 'currency', 'status', 'payment_method', 'description', 'metadata', 'amount_refunded', 'refunded', 'failure_code', 'failure_message', 'created_at', 'updated_at']) {
    assert.ok(key in charge, `charge lacks ${key}`);
  }
  assert.equal(Number.isInteger(charge.amount), true);
  assert.match(String(charge.created_at), ISO_UTC);
  assert.match(String(charge.updated_at), ISO_UTC);
}

function assertRefundShape(refund: Json): void {
  assert.match(String(refund.id), /^re_/);
  assert.equal(refund.object, 'refund');
  for (const key of ['id', 'object', 'charge_id', 'amount', 'currency', 'status', 'reason', 'metadata', 'failure_reason', 'created_at', 'updated_at']) {
    assert.ok(key in refund, `refund lacks ${key}`);
  }
  assert.match(String(refund.charge_id), /^ch_/);
  assert.match(String(refund.created_at), ISO_UTC);
  assert.match(String(refund.updated_at), ISO_UTC);
}

const visa = { amount: 5000, currency: 'usd', payment_method: 'pm_card_visa' };

describe('API contract', () => {
  let fincore: TestFinCore;
  let url: string;
  let keyA: string;
  let keyB: string;

  async function charge(body: Json, key = keyA): Promise<Answer<ChargeBody>> {
    return api<ChargeBody>(url, 'POST', '/v1/charges', { key, body });
  }
  async function refund(body: Json, key = keyA): Promise<Answer<RefundBody>> {
    return api<RefundBody>(url, 'POST', '/v1/refunds', { key, body });
  }

  before(async () => {
    fincore = await startTestFinCore();
    url = fincore.url;
    keyA = (await createMerchant(url, 'Shop A')).apiKey;
    keyB = (await createMerchant(url, 'Shop B')).apiKey;
  });
  after(() => fincore.stop());

  describe('authentication', () => {
    it('no Authorization header: 401 authentication_error/unauthorized', async () => {
      assertError(await api(url, 'GET', '/v1/charges'), 401, 'authentication_error', 'unauthorized');
      assertError(await api(url, 'POST', '/v1/charges', { body: visa }), 401, 'authentication_error', 'unauthorized');
      assertError(await api(url, 'POST', '/v1/merchants', { body: { name: 'x' } }), 401, 'authentication_error', 'unauthorized');
    });

    it('an unknown key or a malformed header: 401', async () => {
      assertError(await api(url, 'GET', '/v1/charges', { key: 'sk_not_a_real_key' }), 401, 'authentication_error', 'unauthorized');
      assertError(await api(url, 'GET', '/v1/charges', { headers: { authorization: `Basic ${keyA}` } }), 401, 'authentication_error', 'unauthorized');
      assertError(await api(url, 'GET', '/v1/refunds/re_x', { key: 'sk_not_a_real_key' }), 401, 'authentication_error', 'unauthorized');
    });

    it('a merchant key on an admin endpoint: 401', async () => {
      assertError(await api(url, 'POST', '/v1/merchants', { key: keyA, body: { name: 'Sneaky' } }), 401, 'authentication_error', 'unauthorized');
    });

    it('the admin key on merchant endpoints: 401', async () => {
      assertError(await api(url, 'GET', '/v1/charges', { key: ADMIN_KEY }), 401, 'authentication_error', 'unauthorized');
      assertError(await api(url, 'POST', '/v1/charges', { key: ADMIN_KEY, body: visa }), 401, 'authentication_error', 'unauthorized');
      assertError(await api(url, 'POST', '/v1/refunds', { key: ADMIN_KEY, body: { charge_id: 'ch_x' } }), 401, 'authentication_error', 'unauthorized');
    });
  });

  describe('POST /v1/merchants', () => {
    it('201 with id mer_, object merchant, name and a usable api_key', async () => {
      const created = await api<Json>(url, 'POST', '/v1/merchants', { key: ADMIN_KEY, body: { name: 'Corner Shop' } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.match(String(created.body.id), /^mer_/);
      assert.equal(created.body.object, 'merchant');
      assert.equal(created.body.name, 'Corner Shop');
      assert.equal(typeof created.body.api_key, 'string');
      const listed = await api<ListBody<Json>>(url, 'GET', '/v1/charges', { key: String(created.body.api_key) });
      assert.equal(listed.status, 200);
      assert.deepEqual(listed.body.data, []);
    });

    it('name missing: parameter_missing; unknown field: parameter_unknown', async () => {
      assertInvalid(await api(url, 'POST', '/v1/merchants', { key: ADMIN_KEY, body: {} }), 'parameter_missing', 'name');
      assertInvalid(await api(url, 'POST', '/v1/merchants', { key: ADMIN_KEY, body: { name: 'x', api_key: 'sk_mine' } }), 'parameter_unknown', 'api_key');
    });
  });

  describe('POST /v1/charges validation', () => {
    it('a valid charge: 201 pending, the contract shape', async () => {
      const created = await charge({ ...visa, description: 'order 42', metadata: { order: '42' } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assertChargeShape(created.body);
      assert.equal(created.body.status, 'pending');
      assert.equal(created.body.amount, 5000);
      assert.equal(created.body.currency, 'usd');
      assert.equal(created.body.payment_method, 'pm_card_visa');
      assert.equal(created.body.description, 'order 42');
      assert.deepEqual(created.body.metadata, { order: '42' });
      assert.equal(created.body.amount_refunded, 0);
      assert.equal(created.body.refunded, false);
      assert.equal(created.body.failure_code, null);
      assert.equal(created.body.failure_message, null);
    });

    it('amount missing: parameter_missing, param amount', async () => {
      assertInvalid(await charge({ currency: 'usd', payment_method: 'pm_card_visa' }), 'parameter_missing', 'amount');
    });

    it('currency and payment_method missing: parameter_missing', async () => {
      assertInvalid(await charge({ amount: 100, payment_method: 'pm_card_visa' }), 'parameter_missing', 'currency');
      assertInvalid(await charge({ amount: 100, currency: 'usd' }), 'parameter_missing', 'payment_method');
    });

    for (const [label, amount] of [
      ['a float', 50.5],
      ['a numeric string', '100'],
      ['a boolean', true],
      ['zero', 0],
      ['a negative', -100],
      ['null', null],
      ['an object', { value: 100 }],
    ] as const) {
      it(`amount ${label}: parameter_invalid, param amount`, async () => {
        assertInvalid(await charge({ ...visa, amount }), 'parameter_invalid', 'amount');
      });
    }

    it('amount 100000000: amount_too_large; 99999999 is accepted', async () => {
      assertInvalid(await charge({ ...visa, amount: 100_000_000 }), 'amount_too_large', 'amount');
      const max = await charge({ ...visa, amount: 99_999_999 });
      assert.equal(max.status, 201, JSON.stringify(max.body));
      assert.equal(max.body.amount, 99_999_999);
    });

    it('unknown currency: parameter_invalid, param currency', async () => {
      assertInvalid(await charge({ ...visa, currency: 'xyz' }), 'parameter_invalid', 'currency');
      assertInvalid(await charge({ ...visa, currency: 'us' }), 'parameter_invalid', 'currency');
      assertInvalid(await charge({ ...visa, currency: 840 }), 'parameter_invalid', 'currency');
    });

    it('"USD" is accepted and returned "usd"; jpy and kwd are accepted', async () => {
      const usd = await charge({ ...visa, currency: 'USD' });
      assert.equal(usd.status, 201, JSON.stringify(usd.body));
      assert.equal(usd.body.currency, 'usd');
      const jpy = await charge({ ...visa, amount: 500, currency: 'JPY' });
      assert.equal(jpy.status, 201, JSON.stringify(jpy.body));
      assert.equal(jpy.body.currency, 'jpy');
      assert.equal(jpy.body.amount, 500);
      const kwd = await charge({ ...visa, amount: 1500, currency: 'kwd' });
      assert.equal(kwd.status, 201, JSON.stringify(kwd.body));
      assert.equal(kwd.body.currency, 'kwd');
      assert.equal(kwd.body.amount, 1500);
    });

    it('unknown payment_method: parameter_invalid, param payment_method', async () => {
      assertInvalid(await charge({ ...visa, payment_method: 'pm_card_unknown' }), 'parameter_invalid', 'payment_method');
      assertInvalid(await charge({ ...visa, payment_method: 42 }), 'parameter_invalid', 'payment_method');
    });

    it('unknown field: parameter_unknown with param (no mass assignment)', async () => {
      assertInvalid(await charge({ ...visa, status: 'succeeded' }), 'parameter_unknown', 'status');
      assertInvalid(await charge({ ...visa, merchant_id: 'mer_other' }), 'parameter_unknown', 'merchant_id');
    });

    it('metadata: 20 keys of 40 chars to 500-char values accepted', async () => {
      const metadata: Record<string, string> = {};
      for (let i = 0; i < 20; i++) metadata[`${String(i).padStart(2, '0')}${'k'.repeat(38)}`] = 'v'.repeat(500);
      const created = await charge({ ...visa, metadata });
      assert.equal(created.status, 201, JSON.stringify(created.body).slice(0, 300));
      assert.deepEqual(created.body.metadata, metadata);
    });

    it('metadata: 21 keys, a 41-char key, a 501-char value, a non-string value, nesting: parameter_invalid', async () => {
      const many: Record<string, string> = {};
      for (let i = 0; i < 21; i++) many[`k${i}`] = 'v';
      assertInvalid(await charge({ ...visa, metadata: many }), 'parameter_invalid', 'metadata');
      assertInvalid(await charge({ ...visa, metadata: { ['k'.repeat(41)]: 'v' } }), 'parameter_invalid', 'metadata');
      assertInvalid(await charge({ ...visa, metadata: { k: 'v'.repeat(501) } }), 'parameter_invalid', 'metadata');
      assertInvalid(await charge({ ...visa, metadata: { k: 5 } }), 'parameter_invalid', 'metadata');
      assertInvalid(await charge({ ...visa, metadata: { k: true } }), 'parameter_invalid', 'metadata');
      assertInvalid(await charge({ ...visa, metadata: { k: { nested: 'x' } } }), 'parameter_invalid', 'metadata');
      assertInvalid(await charge({ ...visa, metadata: 'flat' }), 'parameter_invalid', 'metadata');
    });

    it('invalid JSON body: 400 invalid_json', async () => {
      assertInvalid(await api(url, 'POST', '/v1/charges', { key: keyA, rawBody: '{"amount": 100,' }), 'invalid_json');
      assertInvalid(await api(url, 'POST', '/v1/refunds', { key: keyA, rawBody: 'not json' }), 'invalid_json');
    });

    it('a JSON body that is not an object: 400 in the error shape', async () => {
      const answer = await api(url, 'POST', '/v1/charges', { key: keyA, rawBody: '[1,2,3]' });
      assert.equal(answer.status, 400);
      assert.equal((answer.body as unknown as ErrorBody).error.type, 'invalid_request_error');
      assertError(answer, 400, 'invalid_request_error', (answer.body as unknown as ErrorBody).error.code);
    });

    it('a body over the limit (65536 bytes by default): 413 payload_too_large', async () => {
      const body = { ...visa, description: 'x'.repeat(70_000) };
      assertError(await charge(body), 413, 'invalid_request_error', 'payload_too_large');
    });
  });

  describe('refunds', () => {
    let succeeded: ChargeBody;

    before(async () => {
      succeeded = await settledCharge(url, keyA, 5000);
      assert.equal(succeeded.status, 'succeeded');
    });

    it('charge_id missing: parameter_missing, param charge_id', async () => {
      assertInvalid(await refund({ amount: 100 }), 'parameter_missing', 'charge_id');
    });

    it('unknown charge: 404 resource_missing', async () => {
      assertError(await refund({ charge_id: 'ch_00000000000000000000000000' }), 404, 'invalid_request_error', 'resource_missing', 'charge_id');
    });

    it('a declined charge: charge_not_refundable', async () => {
      const declined = await settledCharge(url, keyA, 700, 'pm_card_chargeDeclined');
      assert.equal(declined.status, 'failed');
      assert.equal(declined.failure_code, 'card_declined');
      assertInvalid(await refund({ charge_id: declined.id }), 'charge_not_refundable');
      assertInvalid(await refund({ charge_id: declined.id, amount: 100 }), 'charge_not_refundable');
    });

    it('invalid amount or reason, unknown field: 400', async () => {
      assertInvalid(await refund({ charge_id: succeeded.id, amount: 0 }), 'parameter_invalid', 'amount');
      assertInvalid(await refund({ charge_id: succeeded.id, amount: -5 }), 'parameter_invalid', 'amount');
      assertInvalid(await refund({ charge_id: succeeded.id, amount: 10.5 }), 'parameter_invalid', 'amount');
      assertInvalid(await refund({ charge_id: succeeded.id, amount: '100' }), 'parameter_invalid', 'amount');
      assertInvalid(await refund({ charge_id: succeeded.id, reason: 'changed_my_mind' }), 'parameter_invalid', 'reason');
      assertInvalid(await refund({ charge_id: succeeded.id, currency: 'eur' }), 'parameter_unknown', 'currency');
      assertInvalid(await refund({ charge_id: succeeded.id, metadata: { k: 1 } }), 'parameter_invalid', 'metadata');
    });

    it('over-refund: amount_too_large; partial refunds; then charge_already_refunded', async () => {
      const base = await settledCharge(url, keyA, 3000);
      assertInvalid(await refund({ charge_id: base.id, amount: 3001 }), 'amount_too_large', 'amount');
      assertInvalid(await refund({ charge_id: base.id, amount: 100_000_000 }), 'amount_too_large', 'amount');

      const first = await refund({ charge_id: base.id, amount: 1000, reason: 'requested_by_customer', metadata: { ticket: 't1' } });
      assert.equal(first.status, 201, JSON.stringify(first.body));
      assertRefundShape(first.body);
      assert.equal(first.body.status, 'pending');
      assert.equal(first.body.amount, 1000);
      assert.equal(first.body.charge_id, base.id);
      assert.equal(first.body.currency, 'usd');
      assert.equal(first.body.reason, 'requested_by_customer');
      assert.deepEqual(first.body.metadata, { ticket: 't1' });
      assert.equal(first.body.failure_reason, null);

      // 2000 left: 2001 is too much.
      assertInvalid(await refund({ charge_id: base.id, amount: 2001 }), 'amount_too_large', 'amount');
      // amount omitted: everything still refundable.
      const rest = await refund({ charge_id: base.id });
      assert.equal(rest.status, 201, JSON.stringify(rest.body));
      assert.equal(rest.body.amount, 2000);
      assert.equal(rest.body.reason, null);

      assertInvalid(await refund({ charge_id: base.id }), 'charge_already_refunded');
      assertInvalid(await refund({ charge_id: base.id, amount: 1 }), 'charge_already_refunded');

      await waitForRefund(url, keyA, first.body.id);
      await waitForRefund(url, keyA, rest.body.id);
      assertInvalid(await refund({ charge_id: base.id, amount: 1 }), 'charge_already_refunded');
    });

    it('GET /v1/charges/{id}: refunds oldest first; amount_refunded and refunded from succeeded refunds', async () => {
      const base = await settledCharge(url, keyA, 4000);
      const ids: string[] = [];
      for (const amount of [1000, 500, 2500]) {
        const r = await refund({ charge_id: base.id, amount });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        ids.push(r.body.id);
      }
      for (const id of ids) assert.equal((await waitForRefund(url, keyA, id)).status, 'succeeded');
      const got = await api<ChargeBody>(url, 'GET', `/v1/charges/${base.id}`, { key: keyA });
      assert.equal(got.status, 200);
      assertChargeShape(got.body);
      assert.deepEqual(got.body.refunds.data.map((r) => r.id), ids);
      assert.deepEqual(got.body.refunds.data.map((r) => r.amount), [1000, 500, 2500]);
      for (const r of got.body.refunds.data) assertRefundShape(r);
      assert.equal(got.body.amount_refunded, 4000);
      assert.equal(got.body.refunded, true);
    });

    it('failed refunds do not count in amount_refunded and free their amount again', async () => {
      const base = await settledCharge(url, keyA, 2000, 'pm_card_refundFail');
      assert.equal(base.status, 'succeeded');
      const r1 = await refund({ charge_id: base.id, amount: 1500 });
      assert.equal(r1.status, 201, JSON.stringify(r1.body));
      const failed = await waitForRefund(url, keyA, r1.body.id);
      assert.equal(failed.status, 'failed');
      assert.equal(typeof failed.failure_reason, 'string');
      // The failed 1500 is free again: the whole 2000 is refundable.
      const r2 = await refund({ charge_id: base.id });
      assert.equal(r2.status, 201, JSON.stringify(r2.body));
      assert.equal(r2.body.amount, 2000);
      await waitForRefund(url, keyA, r2.body.id);
      const got = await api<ChargeBody>(url, 'GET', `/v1/charges/${base.id}`, { key: keyA });
      assert.equal(got.body.amount_refunded, 0);
      assert.equal(got.body.refunded, false);
      assert.deepEqual(got.body.refunds.data.map((r) => r.id), [r1.body.id, r2.body.id]);
      assert.deepEqual(got.body.refunds.data.map((r) => r.status), ['failed', 'failed']);
    });

    it('a partial succeeded refund: amount_refunded set, refunded false', async () => {
      const base = await settledCharge(url, keyA, 1000, 'pm_card_mastercard');
      const r = await refund({ charge_id: base.id, amount: 400 });
      assert.equal(r.status, 201);
      assert.equal((await waitForRefund(url, keyA, r.body.id)).status, 'succeeded');
      const got = await api<ChargeBody>(url, 'GET', `/v1/charges/${base.id}`, { key: keyA });
      assert.equal(got.body.amount_refunded, 400);
      assert.equal(got.body.refunded, false);
      const fetched = await api<RefundBody>(url, 'GET', `/v1/refunds/${r.body.id}`, { key: keyA });
      assert.equal(fetched.status, 200);
      assertRefundShape(fetched.body);
      assert.equal(fetched.body.amount, 400);
      assert.equal(fetched.body.charge_id, base.id);
    });
  });

  describe('refund of a pending charge', () => {
    it('charge_not_refundable, with or without amount', async () => {
      // A charge written without its CHARGE job stays pending for as long as the test needs.
      const merchant = await createMerchant(url, 'Pending Shop');
      const pending = { id: newId('ch') };
      await insertPendingCharge(fincore.db.pool, { id: pending.id, merchantId: merchant.id, amount: 5000 });
      const got = await api<ChargeBody>(url, 'GET', `/v1/charges/${pending.id}`, { key: merchant.apiKey });
      assert.equal(got.body.status, 'pending');
      assertInvalid(await refund({ charge_id: pending.id }, merchant.apiKey), 'charge_not_refundable');
      assertInvalid(await refund({ charge_id: pending.id, amount: 100 }, merchant.apiKey), 'charge_not_refundable');
      const listed = await api<ListBody<RefundBody>>(url, 'GET', `/v1/refunds?charge_id=${pending.id}`, { key: merchant.apiKey });
      assert.deepEqual(listed.body.data, []);
    });

    it(
      'a second FinCore with a slow PSP (FINCORE_SIM_SETTLE_MS large): a just-created charge is not refundable',
      async () => {
        const database = await freshDatabase();
        let slow: TestFinCore | undefined;
        try {
          slow = await startTestFinCore({ FINCORE_SIM_SETTLE_MS: '600000' }, undefined, database);
          const slowKey = (await createMerchant(slow.url)).apiKey;
          const created = await api<ChargeBody>(slow.url, 'POST', '/v1/charges', { key: slowKey, body: visa });
          assert.equal(created.status, 201);
          assertInvalid(await api(slow.url, 'POST', '/v1/refunds', { key: slowKey, body: { charge_id: created.body.id } }), 'charge_not_refundable');
        } finally {
          await slow?.stop();
          await database.drop();
        }
      },
    );
  });

  describe('GET of unknown ids', () => {
    it('404 resource_missing', async () => {
      assertError(await api(url, 'GET', '/v1/charges/ch_00000000000000000000000000', { key: keyA }), 404, 'invalid_request_error', 'resource_missing');
      assertError(await api(url, 'GET', '/v1/charges/nonsense', { key: keyA }), 404, 'invalid_request_error', 'resource_missing');
      assertError(await api(url, 'GET', '/v1/refunds/re_00000000000000000000000000', { key: keyA }), 404, 'invalid_request_error', 'resource_missing');
      assertError(await api(url, 'GET', `/v1/refunds/${encodeURIComponent("re_x' OR '1'='1")}`, { key: keyA }), 404, 'invalid_request_error', 'resource_missing');
    });

    it('unknown route: 404 resource_missing in the error shape', async () => {
      assertError(await api(url, 'GET', '/v1/nothing-here', { key: keyA }), 404, 'invalid_request_error', 'resource_missing');
      assertError(await api(url, 'GET', '/nope'), 404, 'invalid_request_error', 'resource_missing');
      assertError(await api(url, 'DELETE', '/v1/charges', { key: keyA }), 404, 'invalid_request_error', 'resource_missing');
    });
  });

  describe('tenant isolation', () => {
    let chargeA: ChargeBody;
    let refundA: RefundBody;

    before(async () => {
      chargeA = await settledCharge(url, keyA, 2500);
      const r = await refund({ charge_id: chargeA.id, amount: 500 });
      assert.equal(r.status, 201);
      refundA = r.body;
    });

    it("B gets 404 for A's charge and refund", async () => {
      assertError(await api(url, 'GET', `/v1/charges/${chargeA.id}`, { key: keyB }), 404, 'invalid_request_error', 'resource_missing');
      assertError(await api(url, 'GET', `/v1/refunds/${refundA.id}`, { key: keyB }), 404, 'invalid_request_error', 'resource_missing');
    });

    it("B cannot refund A's charge: 404, and A's charge is untouched", async () => {
      assertError(await refund({ charge_id: chargeA.id }, keyB), 404, 'invalid_request_error', 'resource_missing', 'charge_id');
      assertError(await refund({ charge_id: chargeA.id, amount: 100 }, keyB), 404, 'invalid_request_error', 'resource_missing', 'charge_id');
      const got = await api<ChargeBody>(url, 'GET', `/v1/charges/${chargeA.id}`, { key: keyA });
      assert.deepEqual(got.body.refunds.data.map((r) => r.id), [refundA.id]);
    });

    it("B's lists never contain A's objects", async () => {
      const chargeB = await charge(visa, keyB);
      assert.equal(chargeB.status, 201);
      const charges = await api<ListBody<ChargeBody>>(url, 'GET', '/v1/charges?limit=100', { key: keyB });
      assert.equal(charges.status, 200);
      assert.deepEqual(charges.body.data.map((c) => c.id), [chargeB.body.id]);
      const refunds = await api<ListBody<RefundBody>>(url, 'GET', '/v1/refunds?limit=100', { key: keyB });
      assert.deepEqual(refunds.body.data, []);
      const filtered = await api<ListBody<RefundBody>>(url, 'GET', `/v1/refunds?charge_id=${chargeA.id}`, { key: keyB });
      assert.equal(filtered.status, 200);
      assert.deepEqual(filtered.body.data, []);
      const starting = await api<ListBody<ChargeBody>>(url, 'GET', `/v1/charges?starting_after=${chargeA.id}`, { key: keyB });
      assert.ok(starting.body.data.every((c) => c.id === chargeB.body.id));
    });
  });

  describe('lists', () => {
    let shopKey: string;
    const chargeIds: string[] = [];

    before(async () => {
      shopKey = (await createMerchant(url, 'List Shop')).apiKey;
      for (let i = 1; i <= 5; i++) {
        const c = await charge({ ...visa, amount: 100 * i }, shopKey);
        assert.equal(c.status, 201);
        chargeIds.push(c.body.id);
      }
    });

    it('the list object shape, newest first, default limit 10', async () => {
      const listed = await api<ListBody<Json>>(url, 'GET', '/v1/charges', { key: shopKey });
      assert.equal(listed.status, 200);
      assert.deepEqual(Object.keys(listed.body).sort(), ['data', 'has_more', 'object']);
      assert.equal(listed.body.object, 'list');
      assert.equal(listed.body.has_more, false);
      assert.deepEqual(listed.body.data.map((c) => c.id), [...chargeIds].reverse());
      for (const c of listed.body.data) assertChargeShape(c);
    });

    it('limit and starting_after page through with has_more', async () => {
      const newestFirst = [...chargeIds].reverse();
      const seen: string[] = [];
      let cursor: string | undefined;
      const hasMore: boolean[] = [];
      for (;;) {
        const query = `?limit=2${cursor ? `&starting_after=${cursor}` : ''}`;
        const page = await api<ListBody<ChargeBody>>(url, 'GET', `/v1/charges${query}`, { key: shopKey });
        assert.equal(page.status, 200);
        assert.ok(page.body.data.length <= 2);
        seen.push(...page.body.data.map((c) => c.id));
        hasMore.push(page.body.has_more);
        if (!page.body.has_more) break;
        cursor = page.body.data.at(-1)?.id;
      }
      assert.deepEqual(seen, newestFirst);
      assert.deepEqual(hasMore, [true, true, false]);

      const exact = await api<ListBody<ChargeBody>>(url, 'GET', '/v1/charges?limit=5', { key: shopKey });
      assert.equal(exact.body.data.length, 5);
      assert.equal(exact.body.has_more, false);
      const one = await api<ListBody<ChargeBody>>(url, 'GET', '/v1/charges?limit=1', { key: shopKey });
      assert.deepEqual(one.body.data.map((c) => c.id), [newestFirst[0]]);
      assert.equal(one.body.has_more, true);
      const last = await api<ListBody<ChargeBody>>(url, 'GET', `/v1/charges?starting_after=${chargeIds[0]}`, { key: shopKey });
      assert.deepEqual(last.body.data, []);
      assert.equal(last.body.has_more, false);
      const max = await api<ListBody<ChargeBody>>(url, 'GET', '/v1/charges?limit=100', { key: shopKey });
      assert.equal(max.status, 200);
    });

    for (const path of ['/v1/charges', '/v1/refunds']) {
      it(`${path}: limit 0 / 101 / abc / -1 / 1.5 give 400 parameter_invalid; unknown query param 400 parameter_unknown`, async () => {
        for (const limit of ['0', '101', 'abc', '-1', '1.5']) {
          assertInvalid(await api(url, 'GET', `${path}?limit=${limit}`, { key: shopKey }), 'parameter_invalid', 'limit');
        }
        assertInvalid(await api(url, 'GET', `${path}?merchant_id=mer_x`, { key: shopKey }), 'parameter_unknown', 'merchant_id');
        assertInvalid(await api(url, 'GET', `${path}?limit=2&sort=asc`, { key: shopKey }), 'parameter_unknown', 'sort');
      });
    }

    it('GET /v1/refunds: newest first, ?charge_id= filter, paging', async () => {
      const c1 = await settledCharge(url, shopKey, 3000);
      const c2 = await settledCharge(url, shopKey, 3000);
      const r: string[] = [];
      for (const [chargeId, amount] of [[c1.id, 100], [c2.id, 200], [c1.id, 300], [c2.id, 400]] as const) {
        const created = await refund({ charge_id: chargeId, amount }, shopKey);
        assert.equal(created.status, 201, JSON.stringify(created.body));
        r.push(created.body.id);
      }
      const all = await api<ListBody<RefundBody>>(url, 'GET', '/v1/refunds', { key: shopKey });
      assert.equal(all.status, 200);
      assert.equal(all.body.object, 'list');
      assert.deepEqual(all.body.data.map((x) => x.id), [...r].reverse());
      for (const x of all.body.data) assertRefundShape(x);
      const ofC1 = await api<ListBody<RefundBody>>(url, 'GET', `/v1/refunds?charge_id=${c1.id}`, { key: shopKey });
      assert.deepEqual(ofC1.body.data.map((x) => x.id), [r[2], r[0]]);
      assert.ok(ofC1.body.data.every((x) => x.charge_id === c1.id));
      const page1 = await api<ListBody<RefundBody>>(url, 'GET', `/v1/refunds?charge_id=${c2.id}&limit=1`, { key: shopKey });
      assert.deepEqual(page1.body.data.map((x) => x.id), [r[3]]);
      assert.equal(page1.body.has_more, true);
      const page2 = await api<ListBody<RefundBody>>(url, 'GET', `/v1/refunds?charge_id=${c2.id}&limit=1&starting_after=${r[3]}`, { key: shopKey });
      assert.deepEqual(page2.body.data.map((x) => x.id), [r[1]]);
      assert.equal(page2.body.has_more, false);
      const none = await api<ListBody<RefundBody>>(url, 'GET', '/v1/refunds?charge_id=ch_00000000000000000000000000', { key: shopKey });
      assert.equal(none.status, 200);
      assert.deepEqual(none.body.data, []);
    });
  });

  describe('health, OpenAPI, docs', () => {
    it('/healthz and /readyz answer 200 without a key', async () => {
      assert.equal((await api(url, 'GET', '/healthz')).status, 200);
      assert.equal((await api(url, 'GET', '/readyz')).status, 200);
    });

    it('/openapi.json is OpenAPI 3.1 describing the contract paths', async () => {
      const doc = await api<{ openapi: string; paths: Record<string, Record<string, unknown>> }>(url, 'GET', '/openapi.json');
      assert.equal(doc.status, 200);
      assert.match(doc.body.openapi, /^3\.1\./);
      for (const path of ['/v1/charges', '/v1/refunds', '/v1/refunds/{id}', '/v1/charges/{id}', '/v1/merchants', '/v1/webhooks/psp']) {
        assert.ok(doc.body.paths[path], `openapi lacks ${path}: ${Object.keys(doc.body.paths).join(', ')}`);
      }
      assert.ok(doc.body.paths['/v1/charges']?.post);
      assert.ok(doc.body.paths['/v1/charges']?.get);
      assert.ok(doc.body.paths['/v1/refunds']?.post);
      assert.ok(doc.body.paths['/v1/refunds']?.get);
      assert.ok(doc.body.paths['/v1/merchants']?.post);
      assert.ok(doc.body.paths['/v1/events']?.get);
      assert.ok(doc.body.paths['/v1/events/{id}']?.get);
    });

    it('/docs serves HTML', async () => {
      const response = await fetch(`${url}/docs`);
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /text\/html/);
      assert.match(await response.text(), /<html/i);
    });
  });

  describe('ids and timestamps', () => {
    it('prefixes ch_, re_, mer_; ids sortable by creation; timestamps ISO 8601 UTC', async () => {
      const merchant = await api<Json>(url, 'POST', '/v1/merchants', { key: ADMIN_KEY, body: { name: 'Ids' } });
      assert.match(String(merchant.body.id), /^mer_[0-9A-Z]+$/);
      const c = await settledCharge(url, keyA, 900);
      assert.match(c.id, /^ch_[0-9A-Z]+$/);
      const r = await refund({ charge_id: c.id, amount: 100 });
      assert.match(r.body.id, /^re_[0-9A-Z]+$/);
      const r2 = await refund({ charge_id: c.id, amount: 100 });
      assert.ok(r2.body.id > r.body.id, 'ids sort by creation time');
      for (const value of [c.created_at, c.updated_at, r.body.created_at, r.body.updated_at]) {
        assert.match(String(value), ISO_UTC);
        assert.equal(new Date(String(value)).toISOString(), value);
      }
      assert.ok(Date.parse(String(c.updated_at)) >= Date.parse(String(c.created_at)));
    });
  });

  describe('error bodies', () => {
    it('no error body seen in this file contains a stack trace or SQL', () => {
      assert.ok(errorBodies.length > 50, `expected many error bodies, saw ${errorBodies.length}`);
      for (const body of errorBodies) {
        assert.doesNotMatch(body, /"stack"|\bstack\b/i, body);
        assert.doesNotMatch(body, /\bat [\w.<>]+ \(|\.ts:\d+|node_modules/, body);
        assert.doesNotMatch(body, /\b(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM)\b|\bpayments\b|\bidempotency_keys\b|relation "|syntax error at|violates/i, body);
      }
    });
  });
});
