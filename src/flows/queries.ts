/** The read side of the API: merchant-scoped reads. Another merchant's object is "missing". */
import { ResourceMissing } from '../domain/errors.ts';
import { chargeObject, EMBEDDED_REFUNDS, eventObject, refundObject, withPspProgress, type ChargeObject, type EventObject, type RefundObject } from '../domain/objects.ts';
import { pspProgressOf } from './attempts.ts';
import { findEventOfMerchant, listEvents, type EventFilter } from '../db/events.ts';
import { findChargeWithRefunds, listCharges, refundsOfCharges } from '../db/charges.ts';
import { disputesOfCharge } from '../db/disputes.ts';
import type { Queryable } from '../db/pool.ts';
import { findRefundOfMerchant, listRefunds } from '../db/refunds.ts';

export interface ListPage<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
}

function page<R, T>(rows: R[], limit: number, toObject: (row: R) => T): ListPage<T> {
  return { object: 'list', data: rows.slice(0, limit).map(toObject), has_more: rows.length > limit };
}

export async function getCharge(db: Queryable, merchantId: string, chargeId: string): Promise<ChargeObject> {
  const found = await findChargeWithRefunds(db, merchantId, chargeId, EMBEDDED_REFUNDS);
  if (!found) throw new ResourceMissing(`No such charge: '${chargeId}'`, 'id');
  // Found (so the merchant's): its disputes, all of them (a charge has very few).
  const object = chargeObject(found.charge, found.amounts, found.refunds, await disputesOfCharge(db, chargeId));
  return (await withProgress(db, [object]))[0]!;
}

/**
 * psp_status and next_check_at (flows/attempts.ts) of a charge and its embedded refunds, or of
 * refunds: one query for all the pending ones, none for settled ones.
 */
async function withProgress(db: Queryable, charges: ChargeObject[]): Promise<ChargeObject[]> {
  const progress = await pspProgressOf(db, charges.flatMap((charge) => [charge, ...(charge.refunds?.data ?? [])]));
  return charges.map((charge) => {
    const object = withPspProgress(charge, progress.get(charge.id));
    if (object.refunds) object.refunds = { ...object.refunds, data: object.refunds.data.map((refund) => withPspProgress(refund, progress.get(refund.id))) };
    return object;
  });
}

async function refundsWithProgress(db: Queryable, refunds: RefundObject[]): Promise<RefundObject[]> {
  const progress = await pspProgressOf(db, refunds);
  return refunds.map((refund) => withPspProgress(refund, progress.get(refund.id)));
}

export async function getChargesPage(db: Queryable, merchantId: string, limit: number, startingAfter?: string): Promise<ListPage<ChargeObject>> {
  const charges = await listCharges(db, merchantId, limit, startingAfter);
  const refunds = await refundsOfCharges(db, charges.slice(0, limit).map((c) => c.id), EMBEDDED_REFUNDS);
  const listed = page(charges, limit, (charge) => chargeObject(charge, refunds.amounts.get(charge.id) ?? [], refunds.first.get(charge.id) ?? []));
  return { ...listed, data: await withProgress(db, listed.data) };
}

export async function getRefund(db: Queryable, merchantId: string, refundId: string): Promise<RefundObject> {
  const refund = await findRefundOfMerchant(db, merchantId, refundId);
  if (!refund) throw new ResourceMissing(`No such refund: '${refundId}'`, 'id');
  return (await refundsWithProgress(db, [refundObject(refund)]))[0]!;
}

export async function getRefundsPage(
  db: Queryable,
  merchantId: string,
  filter: { chargeId?: string; limit: number; startingAfter?: string },
): Promise<ListPage<RefundObject>> {
  const rows = await listRefunds(db, merchantId, filter.chargeId, filter.limit, filter.startingAfter);
  const listed = page(rows, filter.limit, refundObject);
  return { ...listed, data: await refundsWithProgress(db, listed.data) };
}

export async function getEvent(db: Queryable, merchantId: string, eventId: string): Promise<EventObject> {
  const event = await findEventOfMerchant(db, merchantId, eventId);
  if (!event) throw new ResourceMissing(`No such event: '${eventId}'`, 'id');
  return eventObject(event);
}

export async function getEventsPage(db: Queryable, merchantId: string, filter: EventFilter & { limit: number; startingAfter?: string }): Promise<ListPage<EventObject>> {
  const rows = await listEvents(db, merchantId, filter, filter.limit, filter.startingAfter);
  return page(rows, filter.limit, eventObject);
}
