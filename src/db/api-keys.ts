/** SQL for API keys (migration 011). Only sha256 hashes are stored; a key is valid while unexpired. */
import type { Queryable } from './pool.ts';

export interface ApiKeyRecord {
  id: string;
  merchant_id: string;
  created_at: Date;
  expires_at: Date | null;
}

export async function insertApiKey(db: Queryable, key: { id: string; merchantId: string; keyHash: string }): Promise<ApiKeyRecord> {
  const { rows } = await db.query<ApiKeyRecord>(
    'INSERT INTO api_keys (id, merchant_id, key_hash) VALUES ($1, $2, $3) RETURNING id, merchant_id, created_at, expires_at',
    [key.id, key.merchantId, key.keyHash],
  );
  return rows[0] as ApiKeyRecord;
}

/** The merchant a valid key belongs to, with the key's expiry (null: none). */
export async function findValidKey(db: Queryable, keyHash: string): Promise<{ merchant_id: string; expires_at: Date | null } | undefined> {
  const { rows } = await db.query<{ merchant_id: string; expires_at: Date | null }>(
    'SELECT merchant_id, expires_at FROM api_keys WHERE key_hash = $1 AND (expires_at IS NULL OR expires_at > now())',
    [keyHash],
  );
  return rows[0];
}

/** Locks the merchant row: rolls and revokes of one merchant serialize here. */
export async function lockMerchant(db: Queryable, merchantId: string): Promise<boolean> {
  const { rows } = await db.query('SELECT id FROM merchants WHERE id = $1 FOR UPDATE', [merchantId]);
  return rows.length > 0;
}

/**
 * Valid keys of the merchant (all of them, or the one `keyId`) end at now() + overlapSeconds, or
 * earlier if they already ended sooner. Also clears the pre-011 column so a process of the previous
 * release stops taking the old key too. Returns the keys changed.
 */
export async function expireKeys(db: Queryable, merchantId: string, overlapSeconds: number, keyId?: string): Promise<ApiKeyRecord[]> {
  const { rows } = await db.query<ApiKeyRecord>(
    `UPDATE api_keys
        SET expires_at = LEAST(COALESCE(expires_at, 'infinity'), now() + make_interval(secs => $2))
      WHERE merchant_id = $1 AND ($3::text IS NULL OR id = $3)
        AND (expires_at IS NULL OR expires_at > now())
      RETURNING id, merchant_id, created_at, expires_at`,
    [merchantId, overlapSeconds, keyId ?? null],
  );
  await db.query('UPDATE merchants SET api_key_hash = NULL WHERE id = $1', [merchantId]);
  return rows;
}

export async function keysOfMerchant(db: Queryable, merchantId: string): Promise<ApiKeyRecord[]> {
  const { rows } = await db.query<ApiKeyRecord>('SELECT id, merchant_id, created_at, expires_at FROM api_keys WHERE merchant_id = $1 ORDER BY created_at DESC, id DESC', [merchantId]);
  return rows;
}
