/**
 * A pending PSP answer's reference, recorded: the row and its `*.updated` event in one
 * transaction. For one job or for a group of jobs (the worker's grouped writer): either way the
 * same statements, one transaction per call.
 */
import { inTransaction } from '../db/pool.ts';
import { recordPspReferences, type PspReferenceOf } from '../db/psp-references.ts';
import type pg from 'pg';
import { matchParkedEvents } from './parked-events.ts';

export type { PspReferenceOf } from '../db/psp-references.ts';

export function recordPendingPspReferences(pool: pg.Pool, table: 'payments' | 'refunds', references: readonly PspReferenceOf[]): Promise<string[]> {
  return inTransaction(pool, async (tx) => {
    const recorded = await recordPspReferences(tx, table, references);
    // Events that arrived before FinCore knew these PSP ids wait no longer than this commit.
    if (recorded.length > 0) await matchParkedEvents({ log: undefined }, tx, references.map((r) => r.pspReference));
    return recorded;
  });
}
