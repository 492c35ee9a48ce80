/**
 * What a verified PSP event does, once it is stored in the inbox (psp_events): shared by the
 * webhook intake (flows/ingest-webhook.ts) and the matching of parked events (flows/parked-events.ts).
 * Runs in the caller's transaction. In order:
 * - the object is found by the FinCore id the PSP object carries, else by the PSP's id of it;
 * - found: the report is applied (flows/settle.ts), or reviewed as `object_mismatch` when the
 *   PSP object ties the FinCore id to another charge than the one FinCore holds;
 * - a refund FinCore does not hold, of a charge it holds (made in the PSP's dashboard): imported
 *   as a refund with origin 'psp' (flows below), or reviewed as `over_refund`;
 * - anything else is parked: kept, acknowledged, and matched when its object appears.
 */
import { newId } from '../domain/ids.ts';
import { postingsFor } from '../domain/ledger.ts';
import { refundObject, type ChargeRecord, type RefundRecord } from '../domain/objects.ts';
import type { Cause } from '../db/events.ts';
import type { Queryable } from '../db/pool.ts';
import { findIdByPspReference, insertImportedRefund, readRefundFacts } from '../db/refunds.ts';
import { lockForSettlement, type Locked } from '../db/settlements.ts';
import { pspReports } from '../metrics.ts';
import type { PspDisputeReport, PspObjectReport } from '../psp/gateway.ts';
import type { FlowContext } from './context.ts';
import { applyDisputeReport } from './disputes.ts';
import { settleLockedCharge, settleLockedRefund, settleRefund, type SettleResult } from './settle.ts';

export type ApplyResult = SettleResult | 'parked' | 'imported' | 'dispute_recorded';

/** The mapped event as the inbox keeps it (psp_events.report): everything but the raw payload. */
export type StoredReport = { eventId: string; type: string } & (PspObjectReport | PspDisputeReport);

export async function applyPspEvent(ctx: Pick<FlowContext, 'log'>, tx: Queryable, event: StoredReport, options: { alreadyParked?: boolean } = {}): Promise<ApplyResult> {
  const origin = { cause: { type: 'psp_event', id: event.eventId } satisfies Cause, pspEventId: event.eventId, log: ctx.log };
  if (event.objectType === 'dispute') return applyDisputeReport(ctx, tx, event, origin);

  const pspReference = event.outcome.pspReference || null;
  // Found by the FinCore id, else by the PSP's id; locked here and settled under that one lock.
  if (event.objectType === 'charge') {
    const charge = await lockObject(tx, 'payments', event.reference, pspReference);
    if (charge) return settleLockedCharge(tx, charge, event.outcome, origin);
  } else {
    const refund = await lockObject(tx, 'refunds', event.reference, pspReference);
    if (refund) {
      // The PSP object names this FinCore refund but another charge: it is not the refund FinCore
      // holds under that id. (A different PSP id for the same FinCore id is not checked here: a
      // development simulator restarted without its memory issues new ids for resubmitted objects.)
      const otherObject = event.chargeReference != null && refund.row.payment_id !== event.chargeReference;
      return settleLockedRefund(tx, refund, event.outcome, otherObject ? { ...origin, review: 'object_mismatch' } : origin);
    }
  }
  if (event.objectType === 'refund' && event.reference === null && pspReference !== null) {
    const imported = await importPspRefund(tx, event, pspReference, origin);
    if (imported) return imported;
  }
  // Parked once, counted and logged once: the sweeps that find it still unmatched stay quiet.
  if (options.alreadyParked) return 'parked';
  pspReports.inc({ object: event.objectType, result: 'parked', detail: 'object_not_found' });
  ctx.log?.info({ pspEventId: event.eventId, object: event.objectType, reference: event.reference, pspReference }, 'PSP event about an object FinCore does not hold yet: parked');
  return 'parked';
}

async function lockObject(tx: Queryable, table: 'payments', id: string | null, pspReference: string | null): Promise<Locked<ChargeRecord> | undefined>;
async function lockObject(tx: Queryable, table: 'refunds', id: string | null, pspReference: string | null): Promise<Locked<RefundRecord> | undefined>;
async function lockObject(tx: Queryable, table: 'payments' | 'refunds', id: string | null, pspReference: string | null): Promise<Locked<ChargeRecord | RefundRecord> | undefined> {
  const byId = id ? await lockForSettlement(tx, table as 'payments', id) : undefined;
  if (byId || !pspReference) return byId;
  const found = await findIdByPspReference(tx, table, pspReference);
  return found ? lockForSettlement(tx, table as 'payments', found) : undefined;
}

/**
 * A refund made at the PSP, of a charge FinCore holds: it becomes a FinCore refund (origin 'psp')
 * counted against the refundable amount, then the PSP's status is applied to it as to any refund.
 * One that would take the charge over its amount is imported straight into review
 * (`over_refund`). Undefined (park it) while the charge is not settled at FinCore yet.
 */
async function importPspRefund(
  tx: Queryable,
  event: PspObjectReport & { eventId: string },
  pspReference: string,
  origin: { cause: Cause; pspEventId: string; log: FlowContext['log'] },
): Promise<ApplyResult | undefined> {
  const chargeId = event.chargeReference ?? (event.chargePspReference ? await findIdByPspReference(tx, 'payments', event.chargePspReference) : undefined);
  if (!chargeId) return undefined;
  const locked = await lockForSettlement(tx, 'payments', chargeId);
  if (!locked || locked.row.status === 'pending') return undefined;
  const charge = locked.row;
  const amount = event.outcome.amount;
  if (amount == null || !Number.isSafeInteger(amount) || amount <= 0) return undefined;

  const facts = await readRefundFacts(tx, charge.merchant_id, charge.id, undefined);
  const holds = event.outcome.status !== 'failed';
  // Over the charge when what its refunds hold, what lost disputes took and this refund exceed it.
  const overRefund = charge.status !== 'succeeded' || (holds && facts.reserved + facts.disputes.lost + amount > charge.amount);
  const createdAt = new Date();
  const refund: RefundRecord = {
    id: newId('re'),
    payment_id: charge.id,
    merchant_id: charge.merchant_id,
    amount,
    currency: charge.currency,
    status: 'pending',
    reason: null,
    metadata: {},
    failure_reason: null,
    psp_reference: pspReference,
    review_reason: null,
    origin: 'psp',
    created_at: createdAt,
    updated_at: createdAt,
  };
  const inserted = await insertImportedRefund(tx, {
    id: refund.id,
    chargeId: charge.id,
    merchantId: charge.merchant_id,
    amount,
    currency: charge.currency,
    pspReference,
    eventId: newId('evt'),
    eventData: { refund: refundObject(refund) },
    cause: origin.cause,
    postings: postingsFor('refund_reserved', amount),
  });
  // Imported before under another event of the same PSP refund: that row takes this report.
  if (!inserted) {
    const existing = await findIdByPspReference(tx, 'refunds', pspReference);
    return existing ? settleRefund(tx, existing, event.outcome, origin) : undefined;
  }
  pspReports.inc({ object: 'refund', result: 'imported', detail: overRefund ? 'over_refund' : 'within_refundable' });
  origin.log?.warn({ refundId: refund.id, chargeId: charge.id, pspReference, amount, overRefund }, 'refund made at the PSP imported');
  // A pending import with nothing to say yet stays pending; otherwise its status is the PSP's.
  const applied = await settleRefund(tx, refund.id, event.outcome, overRefund ? { ...origin, review: 'over_refund' } : origin);
  return applied === 'review_opened' ? applied : 'imported';
}
