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

export async function saveIdempotencyRecord(
  db: Queryable,
  scope: string,
  key: string,
  record: IdempotencyRecord,
): Promise<void> {
  await db.query(
    `INSERT INTO idempotency_keys (scope, key, request_method, request_path, request_hash, response_code, response_body)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (scope, key) DO NOTHING`,
    [scope, key, record.request_method, record.request_path, record.request_hash, record.response_code, JSON.stringify(record.response_body)],
  );
}
