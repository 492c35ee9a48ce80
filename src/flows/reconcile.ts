/**
 * Reconciliation: FinCore asks the PSP that took each object (payments.psp, the configured default
 * for older charges; flows/context.ts pspOf) what it holds, and applies the answer through the
 * same paths as a webhook (flows/settle.ts: a move, a late move, or a review item).
 *
 * Pending sweep (reconcilePending): charges and refunds left pending past a threshold are settled
 * from the PSP's answer, so a lost webhook never leaves money in limbo. Unknown is not failed: an
 * object the PSP has not decided stays pending. One the PSP has never seen although its job
 * finished (the request was lost at the PSP) is submitted again with the same idempotency key,
 * which cannot move money twice.
 *
 * Terminal sweep (reconcileTerminal): a PSP may change its mind after it settled an object (a card
 * refund reported succeeded, then failed days later), and the webhook saying so may be lost. So
 * the objects that turned succeeded or failed within a recent window
 * (FINCORE_RECONCILE_TERMINAL_WINDOW_MS, default 7 days) are re-read from their PSP, and what
 * changed is applied through settleCharge / settleRefund (late failure, or review), every
 * FINCORE_RECONCILE_TERMINAL_INTERVAL_MS (jobs/reconciler.ts) and at each `fincore reconcile`. Each check is
 * recorded in reconcile_checks (migration 015: object id, when, what the PSP said), and an object
 * is re-read only once its last check is older than FINCORE_RECONCILE_TERMINAL_RECHECK_MS (default
 * 1 day): never-read objects first, then newest first, at most FINCORE_RECONCILE_TERMINAL_BATCH
 * per kind per sweep. So each settled object is read about window / recheck times in its window,
 * not at every sweep, and a backlog drains a batch per sweep. A PSP error records no check: the
 * next sweep asks again. Objects in review are left to the operator.
 *
 * Canceled refunds (same window, recheck and batch): a refund is canceled only before any PSP call
 * (flows/cancel-refund.ts), so its PSP must never hold it. Each one canceled within the window is
 * looked up at its PSP by its FinCore id, as any refund; one the PSP holds after all (whatever its
 * status there) is a contradiction FinCore cannot apply (canceled is final, and the amount was
 * released): settleRefund opens a review item (reason canceled_refund_at_psp) with its
 * review.opened event, a warning and fincore_reviews_opened_total, as for a webhook saying so;
 * a refund that has had one is not read again. One the PSP does not know is the normal case: the
 * check is recorded and nothing else happens.
 *
 * Drift report (reconcileDriftReport, `fincore reconcile --report`): reads the same objects (every
 * one in the window, whatever its last check, and the pending ones older than a threshold whose
 * PSP call was made) and lists where FinCore and the PSP disagree, changing nothing; canceled
 * refunds the PSP holds are `canceled_refund_at_psp`, reviewed or not.
 *
 * Sweeps from several workers are harmless: every move re-checks the row under its lock.
 */
import { newId } from '../domain/ids.ts';
import { CANCELED_AT_PSP } from '../domain/psp-report.ts';
import { appendEvent } from '../db/events.ts';
import { requeueFinishedJobOf } from '../db/jobs.ts';
import { reconciliationActions } from '../metrics.ts';
import { inTransaction } from '../db/pool.ts';
import {
  chargesPendingSince,
  chargesTerminalWithin,
  pendingWithAmounts,
  recordReconcileCheck,
  refundsCanceledWithin,
  refundsPendingSince,
  refundsTerminalWithin,
  type PendingObject,
  type TerminalObject,
} from '../db/reconciliation.ts';
import type { PspGateway, PspLookup, PspOutcome } from '../psp/gateway.ts';
import { pspOf, type FlowContext } from './context.ts';
import { settleCharge, settleRefund, type SettleResult } from './settle.ts';

export interface ReconcileReport {
  checked: number;
  settled: number;
  /** PSP unreachable or erroring for these; the next sweep asks again. */
  errors: number;
  /** Unknown to the PSP although their job had finished: submitted again. */
  resubmitted: number;
}

