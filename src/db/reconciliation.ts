/**
 * SQL for reconciliation: money movements left pending too long (partial indexes on status =
 * 'pending'), the ones that turned terminal recently (migration 015), and when each terminal one
 * was last re-read from its PSP (reconcile_checks).
 */
import type { Queryable } from './pool.ts';

/** An object and the PSP ids FinCore has for it (a PSP may need them to look it up). */
export interface PendingObject {
  id: string;
  merchant_id: string;
  psp_reference: string | null;
  /** Refunds only: the PSP's id of the charge. */
  charge_psp_reference: string | null;
  /** The PSP that took the charge (a refund's: its charge's); null: the configured default's. */
  psp: string | null;
}

/** A settled object with what FinCore holds of it, for comparing with the PSP's word. */
export interface TerminalObject extends PendingObject {
  status: string;
  amount: number;
  currency: string;
}

/**
 * `pspCalledOnly`: only objects the PSP has been asked to move (a PSP reference recorded, or the
 * job that calls the PSP finished); those with a job still to run are the worker's business.
 */
export async function chargesPendingSince(db: Queryable, olderThanMs: number, limit: number, pspCalledOnly = false): Promise<PendingObject[]> {
  const { rows } = await db.query<PendingObject>(
    `SELECT id, merchant_id, psp_reference, NULL AS charge_psp_reference, psp
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
    `SELECT r.id, r.merchant_id, r.psp_reference, p.psp_reference AS charge_psp_reference, p.psp
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

/**
 * Charges that turned succeeded or failed within the last `windowMs` and have not been re-read
 * from the PSP for `recheckMs` (never-read first, then newest first). `recheckMs` null: every one
 * in the window, whenever it was last read (the drift report).
 */
export async function chargesTerminalWithin(db: Queryable, windowMs: number, recheckMs: number | null, limit: number): Promise<TerminalObject[]> {
  const { rows } = await db.query<TerminalObject>(
    `SELECT p.id, p.merchant_id, p.psp_reference, NULL AS charge_psp_reference, p.psp, p.status, p.amount, p.currency
       FROM payments p
       LEFT JOIN reconcile_checks c ON c.object_id = p.id
      WHERE p.status IN ('succeeded', 'failed') AND p.updated_at > now() - make_interval(secs => $1::double precision / 1000)
        AND ($2::double precision IS NULL OR c.checked_at IS NULL OR c.checked_at < now() - make_interval(secs => $2::double precision / 1000))
      ORDER BY c.checked_at NULLS FIRST, p.updated_at DESC
      LIMIT $3`,
    [windowMs, recheckMs, limit],
  );
  return rows;
}

export async function refundsTerminalWithin(db: Queryable, windowMs: number, recheckMs: number | null, limit: number): Promise<TerminalObject[]> {
  const { rows } = await db.query<TerminalObject>(
    `SELECT r.id, r.merchant_id, r.psp_reference, p.psp_reference AS charge_psp_reference, p.psp, r.status, r.amount, r.currency
       FROM refunds r
       JOIN payments p ON p.id = r.payment_id
       LEFT JOIN reconcile_checks c ON c.object_id = r.id
      WHERE r.status IN ('succeeded', 'failed') AND r.updated_at > now() - make_interval(secs => $1::double precision / 1000)
        AND ($2::double precision IS NULL OR c.checked_at IS NULL OR c.checked_at < now() - make_interval(secs => $2::double precision / 1000))
      ORDER BY c.checked_at NULLS FIRST, r.updated_at DESC
      LIMIT $3`,
    [windowMs, recheckMs, limit],
  );
  return rows;
}

/**
 * Refunds canceled within the last `windowMs` (a canceled refund's updated_at is its cancel: the
 * status is final) and not re-read for `recheckMs`, never-read first, then newest first: the
 * terminal sweep's window and recheck, for refunds the PSP must never have. `skipReviewedFor`:
 * leave out those that already have a review item of this reason, open or resolved (the sweep
 * opens one per refund; the drift report, null, shows every one).
 */
export async function refundsCanceledWithin(db: Queryable, windowMs: number, recheckMs: number | null, limit: number, skipReviewedFor: string | null): Promise<TerminalObject[]> {
  const { rows } = await db.query<TerminalObject>(
    `SELECT r.id, r.merchant_id, r.psp_reference, p.psp_reference AS charge_psp_reference, p.psp, r.status, r.amount, r.currency
       FROM refunds r
       JOIN payments p ON p.id = r.payment_id
       LEFT JOIN reconcile_checks c ON c.object_id = r.id
      WHERE r.status = 'canceled' AND r.updated_at > now() - make_interval(secs => $1::double precision / 1000)
        AND ($2::double precision IS NULL OR c.checked_at IS NULL OR c.checked_at < now() - make_interval(secs => $2::double precision / 1000))
        AND ($4::text IS NULL OR NOT EXISTS (SELECT 1 FROM reviews v WHERE v.object_id = r.id AND v.reason = $4))
      ORDER BY c.checked_at NULLS FIRST, r.updated_at DESC
      LIMIT $3`,
    [windowMs, recheckMs, limit, skipReviewedFor],
  );
  return rows;
}

/** Pending objects for the drift report: both kinds, with what FinCore holds. */
export async function pendingWithAmounts(db: Queryable, kind: 'charge' | 'refund', olderThanMs: number, limit: number): Promise<TerminalObject[]> {
  const sql =
    kind === 'charge'
      ? `SELECT p.id, p.merchant_id, p.psp_reference, NULL AS charge_psp_reference, p.psp, p.status, p.amount, p.currency
           FROM payments p
          WHERE p.status = 'pending' AND p.created_at < now() - make_interval(secs => $1::double precision / 1000)
            AND (p.psp_reference IS NOT NULL OR EXISTS (SELECT 1 FROM jobs j WHERE j.ref = p.id AND j.status = 'done'))
          ORDER BY p.created_at LIMIT $2`
      : `SELECT r.id, r.merchant_id, r.psp_reference, p.psp_reference AS charge_psp_reference, p.psp, r.status, r.amount, r.currency
           FROM refunds r JOIN payments p ON p.id = r.payment_id
          WHERE r.status = 'pending' AND r.created_at < now() - make_interval(secs => $1::double precision / 1000)
            AND (r.psp_reference IS NOT NULL OR EXISTS (SELECT 1 FROM jobs j WHERE j.ref = r.id AND j.status = 'done'))
          ORDER BY r.created_at LIMIT $2`;
  const { rows } = await db.query<TerminalObject>(sql, [olderThanMs, limit]);
  return rows;
}

/** Records that the sweep re-read this object from its PSP now, and what the PSP said. */
export async function recordReconcileCheck(db: Queryable, check: { objectId: string; objectType: 'charge' | 'refund'; pspStatus: string }): Promise<void> {
  await db.query(
    `INSERT INTO reconcile_checks (object_id, object_type, checked_at, psp_status) VALUES ($1, $2, now(), $3)
     ON CONFLICT (object_id) DO UPDATE SET checked_at = EXCLUDED.checked_at, psp_status = EXCLUDED.psp_status`,
    [check.objectId, check.objectType, check.pspStatus],
  );
}
