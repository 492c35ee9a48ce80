/**
 * Idempotency inside a money-moving transaction: the key is locked and checked first, and the
 * response is stored before commit, so "one request, one object, one job" holds even when the
 * process dies between commit and response.
 */
import { IdempotencyKeyInUse, IdempotencyKeyReused } from '../domain/errors.ts';
import { findIdempotencyRecord, saveIdempotencyRecord, tryLockIdempotencyKey, type IdempotencyWrite } from '../db/idempotency.ts';
import type { Queryable } from '../db/pool.ts';

export interface IdempotentRequest {
  /** Merchant id, or 'admin' for admin endpoints. */
  scope: string;
  key: string;
  method: string;
  path: string;
  /** sha256 of the canonical request body. */
  requestHash: string;
}

export interface ApiResponse {
  status: number;
  body: unknown;
}

/** The key was used before with this very request: answer with the stored response. */
export class StoredResponseFound extends Error {
  constructor(readonly response: ApiResponse) {
    super('idempotent replay');
  }
}

/** Compares a stored record with the incoming request; throws unless they are the same request. */
export function replayOrReject(stored: { request_method: string; request_path: string; request_hash: string; response_code: number; response_body: unknown }, request: IdempotentRequest): ApiResponse {
  if (stored.request_method !== request.method || stored.request_path !== request.path || stored.request_hash !== request.requestHash) {
    throw new IdempotencyKeyReused(
      `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${request.key}' if you meant to execute a different request.`,
    );
  }
  return { status: stored.response_code, body: stored.response_body };
}

export function keyInUse(key: string): IdempotencyKeyInUse {
  return new IdempotencyKeyInUse(`There is currently another in-progress request using this Idempotency-Key (${key}). Retry after the first request has completed.`);
}

/** First step of a money-moving transaction. */
export async function claimIdempotencyKey(tx: Queryable, request: IdempotentRequest | undefined): Promise<void> {
  if (!request) return;
  if (!(await tryLockIdempotencyKey(tx, request.scope, request.key))) throw keyInUse(request.key);
  const stored = await findIdempotencyRecord(tx, request.scope, request.key);
  if (stored) throw new StoredResponseFound(replayOrReject(stored, request));
}

/** Last step of the transaction: the response is stored with the money movement it describes. */
/** False when the key already held a record (left unchanged). */
export async function storeIdempotentResponse(tx: Queryable, request: IdempotentRequest | undefined, response: ApiResponse): Promise<boolean> {
  if (!request) return true;
  return saveIdempotencyRecord(tx, request.scope, request.key, {
    request_method: request.method,
    request_path: request.path,
    request_hash: request.requestHash,
    response_code: response.status,
    response_body: response.body,
  });
}

/** The record a one-round-trip write stores with its money movement, for this request and answer. */
export function idempotencyWrite(request: IdempotentRequest | undefined, response: ApiResponse): IdempotencyWrite | undefined {
  return request && { scope: request.scope, key: request.key, method: request.method, path: request.path, hash: request.requestHash, code: response.status, body: response.body };
}
