/** The operator's reads and actions (admin key): across merchants, for the dashboard. */
import { attemptObject, type AttemptObject } from '../domain/attempts.ts';
import { attemptsOfObjects } from '../db/attempts.ts';
import { withPspProgress } from '../domain/objects.ts';
import { pspProgressOf } from './attempts.ts';
import { ParameterInvalid, ResourceMissing } from '../domain/errors.ts';
import { chargeObject, EMBEDDED_REFUNDS, eventObject, refundList, refundObject, type ChargeObject, type EventObject, type RefundObject } from '../domain/objects.ts';
import { refundableAmount } from '../domain/refund.ts';
import { disputesOfCharge } from '../db/disputes.ts';
import { adminListCharges, adminListRefunds, findCharge, listEndpointsWithDeliveries, listMerchants, overview, totals, type AdminFilter, type Overview, type Totals } from '../db/admin.ts';
import { refundsOfCharges } from '../db/charges.ts';
import { findMerchantById } from '../db/merchants.ts';
import { eventsOfObjects } from '../db/events.ts';
import { findJob, listDeadJobs, requeueDeadJob, type JobRecord } from '../db/jobs.ts';
import { ledgerEntriesOfCharge, type LedgerEntryRow } from '../db/ledger.ts';
import type { Queryable } from '../db/pool.ts';
import type { FlowContext } from './context.ts';
import type { ListPage } from './queries.ts';

/** GET /v1/admin/overview: money by currency, statuses, queue, audit backlog, across merchants. */
export async function adminOverview(db: Queryable): Promise<{ object: 'overview' } & Overview> {
  return { object: 'overview', ...(await overview(db)) };
}

/** GET /v1/admin/stats: cumulative totals and the settle latency over the last `windowSeconds`. */
export function adminTotals(db: Queryable, windowSeconds: number): Promise<Totals> {
  return totals(db, windowSeconds);
}

/** GET /v1/admin/merchants: every merchant, newest first (one page: an operator has few). */
export async function adminMerchantsList(db: Queryable): Promise<ListPage<{ id: string; object: 'merchant'; name: string; created_at: string }>> {
  const merchants = await listMerchants(db);
  return { object: 'list', has_more: false, data: merchants.map((m) => ({ id: m.id, object: 'merchant', name: m.name, created_at: m.created_at.toISOString() })) };
}

function page<R, T>(rows: R[], limit: number, toObject: (row: R) => T): ListPage<T> {
  return { object: 'list', data: rows.slice(0, limit).map(toObject), has_more: rows.length > limit };
}

export async function adminChargesPage(db: Queryable, filter: AdminFilter, limit: number, startingAfter?: string): Promise<ListPage<ChargeObject & { merchant_id: string }>> {
  const charges = await adminListCharges(db, filter, limit, startingAfter);
  const refunds = await refundsOfCharges(db, charges.slice(0, limit).map((c) => c.id), EMBEDDED_REFUNDS);
  return page(charges, limit, (charge) => ({ ...chargeObject(charge, refunds.amounts.get(charge.id) ?? [], refunds.first.get(charge.id) ?? []), merchant_id: charge.merchant_id }));
}

export async function adminRefundsPage(db: Queryable, filter: AdminFilter, limit: number, startingAfter?: string): Promise<ListPage<RefundObject & { merchant_id: string }>> {
  const rows = await adminListRefunds(db, filter, limit, startingAfter);
  return page(rows, limit, (refund) => ({ ...refundObject(refund), merchant_id: refund.merchant_id }));
}

/** Refunds the operator's charge page shows; the ledger and the timeline follow them. */
export const DETAIL_REFUNDS = 100;

export interface ChargeDetail {
  object: 'charge_detail';
  merchant_id: string;
  /** What the operator knows the merchant by. */
  merchant_name: string;
  /** `refunds`: its oldest DETAIL_REFUNDS refunds as a list object (has_more: there are others). */
  charge: ChargeObject;
  refundable_amount: number;
  /** Postings of the charge and of the refunds shown (whole movements only). */
  ledger: (Omit<LedgerEntryRow, 'created_at'> & { created_at: string })[];
  /** The charge's and its shown refunds' events, oldest first. */
  events: EventObject[];
  /** The PSP calls made for the charge and its shown refunds, newest first (flows/attempts.ts). */
  attempts: AttemptObject[];
}

/**
 * Bounded whatever the charge: one charge with 4,000 refunds made this page 10.9 MB when it
 * listed them all. amount_refunded and refundable_amount still count every refund.
 */
