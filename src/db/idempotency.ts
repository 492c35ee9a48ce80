/**
 * SQL for idempotency keys (per merchant scope). The claim and the store are SQL functions
 * (src/db/functions/claim_idempotency_key.sql, store_idempotency_record.sql) shared with the
 * one-call writes create_charge and create_refund_if_unchanged, so the rules stand once: a record
 * counts until its expires_at; an expired one is absent to every reader and replaced by the next
 * request with its key.
 */
import type { Queryable } from './pool.ts';

export interface IdempotencyRecord {
  request_method: string;
  request_path: string;
  request_hash: string;
  response_code: number;
  response_body: unknown;
}

/** The live (unexpired) record under the key, if any. */
export async function findIdempotencyRecord(db: Queryable, scope: string, key: string): Promise<IdempotencyRecord | undefined> {
  const { rows } = await db.query<IdempotencyRecord>(
    `SELECT request_method, request_path, request_hash, response_code, response_body
       FROM idempotency_keys WHERE scope = $1 AND key = $2 AND expires_at > now()`,
    [scope, key],
  );
  return rows[0];
}

export type KeyClaim = { outcome: 'claimed' } | { outcome: 'key_in_use' } | { outcome: 'replay'; stored: IdempotencyRecord };

/**
 * Takes a transaction-scoped lock on the key without waiting, then reads its live record.
 * key_in_use: another request with the same key is in flight right now. (On embedded PGlite every
 * connection shares one session, where the lock always succeeds; there transactions run one at a
 * time anyway.)
 */
export async function claimKey(tx: Queryable, scope: string, key: string): Promise<KeyClaim> {
  const { rows } = await tx.query<StoredColumns & { outcome: KeyClaim['outcome'] }>('SELECT * FROM claim_idempotency_key($1, $2)', [scope, key]);
  const row = rows[0];
  switch (row?.outcome) {
    case 'claimed':
    case 'key_in_use':
      return { outcome: row.outcome };
    case 'replay':
      return { outcome: 'replay', stored: storedRecord(row) };
    default:
      throw new Error(`claim_idempotency_key returned ${JSON.stringify(row?.outcome)}`);
  }
}

/** Stores the record for ttlHours. False when the key already holds a live record (left as it was). */
export async function saveIdempotencyRecord(db: Queryable, scope: string, key: string, record: IdempotencyRecord, ttlHours: number): Promise<boolean> {
  const { rows } = await db.query<{ stored: boolean }>('SELECT store_idempotency_record($1, $2, $3, $4, $5, $6, $7, $8) AS stored', [
    scope, key, record.request_method, record.request_path, record.request_hash, record.response_code, JSON.stringify(record.response_body), ttlHours,
  ]);
  return rows[0]?.stored === true;
}

/**
 * One bounded batch of the purge: deletes at most `batchSize` expired records, oldest expiry
 * first, and returns how many went. A key whose request is in flight is skipped: its advisory
 * lock is held (the request took it with claim_idempotency_key) or its row is locked. One
 * statement, so the advisory locks taken here last only as long as it does.
 */
export async function deleteExpiredIdempotencyRecords(db: Queryable, batchSize: number): Promise<number> {
  const { rowCount } = await db.query(
    `WITH expired AS MATERIALIZED (
       SELECT scope, key FROM idempotency_keys
        WHERE expires_at <= now()
        ORDER BY expires_at
        LIMIT $1
          FOR UPDATE SKIP LOCKED
     ),
     not_in_flight AS MATERIALIZED (
       SELECT scope, key FROM expired WHERE pg_try_advisory_xact_lock(hashtext(scope), hashtext(key))
     )
     DELETE FROM idempotency_keys k
      USING not_in_flight f
      WHERE k.scope = f.scope AND k.key = f.key`,
    [batchSize],
  );
  return rowCount ?? 0;
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
  /** How long the record counts (store_idempotency_record). */
  ttlHours: number;
}

/** Parameters $n..$n+7 of create_charge / create_refund_if_unchanged (all null without a key). */
export function idempotencyParams(write: IdempotencyWrite | undefined): unknown[] {
  return [write?.scope ?? null, write?.key ?? null, write?.method ?? null, write?.path ?? null, write?.hash ?? null, write?.code ?? null, write ? JSON.stringify(write.body) : null, write?.ttlHours ?? null];
}

interface StoredColumns {
  stored_method: string | null;
  stored_path: string | null;
  stored_hash: string | null;
  stored_code: number | null;
  stored_body: unknown;
}

/** The stored record claim_idempotency_key (and the functions calling it) return on a replay. */
export function storedRecord(row: StoredColumns): IdempotencyRecord {
  return { request_method: row.stored_method ?? '', request_path: row.stored_path ?? '', request_hash: row.stored_hash ?? '', response_code: row.stored_code ?? 0, response_body: row.stored_body };
}
