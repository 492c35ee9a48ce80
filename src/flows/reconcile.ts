/**
 * Reconciliation: charges and refunds left pending past a threshold are asked about at the PSP
 * and settled from its answer, so a lost webhook never leaves money in limbo. Unknown is not
 * failed: an object the PSP has not decided stays pending. One the PSP has never seen although
 * its job finished (the request was lost at the PSP) is submitted again with the same
 * idempotency key, which cannot move money twice. Sweeps from several workers are harmless.
 */
import { newId } from '../domain/ids.ts';
import { appendEvent } from '../db/events.ts';
import { requeueFinishedJobOf } from '../db/jobs.ts';
import { reconciliationActions } from '../metrics.ts';
import { inTransaction } from '../db/pool.ts';
import { chargesPendingSince, refundsPendingSince, type PendingObject } from '../db/reconciliation.ts';
import type { PspLookup, PspOutcome } from '../psp/gateway.ts';
import type { FlowContext } from './context.ts';
import { settleCharge, settleRefund, type SettleResult } from './settle.ts';

export interface ReconcileReport {
  checked: number;
  settled: number;
  /** PSP unreachable or erroring for these; the next sweep asks again. */
  errors: number;
  /** Unknown to the PSP although their job had finished: submitted again. */
  resubmitted: number;
}

type Settle = typeof settleCharge;

async function reconcileOne(ctx: FlowContext, sweepIdOf: (merchantId: string) => string, pending: PendingObject, ask: (lookup: PspLookup) => Promise<PspOutcome | null>, settle: Settle): Promise<SettleResult | 'undecided' | 'error' | 'resubmitted'> {
  const id = pending.id;
  let outcome: PspOutcome | null;
  const askedAt = new Date();
  try {
    outcome = await ask({ reference: id, pspReference: pending.psp_reference, chargePspReference: pending.charge_psp_reference });
  } catch {
    return 'error';
  }
  if (!outcome) {
    if (!(await requeueFinishedJobOf(ctx.pool, id, askedAt))) return 'undecided';
    ctx.wakeup.jobsCommitted();
    return 'resubmitted';
  }
  if (outcome.status === 'pending') return 'undecided';
  const decided = outcome;
  const sweepId = sweepIdOf(pending.merchant_id);
  const cause = { type: 'reconciliation' as const, id: sweepId };
  return inTransaction(ctx.pool, async (tx) => {
    const result = await settle(tx, id, decided, { cause, log: ctx.log });
    if (result === 'settled') {
      // The operator's record of the sweep's action, beside the object's own state change.
      await appendEvent(tx, {
        merchantId: pending.merchant_id,
        type: 'reconciliation.settled',
        objectType: 'reconciliation',
        objectId: sweepId,
        data: { reconciliation: { id: sweepId, object: 'reconciliation', settled_object_id: id, psp_status: decided.status, psp_reference: decided.pspReference || null } },
        cause,
      });
    }
    return result;
  });
}

/** `pspCalledOnly`: skip objects whose PSP call has not been made yet (see chargesPendingSince). */
export async function reconcilePending(ctx: FlowContext, olderThanMs: number, limit = 200, options: { pspCalledOnly?: boolean } = {}): Promise<ReconcileReport> {
  const report: ReconcileReport = { checked: 0, settled: 0, errors: 0, resubmitted: 0 };
  // One reconciliation object per merchant per sweep: its events number 1, 2, 3 without gaps
  // in what that merchant sees.
  const sweeps = new Map<string, string>();
  const sweepIdOf = (merchantId: string): string => {
    let id = sweeps.get(merchantId);
    if (!id) sweeps.set(merchantId, (id = newId('recon')));
    return id;
  };
  const work: Array<[PendingObject[], (lookup: PspLookup) => Promise<PspOutcome | null>, Settle]> = [
    [await chargesPendingSince(ctx.pool, olderThanMs, limit, options.pspCalledOnly), (lookup) => ctx.psp.getCharge(lookup), settleCharge],
    [await refundsPendingSince(ctx.pool, olderThanMs, limit, options.pspCalledOnly), (lookup) => ctx.psp.getRefund(lookup), settleRefund],
  ];
  for (const [objects, ask, settle] of work) {
    for (const pending of objects) {
      report.checked++;
      const result = await reconcileOne(ctx, sweepIdOf, pending, ask, settle);
      reconciliationActions.inc({ action: result === 'unknown_object' ? 'ignored' : result });
      if (result === 'settled') report.settled++;
      if (result === 'error') report.errors++;
      if (result === 'resubmitted') report.resubmitted++;
    }
  }
  return report;
}