/** `reconcileAfterMs`: FINCORE_RECONCILE_AFTER_MS (FlowContext.reconcileAfterMs), which next_check_at promises. */
export async function adminChargeDetail(db: Queryable, chargeId: string, reconcileAfterMs: number): Promise<ChargeDetail> {
  const charge = await findCharge(db, chargeId);
  if (!charge) throw new ResourceMissing(`No such charge: '${chargeId}'`, 'id');
  const { amounts, first } = await refundsOfCharges(db, [charge.id], DETAIL_REFUNDS);
  const refundAmounts = amounts.get(charge.id) ?? [];
  const refunds = first.get(charge.id) ?? [];
  const shownRefundIds = refunds.slice(0, DETAIL_REFUNDS).map((r) => r.id);
  const ledger = await ledgerEntriesOfCharge(db, charge.id, shownRefundIds);
  const events = await eventsOfObjects(db, [charge.id, ...shownRefundIds]);
  const disputes = await disputesOfCharge(db, charge.id);
  const detailCharge = { ...chargeObject(charge, refundAmounts, undefined, disputes), refunds: refundList(charge.id, refunds, DETAIL_REFUNDS) };
  // What FinCore knows about each PSP call: psp_status on the charge and its refunds, and the history.
  const progress = await pspProgressOf(db, [detailCharge, ...detailCharge.refunds.data], reconcileAfterMs);
  const shownCharge = { ...withPspProgress(detailCharge, progress.get(charge.id)), refunds: { ...detailCharge.refunds, data: detailCharge.refunds.data.map((r) => withPspProgress(r, progress.get(r.id))) } };
  const attempts = (await attemptsOfObjects(db, [charge.id, ...shownRefundIds])).map(attemptObject);
  return {
    object: 'charge_detail',
    merchant_id: charge.merchant_id,
    merchant_name: (await findMerchantById(db, charge.merchant_id))?.name ?? charge.merchant_id,
    charge: shownCharge,
    refundable_amount: charge.status === 'succeeded' ? refundableAmount(charge, refundAmounts, disputes) : 0,
    ledger: ledger.map((entry) => ({ ...entry, created_at: entry.created_at.toISOString() })),
    events: events.map(eventObject),
    attempts,
  };
}

export interface JobObject {
  id: string;
  object: 'job';
  job_type: string;
  ref: string;
  status: string;
  attempts: number;
  max_attempts: number;
  last_error: string | null;
  run_at: string;
  created_at: string;
  updated_at: string;
}

export function jobObject(job: JobRecord): JobObject {
  return {
    id: job.id,
    object: 'job',
    job_type: job.job_type,
    ref: job.ref,
    status: job.status,
    attempts: job.attempts,
    max_attempts: job.max_attempts,
    last_error: job.last_error,
    run_at: job.run_at.toISOString(),
    created_at: job.created_at.toISOString(),
    updated_at: job.updated_at.toISOString(),
  };
}

export async function adminDeadJobs(db: Queryable, limit: number): Promise<ListPage<JobObject>> {
  const jobs = await listDeadJobs(db, limit + 1);
  return page(jobs, limit, jobObject);
}

/** A dead job queued again with fresh attempts (as `fincore jobs retry`); the workers are woken. */
export async function adminRetryJob(ctx: FlowContext, jobId: string): Promise<JobObject> {
  const job = await requeueDeadJob(ctx.pool, jobId);
  if (job) {
    ctx.wakeup.jobsCommitted(job.job_type);
    return jobObject(job);
  }
  const existing = await findJob(ctx.pool, jobId);
  if (!existing) throw new ResourceMissing(`No such job: '${jobId}'`, 'id');
  throw new ParameterInvalid(`Job ${jobId} is ${existing.status}, not dead: nothing to retry.`, 'id');
}

export async function adminEndpoints(db: Queryable, merchantId: string | undefined) {
  const rows = await listEndpointsWithDeliveries(db, merchantId);
  return {
    object: 'list' as const,
    has_more: false,
    data: rows.map((row) => ({
      id: row.id,
      object: 'webhook_endpoint' as const,
      merchant_id: row.merchant_id,
      url: row.url,
      enabled_events: row.enabled_events,
      status: row.status,
      created_at: row.created_at.toISOString(),
      deliveries: { pending: row.pending, succeeded: row.succeeded, failed: row.failed },
      last_delivery_at: row.last_delivery_at?.toISOString() ?? null,
    })),
  };
}