/** What one terminal sweep did. */
export interface TerminalReconcileReport {
  checked: number;
  /** Moved after settlement on the PSP's word (a refund failed after it succeeded). */
  moved: number;
  /** Put in review: the PSP contradicts FinCore in a way that is not applied by itself. */
  reviews_opened: number;
  /** The PSP has never seen these (logged; nothing changes). */
  unknown_at_psp: number;
  /** PSP unreachable or erroring, or the object's PSP is not configured: asked again next sweep. */
  errors: number;
}

export interface TerminalSweepOptions {
  /** Objects that turned terminal within this long (0: no terminal sweep). */
  windowMs: number;
  /** Re-read an object only when its last check is older than this; null: whatever its last check. */
  recheckMs: number | null;
  /** At most this many charges, and this many refunds, per sweep. */
  batch: number;
}

/** The defaults of FINCORE_RECONCILE_TERMINAL_WINDOW_MS, _RECHECK_MS and _BATCH (src/config.ts). */
export const DEFAULT_TERMINAL_SWEEP = { windowMs: 7 * 86_400_000, recheckMs: 86_400_000, batch: 100 } as const;

/** The configured terminal sweep; `recheckAll`: re-read every object in the window now, whatever its last check. */
export function terminalSweepOf(ctx: Pick<FlowContext, 'reconcileTerminal'>, recheckAll = false): TerminalSweepOptions {
  const settings = ctx.reconcileTerminal ?? DEFAULT_TERMINAL_SWEEP;
  return { windowMs: settings.windowMs, recheckMs: recheckAll ? null : settings.recheckMs, batch: settings.batch };
}

type Kind = 'charge' | 'refund';
type Settle = typeof settleCharge;

const SETTLE: Record<Kind, Settle> = { charge: settleCharge, refund: settleRefund };

/** Asks the object's PSP (the one that took its charge) about it. */
function askPsp(ctx: FlowContext, kind: Kind, object: PendingObject): Promise<PspOutcome | null> {
  const gateway: PspGateway = pspOf(ctx, object.psp);
  const lookup: PspLookup = { reference: object.id, pspReference: object.psp_reference, chargePspReference: object.charge_psp_reference };
  return kind === 'charge' ? gateway.getCharge(lookup) : gateway.getRefund(lookup);
}

/** One reconciliation object per merchant per sweep: its events number 1, 2, 3 without gaps in what that merchant sees. */
function sweepIds(): (merchantId: string) => string {
  const sweeps = new Map<string, string>();
  return (merchantId) => {
    let id = sweeps.get(merchantId);
    if (!id) sweeps.set(merchantId, (id = newId('recon')));
    return id;
  };
}

/** Applies a decided PSP answer in one transaction, with the sweep's own record of a move. */
async function applyAnswer(ctx: FlowContext, kind: Kind, object: PendingObject, decided: PspOutcome, sweepId: string, check?: { pspStatus: string }): Promise<SettleResult> {
  const cause = { type: 'reconciliation' as const, id: sweepId };
  return inTransaction(ctx.pool, async (tx) => {
    const result = await SETTLE[kind](tx, object.id, decided, { cause, log: ctx.log });
    if (result === 'settled' || result === 'settled_late') {
      // The operator's record of the sweep's action, beside the object's own state change.
      await appendEvent(tx, {
        merchantId: object.merchant_id,
        type: 'reconciliation.settled',
        objectType: 'reconciliation',
        objectId: sweepId,
        data: { reconciliation: { id: sweepId, object: 'reconciliation', settled_object_id: object.id, psp_status: decided.status, psp_reference: decided.pspReference || null } },
        cause,
      });
    }
    if (check) await recordReconcileCheck(tx, { objectId: object.id, objectType: kind, pspStatus: check.pspStatus });
    return result;
  });
}

async function reconcileOne(ctx: FlowContext, sweepIdOf: (merchantId: string) => string, kind: Kind, pending: PendingObject): Promise<SettleResult | 'undecided' | 'error' | 'resubmitted'> {
  let outcome: PspOutcome | null;
  const askedAt = new Date();
  try {
    outcome = await askPsp(ctx, kind, pending);
  } catch (error) {
    ctx.log?.warn({ object: kind, id: pending.id, psp: pending.psp, err: error instanceof Error ? error.message : String(error) }, 'reconciliation: the PSP could not be asked; next sweep asks again');
    return 'error';
  }
  if (!outcome) {
    if (!(await requeueFinishedJobOf(ctx.pool, pending.id, askedAt))) return 'undecided';
    ctx.wakeup.jobsCommitted(kind === 'charge' ? 'CHARGE' : 'REFUND');
    return 'resubmitted';
  }
  if (outcome.status === 'pending') return 'undecided';
  return applyAnswer(ctx, kind, pending, outcome, sweepIdOf(pending.merchant_id));
}

