/**
 * SQL for disputes (chargebacks). Written by flows/disputes.ts only, inside the transaction that
 * holds the charge's row lock: the refund write (create_refund_if_unchanged) takes the same lock
 * and re-checks the dispute facts, so a refund and a dispute of one charge never cross.
 */
import type { EventType } from '../domain/events.ts';
import type { Posting } from '../domain/ledger.ts';
import type { DisputeRecord } from '../domain/objects.ts';
import type { Cause } from './events.ts';
import type { Queryable } from './pool.ts';

/** The dispute the PSP knows by `pspReference`, locked FOR UPDATE (the caller holds its charge's lock). */
export async function lockDisputeByPspReference(db: Queryable, pspReference: string): Promise<DisputeRecord | undefined> {
  const { rows } = await db.query<DisputeRecord>('SELECT * FROM disputes WHERE psp_reference = $1 FOR UPDATE', [pspReference]);
  return rows[0];
}

/** A charge's disputes, oldest first (GET /v1/charges/{id}). */
export async function disputesOfCharge(db: Queryable, chargeId: string): Promise<DisputeRecord[]> {
  const { rows } = await db.query<DisputeRecord>('SELECT * FROM disputes WHERE charge_id = $1 ORDER BY id', [chargeId]);
  return rows;
}

export type DisputeFields = Pick<DisputeRecord, 'id' | 'charge_id' | 'merchant_id' | 'psp_reference' | 'amount' | 'currency' | 'status' | 'psp_status' | 'reason'>;

/** The new dispute row as stored (its created_at / updated_at are the transaction's now()). */
export async function insertDispute(db: Queryable, dispute: DisputeFields): Promise<DisputeRecord> {
  const { rows } = await db.query<DisputeRecord>(
    `INSERT INTO disputes (id, charge_id, merchant_id, psp_reference, amount, currency, status, psp_status, reason)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     RETURNING *`,
    [dispute.id, dispute.charge_id, dispute.merchant_id, dispute.psp_reference, dispute.amount, dispute.currency, dispute.status, dispute.psp_status, dispute.reason],
  );
  const row = rows[0];
  if (!row) throw new Error(`dispute ${dispute.psp_reference} was not inserted`);
  return row;
}

/** The dispute as the update leaves it. */
export async function updateDispute(db: Queryable, id: string, change: Pick<DisputeRecord, 'status' | 'psp_status' | 'reason' | 'amount'>): Promise<DisputeRecord> {
  const { rows } = await db.query<DisputeRecord>(
    `UPDATE disputes SET status = $2, psp_status = $3, reason = $4, amount = $5, updated_at = now() WHERE id = $1 RETURNING *`,
    [id, change.status, change.psp_status, change.reason, change.amount],
  );
  const row = rows[0];
  if (!row) throw new Error(`dispute ${id} vanished under its lock`);
  return row;
}

export interface DisputeEvent {
  id: string;
  type: EventType;
  data: unknown;
}

/**
 * A dispute's event (object_type 'dispute', so its sequence counts the dispute's changes) and,
 * for a loss, its journal entry on the charge, in one statement.
 */
export async function recordDisputeEvent(
  db: Queryable,
  dispute: Pick<DisputeRecord, 'id' | 'merchant_id' | 'charge_id' | 'currency'>,
  event: DisputeEvent,
  cause: Cause,
  journal: { movement: 'dispute_lost'; postings: readonly Posting[] } | undefined,
): Promise<void> {
  const postings = journal?.postings ?? [];
  const { rows } = await db.query<{ recorded: number; posted: number }>(
    `WITH recorded AS (
       INSERT INTO events (id, merchant_id, type, object_type, object_id, data, cause_type, cause_id, cause_idempotency_key)
       VALUES ($1, $2, $3, 'dispute', $4, $5, $6, $7, $8)
       RETURNING id),
     posted AS (
       INSERT INTO ledger_entries (event_id, merchant_id, movement, account, currency, amount, charge_id, refund_id)
       SELECT recorded.id, $2, $9, posting.account, $10, posting.amount, $11, NULL
         FROM recorded, unnest($12::text[], $13::bigint[]) AS posting (account, amount)
       RETURNING 1)
     SELECT (SELECT count(*) FROM recorded)::int AS recorded, (SELECT count(*) FROM posted)::int AS posted`,
    [
      event.id, dispute.merchant_id, event.type, dispute.id, JSON.stringify(event.data), cause.type, cause.id, cause.idempotencyKey ?? null,
      journal?.movement ?? null, dispute.currency, dispute.charge_id,
      postings.map((p) => p.account), postings.map((p) => p.amount),
    ],
  );
  const row = rows[0];
  if (row?.recorded !== 1 || row.posted !== postings.length) throw new Error(`dispute ${dispute.id} event ${event.type} wrote ${JSON.stringify(row)}`);
}
