import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  AmountTooLarge,
  ChargeAlreadyRefunded,
  ChargeNotRefundable,
  ContractError,
  IdempotencyKeyInUse,
  IdempotencyKeyReused,
  InternalError,
  InvalidJson,
  ParameterInvalid,
  ParameterMissing,
  ParameterUnknown,
  PayloadTooLarge,
  RateLimited,
  ResourceMissing,
  ServiceUnavailable,
  Unauthorized,
  WebhookEndpointLimitReached,
  type ErrorType,
} from '../../../src/domain/errors.ts';

type Ctor = new (message: string, param?: string) => ContractError;

// API.md "Errors" table, one row per code.
const TABLE: ReadonlyArray<readonly [Ctor, number, ErrorType, string]> = [
  [ParameterMissing, 400, 'invalid_request_error', 'parameter_missing'],
  [ParameterInvalid, 400, 'invalid_request_error', 'parameter_invalid'],
  [ParameterUnknown, 400, 'invalid_request_error', 'parameter_unknown'],
  [InvalidJson, 400, 'invalid_request_error', 'invalid_json'],
  [AmountTooLarge, 400, 'invalid_request_error', 'amount_too_large'],
  [ChargeAlreadyRefunded, 400, 'invalid_request_error', 'charge_already_refunded'],
  [ChargeNotRefundable, 400, 'invalid_request_error', 'charge_not_refundable'],
  [WebhookEndpointLimitReached, 400, 'invalid_request_error', 'webhook_endpoint_limit_reached'],
  [IdempotencyKeyReused, 400, 'idempotency_error', 'idempotency_key_reused'],
  [Unauthorized, 401, 'authentication_error', 'unauthorized'],
  [ResourceMissing, 404, 'invalid_request_error', 'resource_missing'],
  [IdempotencyKeyInUse, 409, 'idempotency_error', 'idempotency_key_in_use'],
  [PayloadTooLarge, 413, 'invalid_request_error', 'payload_too_large'],
  [RateLimited, 429, 'rate_limit_error', 'rate_limited'],
  [InternalError, 500, 'api_error', 'internal_error'],
  [ServiceUnavailable, 503, 'api_error', 'internal_error'],
];

describe('errors: classes match the API.md error table', () => {
  for (const [Cls, httpStatus, type, code] of TABLE) {
    it(`${Cls.name}: ${httpStatus} ${type} ${code}`, () => {
      const e = new Cls('human readable', 'some_param');
      assert.ok(e instanceof Error);
      assert.ok(e instanceof ContractError);
      assert.ok(e instanceof Cls);
      assert.equal(e.httpStatus, httpStatus);
      assert.equal(e.type, type);
      assert.equal(e.code, code);
      assert.equal(e.message, 'human readable');
      assert.equal(e.param, 'some_param');
      assert.equal(e.name, Cls.name);
      assert.equal(new Cls('no param').param, undefined);
    });
  }

  it('every contract code is covered exactly once (except internal_error shared by 500/503)', () => {
    const codes = TABLE.map(([, , , code]) => code);
    assert.equal(new Set(codes).size, codes.length - 1);
  });

  it('ServiceUnavailable is an InternalError (5xx api_error)', () => {
    const e = new ServiceUnavailable('db down');
    assert.ok(e instanceof InternalError);
    assert.ok(e.httpStatus >= 500 && e.httpStatus < 600);
  });

  it('errors of different classes are distinguishable with instanceof', () => {
    const e = new AmountTooLarge('x', 'amount');
    assert.equal(e instanceof ChargeAlreadyRefunded, false);
    assert.equal(e instanceof ChargeNotRefundable, false);
    assert.equal(e instanceof InternalError, false);
  });
});
