/**
 * Reconciliation: charges and refunds left pending past a threshold are asked about at the PSP
 * and settled from its answer, so a lost webhook never leaves money in limbo. Unknown is not
 * failed: an object the PSP has not decided, or has never seen (its job may still be retrying),
 * stays pending. Settling is idempotent, so sweeps from several workers are harmless.
 */
import { inTransaction } from '../db/pool.ts';
import { chargesPendingSince, refundsPendingSince } from '../db/reconciliation.ts';
import type { PspOutcome } from '../psp/gateway.ts';
import type { FlowContext } from './context.ts';
import { settleCharge, settleRefund, type SettleResult } from './settle.ts';

export interface ReconcileReport {
  checked: number;
  settled: number;
  /** PSP unreachable or erroring for these; the next sweep asks again. */
  errors: number;
}

type Settle = typeof settleCharge;

async function reconcileOne(ctx: FlowContext, id: string, ask: (id: string) => Promise<PspOutcome | null>, settle: Settle): Promise<SettleResult | 'undecided' | 'error'> {
  let outcome: PspOutcome | null;
  try {
    outcome = await ask(id);
  } catch {
    return 'error';
  }
  if (!outcome || outcome.status === 'pending') return 'undecided';
  const decided = outcome;
  return inTransaction(ctx.pool, (tx) => settle(tx, id, decided, { type: 'reconciliation', id: `sweep_${Date.now()}` }));
}

export async function reconcilePending(ctx: FlowContext, olderThanMs: number, limit = 200): Promise<ReconcileReport> {
  const report: ReconcileReport = { checked: 0, settled: 0, errors: 0 };
  const work: Array<[string[], (id: string) => Promise<PspOutcome | null>, Settle]> = [
    [await chargesPendingSince(ctx.pool, olderThanMs, limit), (id) => ctx.psp.getCharge(id), settleCharge],
    [await refundsPendingSince(ctx.pool, olderThanMs, limit), (id) => ctx.psp.getRefund(id), settleRefund],
  ];
  for (const [ids, ask, settle] of work) {
    for (const id of ids) {
      report.checked++;
      const result = await reconcileOne(ctx, id, ask, settle);
      if (result === 'settled') report.settled++;
      if (result === 'error') report.errors++;
    }
  }
  return report;
}
