/** SQL for finding money movements left pending too long (partial indexes on status = 'pending'). */
import type { Queryable } from './pool.ts';

/** A pending object and the PSP ids FinCore has for it (a PSP may need them to look it up). */
export interface PendingObject {
  id: string;
  merchant_id: string;
  psp_reference: string | null;
  /** Refunds only: the PSP's id of the charge. */
  charge_psp_reference: string | null;
}

export async function chargesPendingSince(db: Queryable, olderThanMs: number, limit: number): Promise<PendingObject[]> {
  const { rows } = await db.query<PendingObject>(
    `SELECT id, merchant_id, psp_reference, NULL AS charge_psp_reference
       FROM payments
      WHERE status = 'pending' AND created_at < now() - make_interval(secs => $1::double precision / 1000)
      ORDER BY created_at
      LIMIT $2`,
    [olderThanMs, limit],
  );
  return rows;
}

export async function refundsPendingSince(db: Queryable, olderThanMs: number, limit: number): Promise<PendingObject[]> {
  const { rows } = await db.query<PendingObject>(
    `SELECT r.id, r.merchant_id, r.psp_reference, p.psp_reference AS charge_psp_reference
       FROM refunds r
       JOIN payments p ON p.id = r.payment_id
      WHERE r.status = 'pending' AND r.created_at < now() - make_interval(secs => $1::double precision / 1000)
      ORDER BY r.created_at
      LIMIT $2`,
    [olderThanMs, limit],
  );
  return rows;
}
