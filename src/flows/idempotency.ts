/**
 * Idempotency inside a money-moving transaction: the key is locked and checked first, and the
 * response is stored before commit, so "one request, one object, one job" holds even when the
 * process dies between commit and response.
 *
 * What is stored (API.md "Idempotency"), like Stripe: an answer is stored once the endpoint
 * started executing (`started`), success or refusal. Refusals decided before any work (an invalid
 * body, the key in use by a request in flight, a key reused for another request) are not, so a
 * corrected retry with the same key works. A record counts for `ttlHours` (at least 24); an
 * expired one is treated as absent and the purge below deletes it.
 */
import { IdempotencyKeyInUse, IdempotencyKeyReused } from '../domain/errors.ts';
import { claimKey, deleteExpiredIdempotencyRecords, findIdempotencyRecord, saveIdempotencyRecord, type IdempotencyWrite } from '../db/idempotency.ts';
import { inTransaction, type Queryable } from '../db/pool.ts';
import type pg from 'pg';

export interface IdempotentRequest {
  /** Merchant id, or 'admin' for admin endpoints. */
  scope: string;
  key: string;
  /** The request's identity is method + full path + body: a key reused with any of them different is refused. */
  method: string;
  /** The path as requested, parameters and query string included (never the route template). */
  path: string;
  /** sha256 of the canonical request body. */
  requestHash: string;
  /** How long the stored answer counts. */
  ttlHours: number;
  /** Set once the endpoint began its work under the key: from then on a refusal is this request's answer and is stored. */
  started: boolean;
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
      `Keys for idempotent requests can only be used with the same method, path and parameters they were first used with. Try using a key other than '${request.key}' if you meant to execute a different request.`,
    );
  }
  return { status: stored.response_code, body: stored.response_body };
}

export function keyInUse(key: string): IdempotencyKeyInUse {
  return new IdempotencyKeyInUse(`There is currently another in-progress request using this Idempotency-Key (${key}). Retry after the first request has completed.`);
}

/**
 * The live answer stored under the request's key, if any, for a lookup outside a transaction:
 * the stored response to replay, or IdempotencyKeyReused when it answered another request.
 */
export async function liveAnswer(pool: pg.Pool, request: IdempotentRequest): Promise<ApiResponse | undefined> {
  const stored = await findIdempotencyRecord(pool, request.scope, request.key);
  return stored && replayOrReject(stored, request);
}

/** The endpoint begins its work: a refusal from here on is stored under the key. */
export function markStarted(request: IdempotentRequest | undefined): void {
  if (request) request.started = true;
}

/** First step of a money-moving transaction. */
export async function claimIdempotencyKey(tx: Queryable, request: IdempotentRequest | undefined): Promise<void> {
  if (!request) return;
  const claim = await claimKey(tx, request.scope, request.key);
  if (claim.outcome === 'key_in_use') throw keyInUse(request.key);
  if (claim.outcome === 'replay') throw new StoredResponseFound(replayOrReject(claim.stored, request));
  markStarted(request);
}

/** Last step of the transaction: the response is stored with the money movement it describes. */
/** False when the key already held a live record (left unchanged). */
export async function storeIdempotentResponse(tx: Queryable, request: IdempotentRequest | undefined, response: ApiResponse): Promise<boolean> {
  if (!request) return true;
  return saveIdempotencyRecord(
    tx,
    request.scope,
    request.key,
    { request_method: request.method, request_path: request.path, request_hash: request.requestHash, response_code: response.status, response_body: response.body },
    request.ttlHours,
  );
}

/**
 * A request refused with a 4xx: what it is answered with. Refused after it started, the refusal is
 * stored under the key (taken again, its transaction having rolled back) unless the key holds a
 * live answer meanwhile, which wins (replayed, or the request is refused as a reuse of the key);
 * another request in flight with the key makes it a 409. Refused before it started, nothing is
 * stored, but a live answer under the key still wins: the key was used, by this or another request.
 */
export async function answerRefusal(pool: pg.Pool, request: IdempotentRequest | undefined, refusal: ApiResponse): Promise<{ response: ApiResponse; replayed: boolean }> {
  if (!request) return { response: refusal, replayed: false };
  if (!request.started) {
    const stored = await liveAnswer(pool, request);
    return stored ? { response: stored, replayed: true } : { response: refusal, replayed: false };
  }
  return inTransaction(pool, async (tx) => {
    const claim = await claimKey(tx, request.scope, request.key);
    if (claim.outcome === 'key_in_use') throw keyInUse(request.key);
    if (claim.outcome === 'replay') return { response: replayOrReject(claim.stored, request), replayed: true };
    await storeIdempotentResponse(tx, request, refusal);
    return { response: refusal, replayed: false };
  });
}

/** The record a one-round-trip write stores with its money movement, for this request and answer. */
export function idempotencyWrite(request: IdempotentRequest | undefined, response: ApiResponse): IdempotencyWrite | undefined {
  return request && { scope: request.scope, key: request.key, method: request.method, path: request.path, hash: request.requestHash, code: response.status, body: response.body, ttlHours: request.ttlHours };
}

export interface PurgeReport {
  deleted: number;
  batches: number;
}

/**
 * Deletes expired idempotency records in batches of at most `batchSize` rows, each its own short
 * statement (no long lock, no long transaction: on embedded PGlite a transaction blocks every
 * other connection), until a batch comes back short or `maxBatches` ran. Keys in flight are
 * never deleted. Run periodically (jobs/idempotency-purger.ts, the Lambda's schedule).
 */
export async function purgeExpiredIdempotencyKeys(pool: pg.Pool, options: { batchSize: number; maxBatches: number }): Promise<PurgeReport> {
  const report: PurgeReport = { deleted: 0, batches: 0 };
  while (report.batches < options.maxBatches) {
    const deleted = await deleteExpiredIdempotencyRecords(pool, options.batchSize);
    report.batches++;
    report.deleted += deleted;
    if (deleted < options.batchSize) break;
  }
  return report;
}
