/**
 * The operator's maintenance actions, as the CLI runs them against its own database and the
 * admin API runs them inside a running FinCore (which holds an embedded data dir alone).
 */
import { verifyAuditTrail, type VerifyReport } from './audit-verify.ts';
import type { Queryable } from '../db/pool.ts';
import { pingDatabase } from '../db/health.ts';
import type { FlowContext } from './context.ts';
import { reconcileDriftReport, reconcilePending, reconcileTerminal, terminalSweepOf, type DriftReport, type ReconcileReport, type TerminalReconcileReport } from './reconcile.ts';

export type ReconciliationReport = { object: 'reconciliation_report'; older_than_ms: number; terminal: TerminalReconcileReport & { window_ms: number } } & ReconcileReport;
export type ReconciliationDrift = { object: 'reconciliation_drift'; older_than_ms: number; window_ms: number } & DriftReport;
export type AuditVerification = { object: 'audit_verification' } & VerifyReport;

/**
 * One reconciliation sweep now: objects pending longer than olderThanMs (0: all), then the
 * terminal sweep (recheckAll: every object settled within the window, whatever its last check).
 */
export async function reconcileNow(ctx: FlowContext, olderThanMs: number, options: { recheckAll?: boolean } = {}): Promise<ReconciliationReport> {
  const report = await reconcilePending(ctx, olderThanMs);
  const sweep = terminalSweepOf(ctx, options.recheckAll);
  const terminal = await reconcileTerminal(ctx, sweep);
  return { object: 'reconciliation_report', older_than_ms: olderThanMs, ...report, terminal: { window_ms: sweep.windowMs, ...terminal } };
}

/** The drift between FinCore and its PSPs, read-only (`fincore reconcile --report`). */
export async function reconciliationDrift(ctx: FlowContext, olderThanMs: number, limit = 1000): Promise<ReconciliationDrift> {
  const windowMs = terminalSweepOf(ctx).windowMs;
  const report = await reconcileDriftReport(ctx, { windowMs, olderThanMs, limit });
  return { object: 'reconciliation_drift', older_than_ms: olderThanMs, window_ms: windowMs, ...report };
}

/** Recompute every hash chain and check the ledger (read-only). */
export async function verifyAudit(ctx: Pick<FlowContext, 'pool'>): Promise<AuditVerification> {
  return { object: 'audit_verification', ...(await verifyAuditTrail(ctx.pool)) };
}

/** GET /readyz: whether the database answers. */
export async function databaseReachable(db: Queryable): Promise<boolean> {
  try {
    await pingDatabase(db);
    return true;
  } catch {
    return false;
  }
}
