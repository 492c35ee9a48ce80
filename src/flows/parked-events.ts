/**
 * Parked PSP events: verified events about an object FinCore did not hold when they arrived (an
 * early event, a refund of a charge not settled yet, a dispute of an unknown charge). They are
 * acknowledged and kept (psp_events.result = 'parked'), then applied as soon as their object is
 * known: right after the worker records a PSP reference (flows/record-psp-references.ts), and by a
 * periodic sweep (src/jobs/parked-events.ts). One still unmatched after the matching window
 * becomes a review item (`unmatched_event`) an operator sees: never retried by the PSP forever,
 * never dropped.
 */
import { newId } from '../domain/ids.ts';
import { reviewObject } from '../domain/objects.ts';
import { appendEvent } from '../db/events.ts';
import { inTransaction, type Queryable } from '../db/pool.ts';
import { expireParkedPspEvents, lockParkedPspEvents, recordPspEventResult } from '../db/psp-events.ts';
import { insertReview } from '../db/reviews.ts';
import { pspReports, reviewsOpened } from '../metrics.ts';
import { applyPspEvent, type StoredReport } from './apply-psp-event.ts';
import type { FlowContext } from './context.ts';

/** Applies the parked events (of these PSP objects, or all) whose object is now known. The number applied. */
export async function matchParkedEvents(ctx: Pick<FlowContext, 'log'>, tx: Queryable, pspObjectIds?: readonly string[], limit = 500): Promise<number> {
  const parked = await lockParkedPspEvents(tx, limit, pspObjectIds);
  let matched = 0;
  for (const event of parked) {
    const report = { ...(event.report as Omit<StoredReport, 'eventId'>), eventId: event.id } as StoredReport;
    const result = await applyPspEvent(ctx, tx, report, { alreadyParked: true });
    if (result === 'parked') continue;
    await recordPspEventResult(tx, event.id, result, true);
    matched++;
    pspReports.inc({ object: report.objectType, result: 'matched', detail: result });
    ctx.log?.info({ pspEventId: event.id, result, waitedMs: Date.now() - event.received_at.getTime() }, 'parked PSP event matched');
  }
  return matched;
}

export interface ParkedSweep {
  matched: number;
  /** Became review items: still unmatched after the window. */
  unmatched: number;
}

/** One sweep: match what can be matched, then turn what waited longer than `windowMs` into review items. */
export async function sweepParkedEvents(ctx: Pick<FlowContext, 'pool' | 'log'>, windowMs: number, limit = 500): Promise<ParkedSweep> {
  return inTransaction(ctx.pool, async (tx) => {
    const matched = await matchParkedEvents(ctx, tx, undefined, limit);
    const expired = await expireParkedPspEvents(tx, windowMs, limit);
    for (const event of expired) {
      const review = await insertReview(tx, {
        id: newId('rev'),
        merchant_id: null,
        object_type: null,
        object_id: null,
        psp_event_id: event.id,
        reason: 'unmatched_event',
        status_before: null,
        psp_status: event.psp_status,
        psp_amount: event.psp_amount,
        psp_currency: event.psp_currency,
        details: { psp: event.psp, type: event.type, object_type: event.object_type, psp_object_id: event.psp_object_id, reference: event.object_id, received_at: event.received_at.toISOString() },
      });
      await appendEvent(tx, { merchantId: null, type: 'review.opened', objectType: 'review', objectId: review.id, data: { review: reviewObject(review) }, cause: { type: 'reconciliation', id: event.id } });
      reviewsOpened.inc({ object: 'psp_event', reason: 'unmatched_event' });
      ctx.log?.warn({ pspEventId: event.id, reviewId: review.id, type: event.type, pspObjectId: event.psp_object_id }, 'PSP event still unmatched after the matching window: review item opened');
    }
    return { matched, unmatched: expired.length };
  });
}
