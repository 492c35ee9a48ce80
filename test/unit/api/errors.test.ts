/**
 * src/api/errors.ts: the one mapping from anything thrown to the contract's error (API.md
 * "Errors"), and from JSON-schema violations to parameter_* codes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorBody, toContractError, validationError } from '../../../src/api/errors.ts';
import { ContractError, ParameterInvalid, ResourceMissing } from '../../../src/domain/errors.ts';

interface Issue {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
}

function expectError(error: ContractError, status: number, type: string, code: string, param?: string): void {
  assert.ok(error instanceof ContractError);
  assert.equal(error.httpStatus, status);
  assert.equal(error.type, type);
  assert.equal(error.code, code);
  assert.equal(error.param, param);
  assert.equal(typeof error.message, 'string');
  assert.ok(error.message.length > 0);
}

describe('toContractError', () => {
  it('an arbitrary Error: 500 api_error/internal_error, the original message not revealed', () => {
    const secret = 'duplicate key value violates unique constraint "payments_pkey" in SELECT * FROM payments';
    const mapped = toContractError(new Error(secret));
    expectError(mapped, 500, 'api_error', 'internal_error');
    assert.ok(!mapped.message.includes(secret));
    assert.doesNotMatch(mapped.message, /payments|SELECT|constraint/);
    const body = JSON.stringify(errorBody(mapped));
    assert.doesNotMatch(body, /stack|payments|SELECT/);
    assert.deepEqual(Object.keys(errorBody(mapped).error).sort(), ['code', 'message', 'type']);
  });

  it('non-Error throwables and a TypeError also become 500 internal_error', () => {
    for (const thrown of ['a string', 42, { weird: true }, new TypeError("Cannot read properties of undefined (reading 'id')")]) {
      const mapped = toContractError(thrown);
      expectError(mapped, 500, 'api_error', 'internal_error');
      assert.doesNotMatch(mapped.message, /Cannot read|weird/);
    }
  });

  it('a thrown null or undefined also becomes 500 internal_error', () => {
    for (const thrown of [null, undefined]) {
      const mapped = toContractError(thrown);
      expectError(mapped, 500, 'api_error', 'internal_error');
      assert.doesNotMatch(mapped.message, /Cannot read|weird/);
    }
  });

  it('a pg error with an SQL state that is not about connectivity: 500, no SQL text', () => {
    const pgError = Object.assign(new Error('syntax error at or near "FORM"'), { code: '42601', severity: 'ERROR', where: 'SELECT id FORM payments' });
    const mapped = toContractError(pgError);
    expectError(mapped, 500, 'api_error', 'internal_error');
    assert.doesNotMatch(JSON.stringify(errorBody(mapped)), /FORM|syntax|payments/);
  });

  it('a pg connection error (ECONNREFUSED): 503, api_error', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED', errno: -111, address: '127.0.0.1', port: 5432 });
    const mapped = toContractError(refused);
    expectError(mapped, 503, 'api_error', 'internal_error');
    assert.doesNotMatch(mapped.message, /127\.0\.0\.1|5432|ECONNREFUSED/);
  });

  it('other connectivity failures are 503 too: admin shutdown 57P01, connection terminated, pool timeout', () => {
    expectError(toContractError(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })), 503, 'api_error', 'internal_error');
    expectError(toContractError(new Error('Connection terminated unexpectedly')), 503, 'api_error', 'internal_error');
    expectError(toContractError(new Error('timeout exceeded when trying to connect')), 503, 'api_error', 'internal_error');
  });

  it('a ContractError passes through unchanged', () => {
    const original = new ResourceMissing("No such charge: 'ch_x'", 'id');
    assert.equal(toContractError(original), original);
  });

  it('Fastify body errors: too large 413, invalid or empty JSON 400 invalid_json, wrong media type 415', () => {
    const fastify = (code: string, statusCode: number): Error => Object.assign(new Error(`fastify ${code}`), { code, statusCode });
    expectError(toContractError(fastify('FST_ERR_CTP_BODY_TOO_LARGE', 413)), 413, 'invalid_request_error', 'payload_too_large');
    expectError(toContractError(fastify('FST_ERR_CTP_INVALID_JSON_BODY', 400)), 400, 'invalid_request_error', 'invalid_json');
    expectError(toContractError(fastify('FST_ERR_CTP_EMPTY_JSON_BODY', 400)), 400, 'invalid_request_error', 'invalid_json');
    expectError(toContractError(fastify('FST_ERR_CTP_INVALID_MEDIA_TYPE', 415)), 415, 'invalid_request_error', 'unsupported_media_type');
    expectError(toContractError(fastify('FST_ERR_NOT_FOUND', 404)), 404, 'invalid_request_error', 'resource_missing');
    expectError(toContractError(fastify('SOMETHING_ELSE', 413)), 413, 'invalid_request_error', 'payload_too_large');
    const syntax = Object.assign(new SyntaxError('Unexpected token } in JSON at position 12'), { statusCode: 400 });
    expectError(toContractError(syntax), 400, 'invalid_request_error', 'invalid_json');
  });

  it('a Fastify validation error is mapped through validationError', () => {
    const error = Object.assign(new Error('body/amount must be integer'), {
      validation: [{ keyword: 'type', instancePath: '/amount', params: { type: 'integer' }, message: 'must be integer' }],
      validationContext: 'body',
    });
    expectError(toContractError(error), 400, 'invalid_request_error', 'parameter_invalid', 'amount');
  });

  it('errorBody: exactly { error: { type, code, message, param? } }', () => {
    assert.deepEqual(errorBody(new ParameterInvalid('Bad.', 'currency')), {
      error: { type: 'invalid_request_error', code: 'parameter_invalid', message: 'Bad.', param: 'currency' },
    });
    const withoutParam = errorBody(new ParameterInvalid('Bad.'));
    assert.deepEqual(withoutParam, { error: { type: 'invalid_request_error', code: 'parameter_invalid', message: 'Bad.' } });
    assert.equal('param' in withoutParam.error, false);
  });
});

describe('validationError', () => {
  const issue = (keyword: string, instancePath: string, params: Record<string, unknown> = {}, message?: string): Issue =>
    message === undefined ? { keyword, instancePath, params } : { keyword, instancePath, params, message };

  it('required: 400 parameter_missing with the missing property as param', () => {
    expectError(validationError([issue('required', '', { missingProperty: 'amount' })], 'body'), 400, 'invalid_request_error', 'parameter_missing', 'amount');
    expectError(validationError([issue('required', '', { missingProperty: 'charge_id' })], 'body'), 400, 'invalid_request_error', 'parameter_missing', 'charge_id');
  });

  it('additionalProperties at the top level: 400 parameter_unknown with the unknown property as param', () => {
    expectError(validationError([issue('additionalProperties', '', { additionalProperty: 'status' })], 'body'), 400, 'invalid_request_error', 'parameter_unknown', 'status');
    expectError(
      validationError([issue('additionalProperties', '', { additionalProperty: 'sort' })], 'querystring'),
      400,
      'invalid_request_error',
      'parameter_unknown',
      'sort',
    );
  });

  it('additionalProperties inside a field: parameter_invalid on that field, not parameter_unknown', () => {
    expectError(validationError([issue('additionalProperties', '/metadata', { additionalProperty: 'x' }, 'must NOT have additional properties')], 'body'), 400, 'invalid_request_error', 'parameter_invalid', 'metadata');
  });

  it('maximum on amount: 400 amount_too_large, param amount', () => {
    expectError(validationError([issue('maximum', '/amount', { comparison: '<=', limit: 99999999 }, 'must be <= 99999999')], 'body'), 400, 'invalid_request_error', 'amount_too_large', 'amount');
  });

  it('maximum on another field (limit): parameter_invalid, not amount_too_large', () => {
    expectError(validationError([issue('maximum', '/limit', { comparison: '<=', limit: 100 }, 'must be <= 100')], 'querystring'), 400, 'invalid_request_error', 'parameter_invalid', 'limit');
  });

  it('type and minimum on amount: parameter_invalid, param amount', () => {
    expectError(validationError([issue('type', '/amount', { type: 'integer' }, 'must be integer')], 'body'), 400, 'invalid_request_error', 'parameter_invalid', 'amount');
    expectError(validationError([issue('minimum', '/amount', { comparison: '>=', limit: 1 }, 'must be >= 1')], 'body'), 400, 'invalid_request_error', 'parameter_invalid', 'amount');
  });

  it('a nested path names its top-level field', () => {
    expectError(validationError([issue('type', '/metadata/order', { type: 'string' }, 'must be string')], 'body'), 400, 'invalid_request_error', 'parameter_invalid', 'metadata');
    expectError(validationError([issue('maxLength', '/metadata/k', { limit: 500 }, 'must NOT have more than 500 characters')], 'body'), 400, 'invalid_request_error', 'parameter_invalid', 'metadata');
  });

  it('the whole body of the wrong type: parameter_invalid without param', () => {
    expectError(validationError([issue('type', '', { type: 'object' }, 'must be object')], 'body'), 400, 'invalid_request_error', 'parameter_invalid');
  });

  it('only the first issue counts', () => {
    const issues = [issue('required', '', { missingProperty: 'currency' }), issue('maximum', '/amount', { limit: 99999999 })];
    expectError(validationError(issues, 'body'), 400, 'invalid_request_error', 'parameter_missing', 'currency');
  });

  it('no issues at all: parameter_invalid', () => {
    expectError(validationError([], 'body'), 400, 'invalid_request_error', 'parameter_invalid');
  });
});
