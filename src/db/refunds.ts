/** SQL for refunds. Refund rows are immutable except for their status fields. */
import type { Metadata, RefundRecord } from '../domain/objects.ts';
import type { RefundAmounts } from '../domain/refund.ts';
import type { Queryable } from './pool.ts';

export interface NewRefund {
  id: string;
  chargeId: string;
  merchantId: string;
  amount: number;
  currency: string;
  reason: RefundRecord['reason'];
  metadata: Metadata;
}

export async function insertRefund(db: Queryable, refund: NewRefund): Promise<RefundRecord> {
  const { rows } = await db.query<RefundRecord>(
    `INSERT INTO refunds (id, payment_id, merchant_id, amount, currency, status, reason, metadata)
     VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7)
     RETURNING *`,
    [refund.id, refund.chargeId, refund.merchantId, refund.amount, refund.currency, refund.reason, refund.metadata],
  );
  return rows[0] as RefundRecord;
}

/** Amounts and statuses of a charge's refunds: what the refund rules need. */
export async function refundAmountsOfCharge(db: Queryable, chargeId: string): Promise<RefundAmounts[]> {
  const { rows } = await db.query<RefundAmounts>('SELECT amount, status FROM refunds WHERE payment_id = $1', [chargeId]);
  return rows;
}

export async function findRefundOfMerchant(db: Queryable, merchantId: string, refundId: string): Promise<RefundRecord | undefined> {
  const { rows } = await db.query<RefundRecord>('SELECT * FROM refunds WHERE id = $1 AND merchant_id = $2', [refundId, merchantId]);
  return rows[0];
}

export async function findRefund(db: Queryable, refundId: string): Promise<RefundRecord | undefined> {
  const { rows } = await db.query<RefundRecord>('SELECT * FROM refunds WHERE id = $1', [refundId]);
  return rows[0];
}

export async function lockRefund(db: Queryable, refundId: string): Promise<RefundRecord | undefined> {
  const { rows } = await db.query<RefundRecord>('SELECT * FROM refunds WHERE id = $1 FOR UPDATE', [refundId]);
  return rows[0];
}

export async function listRefunds(
  db: Queryable,
  merchantId: string,
  chargeId: string | undefined,
  limit: number,
  startingAfter: string | undefined,
): Promise<RefundRecord[]> {
  const { rows } = await db.query<RefundRecord>(
    `SELECT * FROM refunds
      WHERE merchant_id = $1
        AND ($2::text IS NULL OR payment_id = $2)
        AND ($3::text IS NULL OR id < $3)
      ORDER BY id DESC
      LIMIT $4`,
    [merchantId, chargeId ?? null, startingAfter ?? null, limit + 1],
  );
  return rows;
}

export interface RefundSettlement {
  status: 'succeeded' | 'failed';
  failureReason: string | null;
  pspReference: string | null;
}

export async function settleRefundRow(db: Queryable, refundId: string, settlement: RefundSettlement): Promise<RefundRecord> {
  const { rows } = await db.query<RefundRecord>(
    `UPDATE refunds
        SET status = $2, failure_reason = $3, psp_reference = coalesce(psp_reference, $4), updated_at = now()
      WHERE id = $1 AND status = 'pending'
      RETURNING *`,
    [refundId, settlement.status, settlement.failureReason, settlement.pspReference],
  );
  return rows[0] as RefundRecord;
}

export async function recordRefundPspReference(db: Queryable, refundId: string, pspReference: string): Promise<void> {
  await db.query('UPDATE refunds SET psp_reference = $2 WHERE id = $1 AND psp_reference IS NULL', [refundId, pspReference]);
}
