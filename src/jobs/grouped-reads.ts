/**
 * The worker's first batching layer: reads by id that many concurrent jobs make, done many per
 * statement. The ids asked for in one turn of the event loop go in one `id = ANY(...)` query; the
 * worker starts a claimed batch's jobs in one turn, so their first reads are one round trip
 * instead of one each. Measured: +14-21% jobs/s draining a backlog (bench/README.md, "Worker
 * batching"). Other transports (SQS) read one job at a time (context.ts: jobReaders).
 */
import type pg from 'pg';
import { findCharges } from '../db/charges.ts';
import { findRefundsWithChargePspReference } from '../db/refunds.ts';
import type { FlowContext } from '../flows/context.ts';

export class GroupedReads<V> {
  private waiting = new Map<string, { resolve: (value: V | undefined) => void; reject: (error: unknown) => void }[]>();
  private scheduled = false;

  constructor(private readonly readGroup: (ids: string[]) => Promise<Map<string, V>>) {}

  read(id: string): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      const callers = this.waiting.get(id);
      if (callers) callers.push({ resolve, reject });
      else this.waiting.set(id, [{ resolve, reject }]);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.readWaiting());
      }
    });
  }

  private async readWaiting(): Promise<void> {
    const group = this.waiting;
    this.waiting = new Map();
    this.scheduled = false;
    try {
      const found = await this.readGroup([...group.keys()]);
      for (const [id, callers] of group) for (const caller of callers) caller.resolve(found.get(id));
    } catch (error) {
      for (const callers of group.values()) for (const caller of callers) caller.reject(error);
    }
  }
}

/** What CHARGE and REFUND jobs read first, grouped per turn of the event loop. */
export function groupedJobReads(pool: pg.Pool): FlowContext['jobReads'] {
  return {
    charges: new GroupedReads((ids) => findCharges(pool, ids)),
    refunds: new GroupedReads((ids) => findRefundsWithChargePspReference(pool, ids)),
  };
}
