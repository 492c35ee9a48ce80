/**
 * Disputes (chargebacks) reported by the PSP. BRANCH PLACEHOLDER until the disputes work lands:
 * a dispute event is parked (kept and acknowledged), never dropped.
 */
import type { Queryable } from '../db/pool.ts';
import type { PspDisputeReport } from '../psp/gateway.ts';
import type { FlowContext } from './context.ts';

export async function applyDisputeReport(
  _ctx: Pick<FlowContext, 'log'>,
  _tx: Queryable,
  _event: PspDisputeReport & { eventId: string },
  _origin: unknown,
): Promise<'parked' | 'dispute_recorded'> {
  return 'parked';
}
