/**
 * Hostile input through the real HTTP API: strings PostgreSQL cannot store, JSON that
 * JSON.parse accepts but must not be trusted (duplicate keys, deep nesting, __proto__), the
 * wrong Content-Type, list filters and cursors. Every answer is a 4xx in the contract's error
 * shape; none is a 5xx, and nothing is created by a refused request.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { newId } from '../../src/domain/ids.ts';
import { ADMIN_KEY, call, createMerchant, startTestFinCore, type ApiAnswer, type ErrorBody, type ListBody, type TestFinCore } from '../helpers.ts';

type Answer = ApiAnswer<unknown>;

function assertError(answer: Answer, status: number, code: string, param?: string | null): ErrorBody['error'] {
  const context = `${answer.status} ${JSON.stringify(answer.body)}`;
  assert.equal(answer.status, status, context);
  const body = answer.body as ErrorBody;
  assert.deepEqual(Object.keys(body), ['error'], context);
  for (const key of Object.keys(body.error)) assert.ok(['type', 'code', 'message', 'param'].includes(key), context);
  assert.equal(body.error.type, 'invalid_request_error', context);
  assert.equal(body.error.code, code, context);
  assert.ok(body.error.message.length > 0, context);
  if (param === null) assert.equal(body.error.param, undefined, context);
  else if (param !== undefined) assert.equal(body.error.param, param, context);
  assert.doesNotMatch(JSON.stringify(body), /\\u0000|\\ud[89a-f][0-9a-f]{2}(?!\\ud)|stack|at [A-Za-z]+ \(/i, context);
  return body.error;
}

const visa = { amount: 5000, currency: 'usd', payment_method: 'pm_card_visa' };
const HOSTILE = ['nul\u0000byte', '\uD800', 'lone low \uDC00', 'end\uDBFF'];

describe('hostile input', () => {
  let fincore: TestFinCore;
  let url: string;
  let key: string;

  const api = (method: string, path: string, options: Parameters<typeof call>[3] = {}) => call<unknown>(url, method, path, { key, ...options });
  const chargeCount = async () => ((await call<ListBody<unknown>>(url, 'GET', '/v1/charges?limit=100', { key })).body.data.length);

  before(async () => {
    fincore = await startTestFinCore({}, { api: true, worker: false, simulator: true });
    url = fincore.url;
    key = (await createMerchant(url, 'Hostile Shop')).apiKey;
  });
  after(() => fincore.stop());

  describe('NUL and lone surrogates: 400 parameter_invalid naming the parameter (was 500)', () => {
    for (const text of HOSTILE) {
      const label = JSON.stringify(text);
      it(`in a charge's description, metadata value and metadata key: ${label}`, async () => {
        assertError(await api('POST', '/v1/charges', { body: { ...visa, description: text } }), 400, 'parameter_invalid', 'description');
        assertError(await api('POST', '/v1/charges', { body: { ...visa, metadata: { order: text } } }), 400, 'parameter_invalid', 'metadata');
        assertError(await api('POST', '/v1/charges', { body: { ...visa, metadata: { [text]: 'x' } } }), 400, 'parameter_invalid', 'metadata');
        assertError(await api('POST', '/v1/charges', { body: { ...visa, payment_method: text }, headers: { 'idempotency-key': `k-${Math.random()}` } }), 400, 'parameter_invalid', 'payment_method');
      });

      it(`in a refund's charge_id, a merchant's name and a webhook URL: ${label}`, async () => {
        assertError(await api('POST', '/v1/refunds', { body: { charge_id: `ch_${text}` } }), 400, 'parameter_invalid', 'charge_id');
        assertError(await call(url, 'POST', '/v1/merchants', { key: ADMIN_KEY, body: { name: text } }), 400, 'parameter_invalid', 'name');
        assertError(await api('POST', '/v1/webhook_endpoints', { body: { url: `https://example.com/${text}`, enabled_events: ['*'] } }), 400, 'parameter_invalid', 'url');
      });
    }

    it('as JSON escapes in the raw body (\\u0000, \\ud800)', async () => {
      assertError(await api('POST', '/v1/charges', { rawBody: '{"amount":100,"currency":"usd","payment_method":"pm_card_visa","description":"a\\u0000b"}' }), 400, 'parameter_invalid', 'description');
      assertError(await api('POST', '/v1/charges', { rawBody: '{"amount":100,"currency":"usd","payment_method":"pm_card_visa","metadata":{"k":"\\ud800"}}' }), 400, 'parameter_invalid', 'metadata');
    });

    it('in path ids and query ids (%00)', async () => {
      for (const path of ['/v1/charges/%00', '/v1/refunds/ch_%00', '/v1/events/evt_%00x', '/v1/webhook_endpoints/%00']) {
        assertError(await api('GET', path), 400, 'parameter_invalid', 'id');
      }
      assertError(await api('GET', '/v1/refunds?charge_id=%00'), 400, 'parameter_invalid', 'charge_id');
      assertError(await api('GET', '/v1/charges?starting_after=ch_%00'), 400, 'parameter_invalid', 'starting_after');
      assertError(await api('GET', '/v1/events?object_id=a%00b'), 400, 'parameter_invalid', 'object_id');
      assertError(await call(url, 'GET', '/v1/admin/charges?merchant_id=%00', { key: ADMIN_KEY }), 400, 'parameter_invalid', 'merchant_id');
    });

    it('a lone surrogate cannot be percent-encoded in UTF-8: such a path is a malformed URL, 400', async () => {
      assertError(await api('GET', '/v1/charges/%ED%A0%80'), 400, 'malformed_request', null);
    });

    it('property: a hostile string anywhere in a random body is a 400 naming its top-level field, never a 5xx; nothing is created', async () => {
      const before = await chargeCount();
      const field = fc.constantFrom('description', 'metadata', 'payment_method', 'currency', 'extra_field');
      const clean = fc.jsonValue({ maxDepth: 3 }).filter((v) => !/[\u0000\uD800-\uDFFF]/.test(JSON.stringify(v)));
      await fc.assert(
        fc.asyncProperty(field, fc.array(fc.stringMatching(/^k_[a-z]{1,4}$/), { maxLength: 3 }), fc.constantFrom(...HOSTILE), clean, fc.boolean(), async (top, path, bad, filler, inKey) => {
          let value: unknown = inKey ? { [bad]: filler } : bad;
          for (const segment of [...path].reverse()) value = { [segment]: value, k_filler: filler };
          const answer = await api('POST', '/v1/charges', { body: { ...visa, [top]: value }, headers: { 'idempotency-key': `prop-${Math.random()}` } });
          assert.ok(answer.status < 500, JSON.stringify(answer.body));
          assertError(answer, 400, 'parameter_invalid', top);
        }),
        { numRuns: 60 },
      );
      assert.equal(await chargeCount(), before);
    });
  });

  describe('JSON the parser must not trust', () => {
    it('a duplicate key is a 400 naming it, and nothing is charged (the last one used to win: 5000 then 1 charged 1)', async () => {
      const before = await chargeCount();
      const error = assertError(await api('POST', '/v1/charges', { rawBody: '{"amount":5000,"amount":1,"currency":"usd","payment_method":"pm_card_visa"}' }), 400, 'parameter_invalid', 'amount');
      assert.match(error.message, /'amount' twice/);
      assertError(await api('POST', '/v1/charges', { rawBody: '{"amount":5000,"\\u0061mount":1,"currency":"usd","payment_method":"pm_card_visa"}' }), 400, 'parameter_invalid', 'amount');
      assertError(await api('POST', '/v1/charges', { rawBody: '{"amount":5000,"currency":"usd","payment_method":"pm_card_visa","metadata":{"k":"1","k":"2"}}' }), 400, 'parameter_invalid', 'metadata');
      assert.equal(await chargeCount(), before);
    });

    it('deep nesting with an Idempotency-Key is a 400 invalid_json saying why (it overflowed the stack in the request hash: 500)', async () => {
      for (const depth of [40, 5000, 30_000]) {
        const rawBody = `{"amount":5000,"currency":"usd","payment_method":"pm_card_visa","metadata":${'['.repeat(depth)}${']'.repeat(depth)}}`;
        const error = assertError(await api('POST', '/v1/charges', { rawBody, headers: { 'idempotency-key': `deep-${depth}` } }), 400, 'invalid_json', null);
        assert.match(error.message, /more than 32 levels/);
      }
      // 32 levels is parsed: the refusal is then the schema's (metadata is no array).
      const at32 = `{"amount":5000,"currency":"usd","payment_method":"pm_card_visa","metadata":${'['.repeat(31)}${']'.repeat(31)}}`;
      assertError(await api('POST', '/v1/charges', { rawBody: at32, headers: { 'idempotency-key': 'deep-32' } }), 400, 'parameter_invalid', 'metadata');
    });

    it('__proto__ and constructor.prototype are refused with a message that names them, not as invalid JSON', async () => {
      const top = assertError(await api('POST', '/v1/charges', { rawBody: '{"__proto__":{"amount":1},"amount":5000,"currency":"usd","payment_method":"pm_card_visa"}' }), 400, 'parameter_invalid', '__proto__');
      assert.match(top.message, /'__proto__' is not allowed/);
      assert.doesNotMatch(top.message, /not valid JSON/);
      const nested = assertError(await api('POST', '/v1/charges', { rawBody: '{"amount":5000,"currency":"usd","payment_method":"pm_card_visa","metadata":{"__proto__":"x"}}' }), 400, 'parameter_invalid', 'metadata');
      assert.match(nested.message, /__proto__/);
      const ctor = assertError(await api('POST', '/v1/refunds', { rawBody: '{"charge_id":"ch_x","metadata":{"constructor":{"prototype":{"x":"1"}}}}' }), 400, 'parameter_invalid', 'metadata');
      assert.match(ctor.message, /constructor\.prototype/);
    });

    it('invalid JSON is still 400 invalid_json', async () => {
      assertError(await api('POST', '/v1/charges', { rawBody: '{"amount": 100,' }), 400, 'invalid_json', null);
      assertError(await api('POST', '/v1/charges', { rawBody: '{"amount":1,"amount"' }), 400, 'invalid_json', null);
    });

    it('a JSON body sent as text/plain (or any other type) is 415 unsupported_media_type naming application/json', async () => {
      for (const type of ['text/plain', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded', 'application/xml']) {
        const error = assertError(await api('POST', '/v1/charges', { rawBody: JSON.stringify(visa), headers: { 'content-type': type } }), 415, 'unsupported_media_type', null);
        assert.match(error.message, /Content-Type: application\/json/);
      }
      // application/json with a charset still works.
      const ok = await api('POST', '/v1/charges', { rawBody: JSON.stringify(visa), headers: { 'content-type': 'application/json; charset=utf-8' } });
      assert.equal(ok.status, 201, JSON.stringify(ok.body));
    });
  });

  describe('validation messages', () => {
    it('a pattern failure says what is expected in words, not a regular expression', async () => {
      const currency = assertError(await call(url, 'GET', '/v1/admin/charges?currency=USD', { key: ADMIN_KEY }), 400, 'parameter_invalid', 'currency');
      assert.match(currency.message, /three-letter ISO 4217 currency code in lowercase/);
      const webhook = assertError(await api('POST', '/v1/webhook_endpoints', { body: { url: 'ftp://example.com', enabled_events: ['*'] } }), 400, 'parameter_invalid', 'url');
      const date = assertError(await api('GET', '/v1/events?created[gte]=yesterday'), 400, 'parameter_invalid', 'created[gte]');
      assert.match(date.message, /ISO 8601/);
      const cursor = assertError(await api('GET', '/v1/charges?starting_after=nope'), 400, 'parameter_invalid', 'starting_after');
      assert.match(cursor.message, /a charge id \(ch_/);
      for (const error of [currency, webhook, date, cursor]) assert.doesNotMatch(error.message, /\^|\$|\\d|\[a-z\]|\{26\}|must match pattern/, error.message);
    });
  });

  describe('list filters and cursors', () => {
    it('created[gte|lte] must be a real calendar date and time (2026-02-30 was read as March 2)', async () => {
      for (const bad of ['2026-02-30', '2025-02-29', '2026-04-31', '2026-01-01T24:00:00Z', '2026-01-01T10:00:00+25:00']) {
        const q = encodeURIComponent(bad);
        assertError(await api('GET', `/v1/events?created[gte]=${q}`), 400, 'parameter_invalid', 'created[gte]');
        assertError(await api('GET', `/v1/events?created[lte]=${q}`), 400, 'parameter_invalid', 'created[lte]');
        assertError(await call(url, 'GET', `/v1/admin/charges?created[gte]=${q}`, { key: ADMIN_KEY }), 400, 'parameter_invalid', 'created[gte]');
        assertError(await call(url, 'GET', `/v1/admin/refunds?created[lte]=${q}`, { key: ADMIN_KEY }), 400, 'parameter_invalid', 'created[lte]');
      }
      assert.equal((await api('GET', '/v1/events?created[gte]=2024-02-29')).status, 200);
      assert.equal((await api('GET', `/v1/events?created[gte]=${encodeURIComponent('2026-11-29T10:00:00+02:00')}`)).status, 200);
    });

    it('a date-time without a zone is UTC, not the server local time', async (t) => {
      // The API runs in this process: a time zone west of UTC shows which one is used.
      const zone = process.env.TZ;
      process.env.TZ = 'America/New_York';
      t.after(() => {
        if (zone === undefined) delete process.env.TZ;
        else process.env.TZ = zone;
      });
      const events = (await call<ListBody<{ created_at: string }>>(url, 'GET', '/v1/events?limit=1', { key })).body.data;
      const newest = events[0]?.created_at ?? '';
      const noZone = newest.replace('Z', '');
      const found = await call<ListBody<unknown>>(url, 'GET', `/v1/events?created[gte]=${encodeURIComponent(noZone)}&created[lte]=${encodeURIComponent(noZone)}`, { key });
      assert.equal(found.body.data.length >= 1, true, `${noZone}: ${JSON.stringify(found.body)}`);
    });

    it('an unknown event type is a 400 listing the types (it was an empty 200); a known one is 200', async () => {
      const error = assertError(await api('GET', '/v1/events?type=charge.exploded'), 400, 'parameter_invalid', 'type');
      assert.match(error.message, /refund\.succeeded/);
      assert.equal((await api('GET', '/v1/events?type=merchant.created')).status, 200);
    });

    it('a malformed starting_after is a 400 (it was compared as text); a well-formed unknown one is a position, 200', async () => {
      for (const [path, bad] of [
        ['/v1/charges', 'zzz'],
        ['/v1/charges', newId('re')],
        ['/v1/refunds', 'ch_short'],
        ['/v1/events', newId('ch')],
        ['/v1/webhook_endpoints', 'we_1'],
        ['/v1/webhook_endpoints', newId('ch')],
        [`/v1/webhook_endpoints/${newId('we')}/deliveries`, newId('we')],
      ] as const) {
        assertError(await api('GET', `${path}?starting_after=${bad}`), 400, 'parameter_invalid', 'starting_after');
      }
      assertError(await call(url, 'GET', '/v1/admin/charges?starting_after=a', { key: ADMIN_KEY }), 400, 'parameter_invalid', 'starting_after');
      assertError(await call(url, 'GET', `/v1/admin/refunds?starting_after=${newId('ch')}`, { key: ADMIN_KEY }), 400, 'parameter_invalid', 'starting_after');
      const unknown = await call<ListBody<unknown>>(url, 'GET', `/v1/charges?starting_after=${newId('ch', Date.now() + 60_000)}`, { key });
      assert.equal(unknown.status, 200);
      assert.ok(unknown.body.data.length > 0, 'a cursor newer than everything pages from the newest');
    });

    it('a malformed id in a path is 404 resource_missing, like an unknown one (documented); longer than 100 characters: 414', async () => {
      for (const path of ['/v1/charges/not-an-id', `/v1/charges/${newId('re')}`, '/v1/refunds/%27%3B%20DROP%20TABLE%20refunds', '/v1/events/evt_%E2%80%8B', `/v1/charges/${'ch_'.padEnd(100, 'x')}`]) {
        assertError(await api('GET', path), 404, 'resource_missing', 'id');
      }
      assertError(await api('GET', `/v1/charges/${'x'.repeat(101)}`), 414, 'uri_too_long', null);
    });
  });
});
