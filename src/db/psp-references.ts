/** The references the PSP gave our charges and refunds, recorded from its answers to the worker. */
import type { Queryable } from './pool.ts';

/** A charge's or refund's reference at the PSP. */
export interface PspReferenceOf {
  id: string;
  pspReference: string;
}

/**
 * Many charges' or refunds' PSP references in one statement (the worker's pending answers,
 * grouped). A reference once recorded never changes. The table name comes from this closed set.
 */
export async function recordPspReferences(db: Queryable, table: 'payments' | 'refunds', references: readonly PspReferenceOf[]): Promise<void> {
  await db.query(
    `UPDATE ${table} AS target SET psp_reference = given.psp_reference
       FROM unnest($1::text[], $2::text[]) AS given (id, psp_reference)
      WHERE target.id = ANY($1::text[]) AND target.id = given.id AND target.psp_reference IS NULL`,
    [references.map((r) => r.id), references.map((r) => r.pspReference)],
  );
}
