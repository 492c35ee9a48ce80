/** The native API's HTTP vocabulary: JSON answers, its error shape and the request-field checks. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StripeReply } from '../stripe/index.ts';

export const MAX_AMOUNT = 99_999_999;

export interface StoredResponse {
  status: number;
  body: unknown;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

export function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  sendJson(res, status, { error: { code, message } });
}

export function sendStripeReply(res: ServerResponse, reply: StripeReply): void {
  if (res.headersSent) return;
  res.writeHead(reply.status, { ...reply.headers, 'Content-Length': Buffer.byteLength(reply.body) });
  res.end(reply.body);
}

export function tooLarge(limit: number): HttpError {
  return new HttpError(413, 'payload_too_large', `Request body exceeds ${limit} bytes.`);
}

export function parseJsonObject(raw: Buffer): JsonObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new HttpError(400, 'invalid_json', 'Request body is not valid JSON.');
  }
  if (!isObject(parsed)) throw new HttpError(400, 'invalid_json', 'Request body must be a JSON object.');
  return parsed;
}

export function requireString(body: JsonObject, field: string): string {
  const value = body[field];
  if (value === undefined || value === null) {
    throw new HttpError(400, 'parameter_missing', `Missing required parameter: ${field}.`);
  }
  if (typeof value !== 'string' || value.length === 0 || value.length > 255) {
    throw new HttpError(400, 'parameter_invalid', `${field} must be a non-empty string of at most 255 characters.`);
  }
  return value;
}

export function requireAmount(body: JsonObject): number {
  const value = body['amount'];
  if (value === undefined || value === null) {
    throw new HttpError(400, 'parameter_missing', 'Missing required parameter: amount.');
  }
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > MAX_AMOUNT) {
    throw new HttpError(400, 'parameter_invalid', `amount must be an integer between 1 and ${MAX_AMOUNT}.`);
  }
  return value;
}

export function requireIdempotencyKey(req: IncomingMessage): string {
  const header = req.headers['idempotency-key'];
  const key = Array.isArray(header) ? header[0] : header;
  if (key === undefined || key.length === 0) {
    throw new HttpError(400, 'idempotency_key_missing', 'The Idempotency-Key header is required.');
  }
  if (key.length > 255) {
    throw new HttpError(400, 'parameter_invalid', 'The Idempotency-Key header must be at most 255 characters.');
  }
  return key;
}