/** `pspCalledOnly`: skip objects whose PSP call has not been made yet (see chargesPendingSince). */
export async function reconcilePending(ctx: FlowContext, olderThanMs: number, limit = 200, options: { pspCalledOnly?: boolean } = {}): Promise<ReconcileReport> {
  const report: ReconcileReport = { checked: 0, settled: 0, errors: 0, resubmitted: 0 };
  const sweepIdOf = sweepIds();
  const work: Array<[Kind, PendingObject[]]> = [
    ['charge', await chargesPendingSince(ctx.pool, olderThanMs, limit, options.pspCalledOnly)],
    ['refund', await refundsPendingSince(ctx.pool, olderThanMs, limit, options.pspCalledOnly)],
  ];
  for (const [kind, objects] of work) {
    for (const pending of objects) {
      report.checked++;
      const result = await reconcileOne(ctx, sweepIdOf, kind, pending);
      reconciliationActions.inc({ action: result === 'unknown_object' ? 'ignored' : result });
      if (result === 'settled' || result === 'settled_late') report.settled++;
      if (result === 'error') report.errors++;
      if (result === 'resubmitted') report.resubmitted++;
    }
  }
  return report;
}

/** Re-reads the recently settled objects from their PSPs and applies what changed (module comment). */
export async function reconcileTerminal(ctx: FlowContext, options: TerminalSweepOptions): Promise<TerminalReconcileReport> {
  const report: TerminalReconcileReport = { checked: 0, moved: 0, reviews_opened: 0, unknown_at_psp: 0, errors: 0 };
  if (options.windowMs <= 0) return report;
  const sweepIdOf = sweepIds();
  const work: Array<[Kind, TerminalObject[]]> = [
    ['charge', await chargesTerminalWithin(ctx.pool, options.windowMs, options.recheckMs, options.batch)],
    ['refund', await refundsTerminalWithin(ctx.pool, options.windowMs, options.recheckMs, options.batch)],
    // Canceled refunds: one the PSP does not know is the normal case; one it holds, settleRefund reviews.
    ['refund', await refundsCanceledWithin(ctx.pool, options.windowMs, options.recheckMs, options.batch, CANCELED_AT_PSP)],
  ];
  for (const [kind, objects] of work) {
    for (const object of objects) {
      report.checked++;
      let outcome: PspOutcome | null;
      try {
        outcome = await askPsp(ctx, kind, object);
      } catch (error) {
        report.errors++;
        reconciliationActions.inc({ action: 'error' });
        ctx.log?.warn({ object: kind, id: object.id, psp: object.psp, err: error instanceof Error ? error.message : String(error) }, 'terminal reconciliation: the PSP could not be asked; next sweep asks again');
        continue;
      }
      if (!outcome) {
        // Unknown at the PSP is consistent for a failure it refused outright (no PSP reference) and
        // for a canceled refund (driftOf); anything else FinCore holds, the PSP should know.
        if (driftOf(object, null) !== null) {
          report.unknown_at_psp++;
          ctx.log?.warn({ object: kind, id: object.id, status: object.status, psp: object.psp }, `terminal reconciliation: the PSP does not know ${kind} ${object.id}, which FinCore holds as ${object.status}`);
        }
        await recordReconcileCheck(ctx.pool, { objectId: object.id, objectType: kind, pspStatus: 'unknown' });
        continue;
      }
      const result = await applyAnswer(ctx, kind, object, outcome, sweepIdOf(object.merchant_id), { pspStatus: outcome.status });
      reconciliationActions.inc({ action: result === 'unknown_object' ? 'ignored' : result });
      if (result === 'settled' || result === 'settled_late') report.moved++;
      if (result === 'review_opened') report.reviews_opened++;
    }
  }
  return report;
}

