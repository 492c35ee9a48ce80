/**
 * A pending PSP answer's reference, recorded: the row and its `*.updated` event in one
 * transaction. For one job or for a group of jobs (the worker's grouped writer): either way the
 * same statements, one transaction per call.
 */
import { inTransaction } from '../db/pool.ts';
import { recordPspReferences, type PspReferenceOf } from '../db/psp-references.ts';
import type pg from 'pg';

export type { PspReferenceOf } from '../db/psp-references.ts';

export function recordPendingPspReferences(pool: pg.Pool, table: 'payments' | 'refunds', references: readonly PspReferenceOf[]): Promise<string[]> {
  return inTransaction(pool, (tx) => recordPspReferences(tx, table, references));
}
