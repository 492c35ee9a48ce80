/**
 * One error class per contract error code (API.md "Errors"). Domain and flows throw these; the
 * HTTP layer maps them to the contract's shape in one place (src/api/errors.ts).
 */
/** The error `type`s of the contract, declared once: ErrorType and the Error schema's enum derive from it. */
export const ERROR_TYPES = ['invalid_request_error', 'idempotency_error', 'authentication_error', 'rate_limit_error', 'api_error'] as const;
export type ErrorType = (typeof ERROR_TYPES)[number];

export abstract class ContractError extends Error {
  abstract readonly httpStatus: number;
  abstract readonly type: ErrorType;
  abstract readonly code: string;
  constructor(
    message: string,
    readonly param?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

abstract class InvalidRequest extends ContractError {
  readonly httpStatus: number = 400;
  readonly type = 'invalid_request_error' as const;
}

export class ParameterMissing extends InvalidRequest {
  readonly code = 'parameter_missing';
}
export class ParameterInvalid extends InvalidRequest {
  readonly code = 'parameter_invalid';
}
export class ParameterUnknown extends InvalidRequest {
  readonly code = 'parameter_unknown';
}
export class InvalidJson extends InvalidRequest {
  readonly code = 'invalid_json';
}
export class AmountTooLarge extends InvalidRequest {
  readonly code = 'amount_too_large';
}
export class ChargeAlreadyRefunded extends InvalidRequest {
  readonly code = 'charge_already_refunded';
}
export class ChargeNotRefundable extends InvalidRequest {
  readonly code = 'charge_not_refundable';
}
export class ResourceMissing extends InvalidRequest {
  override readonly httpStatus = 404;
  readonly code = 'resource_missing';
}
export class PayloadTooLarge extends InvalidRequest {
  override readonly httpStatus = 413;
  readonly code = 'payload_too_large';
}
/** The body's Content-Type is not application/json. */
export class UnsupportedMediaType extends InvalidRequest {
  override readonly httpStatus = 415;
  readonly code = 'unsupported_media_type';
}
/** The URL is not valid HTTP (a bad percent-encoding, no Host header, a request Node's parser refused). */
export class MalformedRequest extends InvalidRequest {
  readonly code = 'malformed_request';
}
/** The URL, or one of its path segments, is longer than FinCore reads. */
export class UriTooLong extends InvalidRequest {
  override readonly httpStatus = 414;
  readonly code = 'uri_too_long';
}
/** The request line and headers together exceed Node's header size limit. */
export class HeadersTooLarge extends InvalidRequest {
  override readonly httpStatus = 431;
  readonly code = 'headers_too_large';
}
/** The client did not send the whole request (headers, body) within the server's time limits. */
export class RequestTimeout extends InvalidRequest {
  override readonly httpStatus = 408;
  readonly code = 'request_timeout';
}
export class IdempotencyKeyReused extends ContractError {
  readonly httpStatus = 400;
  readonly type = 'idempotency_error' as const;
  readonly code = 'idempotency_key_reused';
}
export class IdempotencyKeyInUse extends ContractError {
  readonly httpStatus = 409;
  readonly type = 'idempotency_error' as const;
  readonly code = 'idempotency_key_in_use';
}
export class Unauthorized extends ContractError {
  readonly httpStatus = 401;
  readonly type = 'authentication_error' as const;
  readonly code = 'unauthorized';
}
export class RateLimited extends ContractError {
  readonly httpStatus = 429;
  readonly type = 'rate_limit_error' as const;
  readonly code = 'rate_limited';
}
export class InternalError extends ContractError {
  readonly httpStatus: number = 500;
  readonly type = 'api_error' as const;
  readonly code: string = 'internal_error';
}
/** The database is unreachable: the client should retry (503 with Retry-After). */
export class ServiceUnavailable extends InternalError {
  override readonly httpStatus = 503;
}
/** A merchant already has as many enabled webhook endpoints as FINCORE_WEBHOOK_MAX_ENDPOINTS allows. */
export class WebhookEndpointLimitReached extends InvalidRequest {
  readonly code = 'webhook_endpoint_limit_reached';
}
export class ChargeDisputed extends InvalidRequest {
  readonly code = 'charge_disputed';
}
export class ReviewAlreadyResolved extends InvalidRequest {
  readonly code = 'review_already_resolved';
}
/** POST /v1/refunds/{id}/cancel: the PSP may have seen the refund (or it is settled already). */
export class RefundNotCancelable extends InvalidRequest {
  readonly code = 'refund_not_cancelable';
}
/**
 * A create carried a `reference` that an existing object already has (unique for ever: per
 * merchant for charges, per charge for refunds). `existingId` is that object's id, named in the
 * message; param is `reference`.
 */
export class ReferenceAlreadyUsed extends InvalidRequest {
  readonly code = 'reference_already_used';
  constructor(
    message: string,
    readonly existingId: string,
  ) {
    super(message, 'reference');
  }
}
