/**
 * The one way a PSP reference is recorded on its own (a pending answer to the worker): each row
 * gets its reference and its `charge.updated` / `refund.updated` event, in the caller's
 * transaction. A settlement that carries the reference writes it in its own UPDATE, covered by
 * its own event (db/settlements.ts).
 */
import { newId } from '../domain/ids.ts';
import { chargeObject, refundObject, type ChargeRecord, type RefundRecord } from '../domain/objects.ts';
import type { Cause } from './events.ts';
import type { Queryable } from './pool.ts';

/** A charge's or refund's reference at the PSP, and what told us (the job). */
export interface PspReferenceOf {
  id: string;
  pspReference: string;
  cause: Cause;
}

/** Per table: the event and the object snapshot it carries (a charge without refunds, as its settle events). */
const RECORDED = {
  payments: { objectType: 'charge', type: 'charge.updated', snapshot: (row: ChargeRecord & RefundRecord) => chargeObject(row, []) },
  refunds: { objectType: 'refund', type: 'refund.updated', snapshot: (row: ChargeRecord & RefundRecord) => refundObject(row) },
} as const;

/**
 * Many objects' PSP references (one job's, or a group's) with an event each: two statements, to
 * run inside ONE transaction (the caller's). A reference once recorded never changes: an object
 * that has one already (its webhook settled it first) is left alone and gets no event.
 * Returns the ids whose reference was recorded. The table name comes from this closed set.
 */
export async function recordPspReferences(tx: Queryable, table: 'payments' | 'refunds', references: readonly PspReferenceOf[]): Promise<string[]> {
  if (references.length === 0) return [];
  const { rows } = await tx.query<ChargeRecord & RefundRecord>(
    `UPDATE ${table} AS target SET psp_reference = given.psp_reference, updated_at = now()
       FROM unnest($1::text[], $2::text[]) AS given (id, psp_reference)
      WHERE target.id = ANY($1::text[]) AND target.id = given.id AND target.psp_reference IS NULL
      RETURNING target.*`,
    [references.map((r) => r.id), references.map((r) => r.pspReference)],
  );
  if (rows.length === 0) return [];
  const recorded = RECORDED[table];
  const causes = new Map(references.map((r) => [r.id, r.cause]));
  const causeOf = (id: string) => causes.get(id) as Cause;
  // One multi-row INSERT for the group's events; ids made here keep FinCore's time-sortable ids.
  await tx.query(
    `INSERT INTO events (id, merchant_id, type, object_type, object_id, data, cause_type, cause_id, cause_idempotency_key)
     SELECT e.id, e.merchant_id, $3, $4, e.object_id, e.data::jsonb, e.cause_type, e.cause_id, NULL
       FROM unnest($1::text[], $2::text[], $5::text[], $6::text[], $7::text[], $8::text[])
            AS e (id, merchant_id, object_id, data, cause_type, cause_id)`,
    [
      rows.map(() => newId('evt')),
      rows.map((row) => row.merchant_id),
      recorded.type,
      recorded.objectType,
      rows.map((row) => row.id),
      rows.map((row) => JSON.stringify({ [recorded.objectType]: recorded.snapshot(row), previous_attributes: { psp_reference: null } })),
      rows.map((row) => causeOf(row.id).type),
      rows.map((row) => causeOf(row.id).id),
    ],
  );
  return rows.map((row) => row.id);
}
