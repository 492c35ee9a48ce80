/** The read side of the API: merchant-scoped reads. Another merchant's object is "missing". */
import { ResourceMissing } from '../domain/errors.ts';
import { chargeObject, EMBEDDED_REFUNDS, eventObject, refundabilityObject, refundObject, withPspProgress, type ChargeObject, type EventObject, type RefundabilityObject, type RefundObject } from '../domain/objects.ts';
import { pspProgressOf } from './attempts.ts';
import { findEventOfMerchant, listEvents, type EventFilter } from '../db/events.ts';
import { findChargeWithRefunds, listCharges, refundsOfCharges, type ChargeFilter, type PageCursor } from '../db/charges.ts';
import { disputesOfCharge } from '../db/disputes.ts';
import type { Queryable } from '../db/pool.ts';
import { findRefundOfMerchant, listRefunds, readRefundFacts, type RefundFilter } from '../db/refunds.ts';

export interface ListPage<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
}

/**
 * `rows`: up to limit + 1 in the cursor's direction. After `ending_before` they come oldest first
 * (nearest the cursor first): the page is still shown newest first, and has_more says there are
 * more in the direction paged (newer ones), as Stripe's.
 */
function page<R, T>(rows: R[], limit: number, toObject: (row: R) => T, cursor: PageCursor = {}): ListPage<T> {
  const shown = rows.slice(0, limit);
  if (cursor.endingBefore) shown.reverse();
  return { object: 'list', data: shown.map(toObject), has_more: rows.length > limit };
}

/** `reconcileAfterMs`: FINCORE_RECONCILE_AFTER_MS (FlowContext.reconcileAfterMs), which next_check_at promises. */
export async function getCharge(db: Queryable, merchantId: string, chargeId: string, reconcileAfterMs: number): Promise<ChargeObject> {
  const found = await findChargeWithRefunds(db, merchantId, chargeId, EMBEDDED_REFUNDS);
  if (!found) throw new ResourceMissing(`No such charge: '${chargeId}'`, 'id');
  // Found (so the merchant's): its disputes, all of them (a charge has very few).
  const object = chargeObject(found.charge, found.amounts, found.refunds, await disputesOfCharge(db, chargeId));
  return (await withProgress(db, [object], reconcileAfterMs))[0]!;
}

/**
 * psp_status and next_check_at (flows/attempts.ts) of a charge and its embedded refunds, or of
 * refunds: one query for all the pending ones, none for settled ones.
 */
async function withProgress(db: Queryable, charges: ChargeObject[], reconcileAfterMs: number): Promise<ChargeObject[]> {
  const progress = await pspProgressOf(db, charges.flatMap((charge) => [charge, ...(charge.refunds?.data ?? [])]), reconcileAfterMs);
  return charges.map((charge) => {
    const object = withPspProgress(charge, progress.get(charge.id));
    if (object.refunds) object.refunds = { ...object.refunds, data: object.refunds.data.map((refund) => withPspProgress(refund, progress.get(refund.id))) };
    return object;
  });
}

async function refundsWithProgress(db: Queryable, refunds: RefundObject[], reconcileAfterMs: number): Promise<RefundObject[]> {
  const progress = await pspProgressOf(db, refunds, reconcileAfterMs);
  return refunds.map((refund) => withPspProgress(refund, progress.get(refund.id)));
}

/**
 * GET /v1/charges/{id}/refundability: what POST /v1/refunds would answer now (with `requested`, or
 * everything), decided by the refund write's own rule (decideRefundAmountGivenReserved) on the facts
 * the write reads (readRefundFacts). Writes nothing; a refund created next may still find other facts.
 */
export async function getRefundability(db: Queryable, merchantId: string, chargeId: string, requested: number | undefined): Promise<RefundabilityObject> {
  const facts = await readRefundFacts(db, merchantId, chargeId, undefined);
  if (!facts.charge) throw new ResourceMissing(`No such charge: '${chargeId}'`, 'id');
  return refundabilityObject(chargeId, { charge: facts.charge, reserved: facts.reserved, disputes: facts.disputes }, requested);
}

export async function getChargesPage(db: Queryable, merchantId: string, filter: ChargeFilter & PageCursor & { limit: number }, reconcileAfterMs: number): Promise<ListPage<ChargeObject>> {
  const cursor = { startingAfter: filter.startingAfter, endingBefore: filter.endingBefore };
  const charges = await listCharges(db, merchantId, filter.limit, cursor, filter);
  const refunds = await refundsOfCharges(db, charges.slice(0, filter.limit).map((c) => c.id), EMBEDDED_REFUNDS);
  const listed = page(charges, filter.limit, (charge) => chargeObject(charge, refunds.amounts.get(charge.id) ?? [], refunds.first.get(charge.id) ?? []), cursor);
  return { ...listed, data: await withProgress(db, listed.data, reconcileAfterMs) };
}

export async function getRefund(db: Queryable, merchantId: string, refundId: string, reconcileAfterMs: number): Promise<RefundObject> {
  const refund = await findRefundOfMerchant(db, merchantId, refundId);
  if (!refund) throw new ResourceMissing(`No such refund: '${refundId}'`, 'id');
  return (await refundsWithProgress(db, [refundObject(refund)], reconcileAfterMs))[0]!;
}

export async function getRefundsPage(db: Queryable, merchantId: string, filter: RefundFilter & PageCursor & { limit: number }, reconcileAfterMs: number): Promise<ListPage<RefundObject>> {
  const cursor = { startingAfter: filter.startingAfter, endingBefore: filter.endingBefore };
  const rows = await listRefunds(db, merchantId, filter, filter.limit, cursor);
  const listed = page(rows, filter.limit, refundObject, cursor);
  return { ...listed, data: await refundsWithProgress(db, listed.data, reconcileAfterMs) };
}

export async function getEvent(db: Queryable, merchantId: string, eventId: string): Promise<EventObject> {
  const event = await findEventOfMerchant(db, merchantId, eventId);
  if (!event) throw new ResourceMissing(`No such event: '${eventId}'`, 'id');
  return eventObject(event);
}

export async function getEventsPage(db: Queryable, merchantId: string, filter: EventFilter & PageCursor & { limit: number }): Promise<ListPage<EventObject>> {
  const cursor = { startingAfter: filter.startingAfter, endingBefore: filter.endingBefore };
  const rows = await listEvents(db, merchantId, filter, filter.limit, cursor);
  return page(rows, filter.limit, eventObject, cursor);
}
