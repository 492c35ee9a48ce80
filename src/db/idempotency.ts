/** SQL for idempotency keys (per merchant scope). */
import type { Queryable } from './pool.ts';

export interface IdempotencyRecord {
  request_method: string;
  request_path: string;
  request_hash: string;
  response_code: number;
  response_body: unknown;
}

export async function findIdempotencyRecord(db: Queryable, scope: string, key: string): Promise<IdempotencyRecord | undefined> {
  const { rows } = await db.query<IdempotencyRecord>(
    `SELECT request_method, request_path, request_hash, response_code, response_body
       FROM idempotency_keys WHERE scope = $1 AND key = $2`,
    [scope, key],
  );
  return rows[0];
}

/**
 * Takes a transaction-scoped lock on the key without waiting. False means another request with
 * the same key is in flight right now. (On embedded PGlite every connection shares one session,
 * where this always succeeds; there transactions run one at a time anyway.)
 */
export async function tryLockIdempotencyKey(db: Queryable, scope: string, key: string): Promise<boolean> {
  const { rows } = await db.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock(hashtext($1), hashtext($2)) AS locked', [scope, key]);
  return rows[0]?.locked === true;
}

/** False when the key already holds a record (which is left as it was). */
export async function saveIdempotencyRecord(
  db: Queryable,
  scope: string,
  key: string,
  record: IdempotencyRecord,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO idempotency_keys (scope, key, request_method, request_path, request_hash, response_code, response_body)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (scope, key) DO NOTHING`,
    [scope, key, record.request_method, record.request_path, record.request_hash, record.response_code, JSON.stringify(record.response_body)],
  );
  return rowCount === 1;
}

/** The idempotency record a one-round-trip write stores with its money movement. */
export interface IdempotencyWrite {
  scope: string;
  key: string;
  method: string;
  path: string;
  hash: string;
  code: number;
  body: unknown;
}

/** Parameters $n..$n+6 of create_charge / create_refund_if_unchanged (all null without a key). */
export function idempotencyParams(write: IdempotencyWrite | undefined): unknown[] {
  return [write?.scope ?? null, write?.key ?? null, write?.method ?? null, write?.path ?? null, write?.hash ?? null, write?.code ?? null, write ? JSON.stringify(write.body) : null];
}

/** The stored record those functions return on a replay. */
export function storedRecord(row: { stored_method: string | null; stored_path: string | null; stored_hash: string | null; stored_code: number | null; stored_body: unknown }): IdempotencyRecord {
  return { request_method: row.stored_method ?? '', request_path: row.stored_path ?? '', request_hash: row.stored_hash ?? '', response_code: row.stored_code ?? 0, response_body: row.stored_body };
}
