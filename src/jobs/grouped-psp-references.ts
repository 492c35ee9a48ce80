/**
 * The worker's second batching layer: the PSP references of pending answers, recorded for all
 * the jobs that got their answer while the previous group was being written, in ONE transaction
 * with an event per object (flows/record-psp-references.ts), instead of a transaction each.
 * Measured: 2.3x jobs/s draining a backlog (bench/README.md, "Worker batching"). Other
 * transports (SQS) record one job's at a time (context.ts: pspReferenceWriters).
 */
import type pg from 'pg';
import type { PspReferenceOf } from '../db/psp-references.ts';
import type { FlowContext } from '../flows/context.ts';
import { recordPendingPspReferences } from '../flows/record-psp-references.ts';
import { GroupedWrites } from './grouped-writes.ts';

export function groupedPspReferences(pool: pg.Pool): FlowContext['pspReferences'] {
  const grouped = (table: 'payments' | 'refunds') => {
    const writes = new GroupedWrites<PspReferenceOf>(async (references) => void (await recordPendingPspReferences(pool, table, references)));
    return { record: (reference: PspReferenceOf) => writes.add(reference) };
  };
  return { charges: grouped('payments'), refunds: grouped('refunds') };
}