/** What FinCore and the PSP hold of one object, when they disagree. */
export interface DriftItem {
  object: Kind;
  id: string;
  /** The PSP asked (the one that took the charge). */
  psp: string;
  fincore: { status: string; amount: number; currency: string };
  /** null: the PSP has never seen it (or could not be asked: see psp_errors). */
  at_psp: { status: string; amount: number | null; currency: string | null; psp_reference: string | null } | null;
  /** For psp_errors: why the PSP could not be asked. */
  error?: string;
}

export const DRIFT_KINDS = ['status_differs', 'amount_or_currency_differs', 'unknown_at_psp', 'canceled_refund_at_psp'] as const;
export type DriftKind = (typeof DRIFT_KINDS)[number];

export interface DriftReport {
  /** Objects compared, per kind. */
  checked: { charges: number; refunds: number };
  drift: Record<DriftKind, DriftItem[]>;
  /** Objects the PSP could not be asked about (unreachable, or their PSP is not configured). */
  psp_errors: DriftItem[];
  /** True when any drift or PSP error was found (`fincore reconcile --report` exits 1). */
  has_drift: boolean;
}

/** How an object FinCore holds compares with the PSP's answer; null: they agree. */
function driftOf(object: TerminalObject, outcome: PspOutcome | null): DriftKind | null {
  // A canceled refund agrees with a PSP that never heard of it, and with nothing else.
  if (object.status === 'canceled') return outcome ? 'canceled_refund_at_psp' : null;
  if (!outcome) return object.status === 'failed' && object.psp_reference === null ? null : 'unknown_at_psp';
  if ((outcome.currency != null && outcome.currency.toLowerCase() !== object.currency) || (outcome.amount != null && outcome.amount !== object.amount)) return 'amount_or_currency_differs';
  return outcome.status === object.status ? null : 'status_differs';
}

/**
 * The drift between FinCore and its PSPs, changing nothing: every charge and refund that turned
 * terminal within `windowMs`, and those pending longer than `olderThanMs` whose PSP call was made
 * (at most `limit` of each kind and state).
 */
export async function reconcileDriftReport(ctx: FlowContext, options: { windowMs: number; olderThanMs: number; limit: number }): Promise<DriftReport> {
  const report: DriftReport = { checked: { charges: 0, refunds: 0 }, drift: { status_differs: [], amount_or_currency_differs: [], unknown_at_psp: [], canceled_refund_at_psp: [] }, psp_errors: [], has_drift: false };
  const work: Array<[Kind, TerminalObject[]]> = [
    ['charge', [...(options.windowMs > 0 ? await chargesTerminalWithin(ctx.pool, options.windowMs, null, options.limit) : []), ...(await pendingWithAmounts(ctx.pool, 'charge', options.olderThanMs, options.limit))]],
    [
      'refund',
      [
        ...(options.windowMs > 0 ? await refundsTerminalWithin(ctx.pool, options.windowMs, null, options.limit) : []),
        ...(await pendingWithAmounts(ctx.pool, 'refund', options.olderThanMs, options.limit)),
        ...(options.windowMs > 0 ? await refundsCanceledWithin(ctx.pool, options.windowMs, null, options.limit, null) : []),
      ],
    ],
  ];
  for (const [kind, objects] of work) {
    for (const object of objects) {
      report.checked[kind === 'charge' ? 'charges' : 'refunds']++;
      const item = (atPsp: PspOutcome | null): DriftItem => ({
        object: kind,
        id: object.id,
        psp: object.psp ?? ctx.psp.name,
        fincore: { status: object.status, amount: object.amount, currency: object.currency },
        at_psp: atPsp ? { status: atPsp.status, amount: atPsp.amount ?? null, currency: atPsp.currency ?? null, psp_reference: atPsp.pspReference || null } : null,
      });
      let outcome: PspOutcome | null;
      try {
        outcome = await askPsp(ctx, kind, object);
      } catch (error) {
        report.psp_errors.push({ ...item(null), error: error instanceof Error ? error.message : String(error) });
        continue;
      }
      const drift = driftOf(object, outcome);
      if (drift) report.drift[drift].push(item(outcome));
    }
  }
  report.has_drift = report.psp_errors.length > 0 || DRIFT_KINDS.some((kind) => report.drift[kind].length > 0);
  return report;
}
