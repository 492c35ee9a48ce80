/**
 * The pure helpers behind the input-hygiene checks: the JSON text scan (depth, duplicate keys,
 * prototype poisoning), the unstorable-string finder, strict timestamps, Ajv messages in
 * words, and the failure class a merchant sees for a dead job.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { toContractError, validationError } from '../../src/api/errors.ts';
import { inspectJsonText, jsonProblemError, MAX_JSON_DEPTH } from '../../src/api/json-body.ts';
import { findUnstorableText, isStorableText } from '../../src/domain/text.ts';
import { daysInMonth, parseInstant } from '../../src/domain/instant.ts';
import { deadLetterFailureClass } from '../../src/flows/dead-letter.ts';
import { PspPermanentError, PspTransientError } from '../../src/psp/gateway.ts';

const nested = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;

describe('inspectJsonText', () => {
  it(`nesting up to ${MAX_JSON_DEPTH} levels passes, one more is too deep, 100000 levels too (no stack overflow)`, () => {
    assert.equal(inspectJsonText(nested(MAX_JSON_DEPTH)), undefined);
    assert.deepEqual(inspectJsonText(nested(MAX_JSON_DEPTH + 1)), { kind: 'too_deep', maxDepth: MAX_JSON_DEPTH });
    assert.equal(inspectJsonText(`{"a":${nested(100_000)}}`)?.kind, 'too_deep');
    assert.equal(inspectJsonText(`{"a":{"b":{"c":[1,{"d":2}]}}}`, 5), undefined);
    assert.equal(inspectJsonText(`{"a":{"b":{"c":[1,{"d":2}]}}}`, 4)?.kind, 'too_deep');
  });

  it('brackets inside strings do not count', () => {
    assert.equal(inspectJsonText(`{"a":"${'['.repeat(100)}","b":"\\"{{{"}`), undefined);
  });

  it('a key twice in one object is found, even spelled with escapes; the same key in sibling objects is fine', () => {
    assert.deepEqual(inspectJsonText('{"amount":5000,"amount":1}'), { kind: 'duplicate_key', key: 'amount', path: [] });
    assert.deepEqual(inspectJsonText('{"amount":5000,"\\u0061mount":1}'), { kind: 'duplicate_key', key: 'amount', path: [] });
    assert.deepEqual(inspectJsonText('{"metadata":{"k":"1","k":"2"}}'), { kind: 'duplicate_key', key: 'k', path: ['metadata'] });
    assert.deepEqual(inspectJsonText('{"a":[{"x":1},{"x":1,"x":2}]}'), { kind: 'duplicate_key', key: 'x', path: ['a', 1] });
    assert.equal(inspectJsonText('{"a":{"x":1},"b":{"x":1},"c":["x","x"]}'), undefined);
    assert.equal(inspectJsonText('{"a":"a","b":"a"}'), undefined, 'equal values are not keys');
  });

  it('__proto__ (also escaped) and constructor.prototype are found where they are', () => {
    assert.deepEqual(inspectJsonText('{"__proto__":{"admin":true}}'), { kind: 'forbidden_key', key: '__proto__', path: [] });
    assert.deepEqual(inspectJsonText('{"metadata":{"\\u005f_proto__":"x"}}'), { kind: 'forbidden_key', key: '__proto__', path: ['metadata'] });
    assert.deepEqual(inspectJsonText('{"metadata":{"constructor":{"prototype":{}}}}'), { kind: 'forbidden_key', key: 'constructor.prototype', path: ['metadata'] });
    assert.equal(inspectJsonText('{"constructor":"x","prototype":"y"}'), undefined);
  });

  it('never throws, whatever the text (invalid JSON is left to the parser)', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (text) => void inspectJsonText(text)), { numRuns: 500 });
    fc.assert(fc.property(fc.stringMatching(/^[[\]{}",:\\a\s]{0,60}$/), (text) => void inspectJsonText(text)), { numRuns: 500 });
  });

  it('on valid JSON it agrees with JSON.parse: no problem found for any generated JSON value within the depth', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), (value) => {
        const problem = inspectJsonText(JSON.stringify(value));
        // fast-check may generate __proto__ keys: the only problem allowed.
        if (problem) assert.equal(problem.kind, 'forbidden_key');
      }),
      { numRuns: 300 },
    );
  });

  it('a duplicate key anywhere in a generated object is found, with the top-level field as param', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z]{1,8}$/), fc.stringMatching(/^[a-z]{1,8}$/), fc.integer(), (top, key, n) => {
        const problem = inspectJsonText(`{"${top}":{"${key}":${n},"other_":[1,2],"${key}":${n + 1}}}`);
        assert.deepEqual(problem, { kind: 'duplicate_key', key, path: [top] });
        assert.equal(jsonProblemError(problem).param, top);
      }),
    );
  });

  it('errors: too deep is invalid_json; duplicate and __proto__ are parameter_invalid naming the key, never "not valid JSON"', () => {
    const deep = jsonProblemError({ kind: 'too_deep', maxDepth: 32 });
    assert.equal(deep.code, 'invalid_json');
    assert.match(deep.message, /32 levels/);
    const dup = jsonProblemError({ kind: 'duplicate_key', key: 'amount', path: [] });
    assert.deepEqual([dup.code, dup.param], ['parameter_invalid', 'amount']);
    assert.match(dup.message, /'amount' twice/);
    const proto = jsonProblemError({ kind: 'forbidden_key', key: '__proto__', path: ['metadata'] });
    assert.deepEqual([proto.code, proto.param], ['parameter_invalid', 'metadata']);
    assert.match(proto.message, /__proto__/);
    assert.doesNotMatch(proto.message, /not valid JSON/);
  });
});

describe('findUnstorableText', () => {
  it('NUL and lone surrogates are unstorable; paired surrogates (emoji) and other control characters are fine', () => {
    for (const bad of ['\u0000', 'a\u0000', '\uD800', 'x\uDBFFy', '\uDC00', 'a\uDFFFb', '\uDC00\uD800']) assert.equal(isStorableText(bad), false, JSON.stringify(bad));
    for (const ok of ['', 'plain', '\u{1F4B8} money', '\uD83D\uDCB8', 'tab\tnew\nline', '\u0001', 'é']) assert.equal(isStorableText(ok), true, JSON.stringify(ok));
  });

  it('finds the path of a value or a key at any depth', () => {
    assert.deepEqual(findUnstorableText({ a: 'ok', metadata: { k: 'v\u0000' } }), ['metadata', 'k']);
    assert.deepEqual(findUnstorableText({ metadata: { 'k\uD800': 'v' } }), ['metadata', 'k\uD800']);
    assert.deepEqual(findUnstorableText({ list: ['a', ['b', '\uDC00']] }), ['list', 1, 1]);
    assert.deepEqual(findUnstorableText('\u0000'), []);
    assert.equal(findUnstorableText({ a: 1, b: null, c: true, d: ['x'], e: Buffer.from([0]) }), undefined);
  });

  it('property: one hostile string placed anywhere in a random JSON value is always found, at the place it was put', () => {
    const hostile = fc.constantFrom('\u0000', '\uD800', '\uDFFF', 'ok\u0000ok', 'a\uDBFF');
    const clean = fc.jsonValue({ maxDepth: 4 }).filter((v) => findUnstorableText(v) === undefined);
    fc.assert(
      fc.property(clean, hostile, fc.array(fc.stringMatching(/^k_[a-z]{1,5}$/), { minLength: 1, maxLength: 5 }), (value, bad, path) => {
        // Wrap the clean value and the hostile string in objects along `path`.
        let body: unknown = bad;
        for (const key of [...path].reverse()) body = { [key]: body, ok: value };
        const found = findUnstorableText(body);
        assert.deepEqual(found, path);
      }),
      { numRuns: 300 },
    );
  });
});

describe('parseInstant', () => {
  it('refuses dates that are not on the calendar, times out of range and bad offsets', () => {
    for (const bad of ['2026-02-30', '2025-02-29', '1900-02-29', '2026-04-31', '2026-13-01', '2026-00-10', '2026-01-00', '2026-01-01T24:00', '2026-01-01T10:60', '2026-01-01T10:00:60Z', '2026-01-01T10:00+24:00', '2026-01-01T10:00+05:60', 'yesterday', '2026-1-1', '']) {
      assert.equal(parseInstant(bad), undefined, bad);
    }
  });

  it('reads dates and date-times in UTC unless a zone is given', () => {
    assert.equal(parseInstant('2024-02-29')?.toISOString(), '2024-02-29T00:00:00.000Z');
    assert.equal(parseInstant('2000-02-29T23:59:59.999')?.toISOString(), '2000-02-29T23:59:59.999Z');
    assert.equal(parseInstant('2026-11-29T10:00Z')?.toISOString(), '2026-11-29T10:00:00.000Z');
    assert.equal(parseInstant('2026-11-29T10:00:00+02:00')?.toISOString(), '2026-11-29T08:00:00.000Z');
    assert.equal(parseInstant('2026-11-29T01:00:00-03:30')?.toISOString(), '2026-11-29T04:30:00.000Z');
    assert.equal(parseInstant('2026-11-29T10:00:00.5Z')?.toISOString(), '2026-11-29T10:00:00.500Z');
    assert.equal(parseInstant('0050-06-01')?.toISOString(), '0050-06-01T00:00:00.000Z');
  });

  it('property: any instant written by toISOString reads back as itself', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('0000-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true }), (date) => {
        assert.equal(parseInstant(date.toISOString())?.getTime(), date.getTime());
      }),
    );
  });

  it('property: day d of month m exists exactly when d <= daysInMonth', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9999 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 31 }), (year, month, day) => {
        const text = `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
        const parsed = parseInstant(text);
        if (day <= daysInMonth(year, month)) assert.equal(parsed?.toISOString().slice(0, 10), text);
        else assert.equal(parsed, undefined, text);
      }),
    );
  });
});

describe('validation messages in words', () => {
  it('a pattern failure says what is expected (x-expected, else the description), never the regular expression', () => {
    const withWords = validationError(
      [{ keyword: 'pattern', instancePath: '/currency', params: { pattern: '^[a-z]{3}$' }, message: 'must match pattern "^[a-z]{3}$"', parentSchema: { pattern: '^[a-z]{3}$', 'x-expected': 'a lowercase code, e.g. usd' } }],
      'querystring',
    );
    assert.equal(withWords.message, 'Invalid currency: currency must be a lowercase code, e.g. usd.');
    const described = validationError([{ keyword: 'pattern', instancePath: '/url', params: { pattern: '^https?://' }, parentSchema: { pattern: '^https?://', description: 'http or https.' } }], 'body');
    assert.equal(described.message, 'Invalid url: url must be http or https.');
    const bare = validationError([{ keyword: 'pattern', instancePath: '/x', params: { pattern: '^[0-9]+$' }, message: 'must match pattern "^[0-9]+$"' }], 'body');
    assert.doesNotMatch(bare.message, /\^|\$|\[0-9\]/);
  });

  it('an enum failure lists the allowed values', () => {
    const error = validationError([{ keyword: 'enum', instancePath: '/status', params: { allowedValues: ['pending', 'succeeded', null] }, message: 'must be equal to one of the allowed values' }], 'querystring');
    assert.equal(error.message, 'Invalid status: status must be one of: pending, succeeded, null.');
  });
});

describe('errors raised before a route runs', () => {
  const coded = (code: string, statusCode?: number) => Object.assign(new Error(code), { code, statusCode });
  for (const [code, status, contractCode] of [
    ['HPE_HEADER_OVERFLOW', 431, 'headers_too_large'],
    ['ERR_HTTP_REQUEST_TIMEOUT', 408, 'request_timeout'],
    ['HPE_INVALID_METHOD', 400, 'malformed_request'],
    ['FST_ERR_BAD_URL', 400, 'malformed_request'],
    ['FST_ERR_MAX_PARAM_LENGTH', 414, 'uri_too_long'],
    ['FST_ERR_CTP_INVALID_CONTENT_LENGTH', 400, 'malformed_request'],
    ['FST_ERR_CTP_INVALID_MEDIA_TYPE', 415, 'unsupported_media_type'],
  ] as const) {
    it(`${code}: ${status} ${contractCode}`, () => {
      const error = toContractError(coded(code));
      assert.equal(error.httpStatus, status);
      assert.equal(error.type, 'invalid_request_error');
      assert.equal(error.code, contractCode);
    });
  }
  it('any other 4xx Fastify refuses stays 4xx in the contract shape (it was a 500)', () => {
    const error = toContractError(coded('FST_ERR_SOMETHING_NEW', 400));
    assert.deepEqual([error.httpStatus, error.code], [400, 'malformed_request']);
  });
});

describe('dead-letter failure class', () => {
  it('PSP errors have their class; anything else is internal_error; the class never carries the error text', () => {
    assert.equal(deadLetterFailureClass(new PspTransientError('connect ECONNREFUSED 127.0.0.1:4999')), 'psp_unavailable');
    assert.equal(deadLetterFailureClass(new PspPermanentError('amount_too_large', 'no')), 'psp_refused');
    assert.equal(deadLetterFailureClass(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })), 'internal_error');
    assert.equal(deadLetterFailureClass(undefined), 'internal_error');
  });
});
