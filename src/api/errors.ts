/**
 * The one place errors become HTTP responses in the contract's shape. Nothing else formats
 * errors; no stack trace or SQL ever reaches a response body.
 */
import type { FastifyError } from 'fastify';
import {
  AmountTooLarge,
  ContractError,
  InternalError,
  InvalidJson,
  ParameterInvalid,
  ParameterMissing,
  ParameterUnknown,
  PayloadTooLarge,
  ResourceMissing,
  ServiceUnavailable,
} from '../domain/errors.ts';

export interface ErrorBody {
  error: { type: string; code: string; message: string; param?: string };
}

export function errorBody(error: ContractError): ErrorBody {
  const body: ErrorBody = { error: { type: error.type, code: error.code, message: error.message } };
  if (error.param !== undefined) body.error.param = error.param;
  return body;
}

interface AjvIssue {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
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
    return new AmountTooLarge('Amount must be no more than 99999999.', 'amount');
  }
  if (param === '') return new ParameterInvalid(`The request ${part} must be a JSON object.`);
  return new ParameterInvalid(`Invalid ${param}: ${param} ${issue.message ?? 'is invalid'}.`, param);
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
      return new InvalidJson('The request body must be JSON (Content-Type: application/json).');
    case 'FST_ERR_NOT_FOUND':
      return new ResourceMissing('Unrecognized request URL.');
  }
  if (isDatabaseUnavailable(error)) return new ServiceUnavailable('The service is temporarily unavailable. Retry shortly.');
  if (fastifyError.statusCode === 413) return new PayloadTooLarge('The request body is too large.');
  if (fastifyError.statusCode === 400 && error instanceof SyntaxError) return new InvalidJson('The request body is not valid JSON.');
  return new InternalError('An internal error occurred. It has been logged.');
}
