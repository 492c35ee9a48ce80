/**
 * The one place errors become HTTP responses in the contract's shape. Nothing else formats
 * errors; no stack trace or SQL ever reaches a response body.
 */
import type { FastifyError, FastifyReply } from 'fastify';
import {
  AmountTooLarge,
  ContractError,
  HeadersTooLarge,
  InternalError,
  InvalidJson,
  MalformedRequest,
  ParameterInvalid,
  ParameterMissing,
  ParameterUnknown,
  PayloadTooLarge,
  ReferenceAlreadyUsed,
  RequestTimeout,
  ResourceMissing,
  ServiceUnavailable,
  UnsupportedMediaType,
  UriTooLong,
} from '../domain/errors.ts';
import { MAX_AMOUNT } from '../domain/money.ts';

export interface ErrorBody {
  error: { type: string; code: string; message: string; param?: string; existing_id?: string };
}

export function errorBody(error: ContractError): ErrorBody {
  const body: ErrorBody = { error: { type: error.type, code: error.code, message: error.message } };
  if (error.param !== undefined) body.error.param = error.param;
  // reference_already_used names the object that has the reference, for programs too.
  if (error instanceof ReferenceAlreadyUsed) body.error.existing_id = error.existingId;
  return body;
}

/** Answers with `error` in the contract's shape and its own HTTP status. */
export function sendError(reply: FastifyReply, error: ContractError): FastifyReply {
  return reply.code(error.httpStatus).send(errorBody(error));
}

interface AjvIssue {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
  /** With Ajv's `verbose`: the schema holding the failed keyword. */
  parentSchema?: Record<string, unknown>;
}

function paramOf(issue: AjvIssue): string {
  const [first] = issue.instancePath.split('/').filter(Boolean);
  return first ?? '';
}

/** Maps the first JSON-schema violation to the contract's error code. */
export function validationError(issues: readonly AjvIssue[], part: string): ContractError {
  const issue = issues[0];
  if (!issue) return new ParameterInvalid('Invalid request.');
  if (issue.keyword === 'required') {
    const name = String(issue.params.missingProperty);
    return new ParameterMissing(`Missing required param: ${name}.`, name);
  }
  if (issue.keyword === 'additionalProperties' && issue.instancePath === '') {
    const name = String(issue.params.additionalProperty);
    return new ParameterUnknown(`Received unknown parameter: ${name}.`, name);
  }
  const param = paramOf(issue);
  if (param === 'amount' && issue.keyword === 'maximum') {
    return new AmountTooLarge(`Amount must be no more than ${MAX_AMOUNT}.`, 'amount');
  }
  if (param === '') return new ParameterInvalid(`The request ${part} must be a JSON object.`);
  const alternatives = noAlternativeMatched(issues, issue);
  if (alternatives) return new ParameterInvalid(`Invalid ${param}: ${param} must be ${alternatives}.`, param);
  return new ParameterInvalid(`Invalid ${param}: ${param} ${inWords(issue)}.`, param);
}

/**
 * A value of the wrong kind for a schema with alternatives (anyOf, e.g. metadata: an object, or
 * "" to clear it): the first alternative's complaint ("must be object") would hide the others, so
 * say what is expected in words (the schema's `x-expected`). A value of the right kind that breaks
 * a rule inside one (too many keys, a value too long) keeps that rule's own message.
 */
function noAlternativeMatched(issues: readonly AjvIssue[], first: AjvIssue): string | undefined {
  if (first.keyword !== 'type') return undefined;
  const failed = issues.find((i) => (i.keyword === 'anyOf' || i.keyword === 'oneOf') && i.instancePath === first.instancePath);
  const expected = failed?.parentSchema?.['x-expected'];
  return typeof expected === 'string' ? expected : undefined;
}

/**
 * What Ajv's message says, without its raw regular expressions: a `pattern` failure says what
 * is expected in words (the schema's `x-expected`, else its description), an `enum` failure
 * lists the allowed values.
 */
function inWords(issue: AjvIssue): string {
  if (issue.keyword === 'pattern') {
    const schema = issue.parentSchema ?? {};
    const expected = schema['x-expected'] ?? schema.description;
    const words = typeof expected === 'string' ? expected.replace(/\.$/, '') : 'a value in the documented format';
    return `${issue.instancePath.split('/').length > 2 ? 'has an item that is not' : 'must be'} ${words}`;
  }
  if (issue.keyword === 'enum' && Array.isArray(issue.params.allowedValues)) {
    return `must be one of: ${issue.params.allowedValues.map((v) => (v === null ? 'null' : String(v))).join(', ')}`;
  }
  return issue.message ?? 'is invalid';
}

const DATABASE_UNAVAILABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004']);

function isDatabaseUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && DATABASE_UNAVAILABLE.has(code)) return true;
  const message = error instanceof Error ? error.message : '';
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(message);
}

/** Any thrown thing -> the contract error to answer with. */
export function toContractError(error: unknown): ContractError {
  if (error instanceof ContractError) return error;
  if (typeof error !== 'object' || error === null) return new InternalError('An internal error occurred. It has been logged.');
  const fastifyError = error as Partial<FastifyError> & { validation?: AjvIssue[]; validationContext?: string };
  if (fastifyError.validation) return validationError(fastifyError.validation, fastifyError.validationContext ?? 'body');
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new PayloadTooLarge('The request body is too large.');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new InvalidJson('The request body is not valid JSON.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new UnsupportedMediaType('The request body must be JSON sent with Content-Type: application/json.');
    case 'FST_ERR_NOT_FOUND':
      return new ResourceMissing('Unrecognized request URL.');
    case 'FST_ERR_BAD_URL':
      return new MalformedRequest("The request URL is not valid: it has a malformed percent-encoding (write a literal '%' as %25).");
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new UriTooLong('A path segment of the request URL is longer than 100 characters (no FinCore id is that long).');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new MalformedRequest('The request body does not match its Content-Length header.');
    // Node's HTTP server refusing a request before FinCore sees it (clientError).
    case 'HPE_HEADER_OVERFLOW':
      return new HeadersTooLarge('The request line and headers are larger than the server accepts (16 KB in all).');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new RequestTimeout('The request (headers and body) was not received completely in time.');
  }
  if (typeof fastifyError.code === 'string' && fastifyError.code.startsWith('HPE_')) return new MalformedRequest('The request is not valid HTTP/1.1.');
  if (isDatabaseUnavailable(error)) return new ServiceUnavailable('The service is temporarily unavailable. Retry shortly.');
  if (fastifyError.statusCode === 413) return new PayloadTooLarge('The request body is too large.');
  if (fastifyError.statusCode === 400 && error instanceof SyntaxError) return new InvalidJson('The request body is not valid JSON.');
  // Any other request Fastify itself refuses as the client's fault: still the contract's shape.
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) return new MalformedRequest('The request could not be read.');
  return new InternalError('An internal error occurred. It has been logged.');
}
