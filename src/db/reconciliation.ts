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

/**
 * `pspCalledOnly`: only objects the PSP has been asked to move (a PSP reference recorded, or the
 * job that calls the PSP finished); those with a job still to run are the worker's business.
 */
export async function chargesPendingSince(db: Queryable, olderThanMs: number, limit: number, pspCalledOnly = false): Promise<PendingObject[]> {
  const { rows } = await db.query<PendingObject>(
    `SELECT id, merchant_id, psp_reference, NULL AS charge_psp_reference
       FROM payments p
      WHERE status = 'pending' AND created_at < now() - make_interval(secs => $1::double precision / 1000)
        AND (NOT $3::boolean OR p.psp_reference IS NOT NULL OR EXISTS (SELECT 1 FROM jobs j WHERE j.ref = p.id AND j.status = 'done'))
      ORDER BY created_at
      LIMIT $2`,
    [olderThanMs, limit, pspCalledOnly],
  );
  return rows;
}

export async function refundsPendingSince(db: Queryable, olderThanMs: number, limit: number, pspCalledOnly = false): Promise<PendingObject[]> {
  const { rows } = await db.query<PendingObject>(
    `SELECT r.id, r.merchant_id, r.psp_reference, p.psp_reference AS charge_psp_reference
       FROM refunds r
       JOIN payments p ON p.id = r.payment_id
      WHERE r.status = 'pending' AND r.created_at < now() - make_interval(secs => $1::double precision / 1000)
        AND (NOT $3::boolean OR r.psp_reference IS NOT NULL OR EXISTS (SELECT 1 FROM jobs j WHERE j.ref = r.id AND j.status = 'done'))
      ORDER BY r.created_at
      LIMIT $2`,
    [olderThanMs, limit, pspCalledOnly],
  );
  return rows;
}
