/** SQL for merchants. API keys are stored only as their sha256 hash. */
import type { Queryable } from './pool.ts';

export interface MerchantRecord {
  id: string;
  name: string;
  created_at: Date;
}

export async function insertMerchant(db: Queryable, merchant: { id: string; name: string; apiKeyHash: string }): Promise<MerchantRecord> {
  const { rows } = await db.query<MerchantRecord>(
    'INSERT INTO merchants (id, name, api_key_hash) VALUES ($1, $2, $3) RETURNING id, name, created_at',
    [merchant.id, merchant.name, merchant.apiKeyHash],
  );
  return rows[0] as MerchantRecord;
}

export async function findMerchantByKeyHash(db: Queryable, apiKeyHash: string): Promise<MerchantRecord | undefined> {
  const { rows } = await db.query<MerchantRecord>('SELECT id, name, created_at FROM merchants WHERE api_key_hash = $1', [apiKeyHash]);
  return rows[0];
}

export async function findMerchantById(db: Queryable, id: string): Promise<MerchantRecord | undefined> {
  const { rows } = await db.query<MerchantRecord>('SELECT id, name, created_at FROM merchants WHERE id = $1', [id]);
  return rows[0];
}

/** The merchant owning a charge or refund id; null for anything else. */
export async function merchantOfObject(db: Queryable, objectId: string): Promise<string | null> {
  const { rows } = await db.query<{ merchant_id: string }>(
    `SELECT merchant_id FROM payments WHERE id = $1
     UNION ALL
     SELECT merchant_id FROM refunds WHERE id = $1`,
    [objectId],
  );
  return rows[0]?.merchant_id ?? null;
}
