/** SQL for merchants. Their API keys are in db/api-keys.ts. */
import type { Queryable } from './pool.ts';

export interface MerchantRecord {
  id: string;
  name: string;
  created_at: Date;
}

/** Its API key is a row of api_keys (db/api-keys.ts), written in the same transaction. */
export async function insertMerchant(db: Queryable, merchant: { id: string; name: string }): Promise<MerchantRecord> {
  const { rows } = await db.query<MerchantRecord>('INSERT INTO merchants (id, name) VALUES ($1, $2) RETURNING id, name, created_at', [merchant.id, merchant.name]);
  return rows[0] as MerchantRecord;
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
