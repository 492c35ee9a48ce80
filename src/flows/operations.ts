/**
 * The operator's maintenance actions, as the CLI runs them against its own database and the
 * admin API runs them inside a running FinCore (which holds an embedded data dir alone).
 */
import { verifyAuditTrail, type VerifyReport } from './audit-verify.ts';
import type { Queryable } from '../db/pool.ts';
import { pingDatabase } from '../db/health.ts';
import type { FlowContext } from './context.ts';
import { reconcilePending, type ReconcileReport } from './reconcile.ts';

export type ReconciliationReport = { object: 'reconciliation_report'; older_than_ms: number } & ReconcileReport;
export type AuditVerification = { object: 'audit_verification' } & VerifyReport;

/** One reconciliation sweep now over objects pending longer than olderThanMs (0: all). */
export async function reconcileNow(ctx: FlowContext, olderThanMs: number): Promise<ReconciliationReport> {
  const report = await reconcilePending(ctx, olderThanMs);
  return { object: 'reconciliation_report', older_than_ms: olderThanMs, ...report };
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
