/** The operator's reads and actions (admin key): across merchants, for the dashboard. */
import { ParameterInvalid, ResourceMissing } from '../domain/errors.ts';
import { chargeObject, eventObject, refundObject, type ChargeObject, type EventObject, type RefundObject, type RefundRecord } from '../domain/objects.ts';
import { refundableAmount } from '../domain/refund.ts';
import { adminListCharges, adminListRefunds, findCharge, listEndpointsWithDeliveries, type AdminFilter } from '../db/admin.ts';
import { refundsOfCharges } from '../db/charges.ts';
import { findMerchantById } from '../db/merchants.ts';
import { eventsOfObject } from '../db/events.ts';
import { findJob, listDeadJobs, requeueDeadJob, type JobRecord } from '../db/jobs.ts';
import { ledgerEntriesOfCharge, type LedgerEntryRow } from '../db/ledger.ts';
import type { Queryable } from '../db/pool.ts';
import type { FlowContext } from './context.ts';
import type { ListPage } from './queries.ts';

function page<R, T>(rows: R[], limit: number, toObject: (row: R) => T): ListPage<T> {
  return { object: 'list', data: rows.slice(0, limit).map(toObject), has_more: rows.length > limit };
}

export async function adminChargesPage(db: Queryable, filter: AdminFilter, limit: number, startingAfter?: string): Promise<ListPage<ChargeObject & { merchant_id: string }>> {
  const charges = await adminListCharges(db, filter, limit, startingAfter);
  const refunds = await refundsOfCharges(db, charges.slice(0, limit).map((c) => c.id));
  const byCharge = new Map<string, RefundRecord[]>();
  for (const refund of refunds) byCharge.set(refund.payment_id, [...(byCharge.get(refund.payment_id) ?? []), refund]);
  return page(charges, limit, (charge) => ({ ...chargeObject(charge, byCharge.get(charge.id) ?? []), merchant_id: charge.merchant_id }));
}

export async function adminRefundsPage(db: Queryable, filter: AdminFilter, limit: number, startingAfter?: string): Promise<ListPage<RefundObject & { merchant_id: string }>> {
  const rows = await adminListRefunds(db, filter, limit, startingAfter);
  return page(rows, limit, (refund) => ({ ...refundObject(refund), merchant_id: refund.merchant_id }));
}

export interface ChargeDetail {
  object: 'charge_detail';
  merchant_id: string;
  /** What the operator knows the merchant by. */
  merchant_name: string;
  charge: ChargeObject;
  refundable_amount: number;
  ledger: (Omit<LedgerEntryRow, 'created_at'> & { created_at: string })[];
  /** The charge's and its refunds' events, oldest first. */
  events: EventObject[];
}

export async function adminChargeDetail(db: Queryable, chargeId: string): Promise<ChargeDetail> {
  const charge = await findCharge(db, chargeId);
  if (!charge) throw new ResourceMissing(`No such charge: '${chargeId}'`, 'id');
  const refunds = await refundsOfCharges(db, [charge.id]);
  const merchant = await findMerchantById(db, charge.merchant_id);
  const ledger = await ledgerEntriesOfCharge(db, charge.id);
  const events = (await Promise.all([charge.id, ...refunds.map((r) => r.id)].map((id) => eventsOfObject(db, id)))).flat();
  events.sort((a, b) => a.created_at.getTime() - b.created_at.getTime() || (a.id < b.id ? -1 : 1));
  return {
    object: 'charge_detail',
    merchant_id: charge.merchant_id,
    merchant_name: merchant?.name ?? charge.merchant_id,
    charge: chargeObject(charge, refunds),
    refundable_amount: charge.status === 'succeeded' ? refundableAmount(charge, refunds) : 0,
    ledger: ledger.map((entry) => ({ ...entry, created_at: entry.created_at.toISOString() })),
    events: events.map(eventObject),
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
    ctx.wakeup.jobsCommitted();
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
