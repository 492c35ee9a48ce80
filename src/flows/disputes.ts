/**
 * Disputes (chargebacks) reported by the PSP (issue 16 item 5), applied in the caller's
 * transaction (flows/apply-psp-event.ts, for the webhook intake and parked-event matching):
 * - the charge is found by the FinCore id the PSP dispute carries, else by the PSP's charge id;
 *   not found, or still pending at FinCore: 'parked' (kept, and applied again when it appears);
 * - the charge's row is locked: the refund write takes the same lock and re-checks the dispute
 *   facts (create_refund_if_unchanged), so no refund slips past a dispute opening;
 * - the dispute is recorded or moved as src/domain/dispute.ts decideDisputeReport says, with its
 *   charge.dispute.created / updated / closed event (which the merchant's webhooks follow);
 * - a move to lost posts the `dispute_lost` journal entry for the disputed amount, with its event;
 * - lost is final: a later report saying otherwise is refused (metric, warning), nothing changes.
 * A dispute for more than the charge, or in another currency (Stripe: currency fluctuation), is
 * recorded as the PSP reports it, with a warning for the operator; no review item (reviews are
 * about charges and refunds). Lost, its amount is counted as reported: one for more than the
 * charge leaves nothing refundable (src/domain/refund.ts never goes below zero).
 */
import { decideDisputeReport, type DisputeEventType, type DisputeState } from '../domain/dispute.ts';
import { newId } from '../domain/ids.ts';
import { postingsFor } from '../domain/ledger.ts';
import { disputeObject, type DisputeRecord } from '../domain/objects.ts';
import type { Cause } from '../db/events.ts';
import { insertDispute, lockDisputeByPspReference, recordDisputeEvent, updateDispute } from '../db/disputes.ts';
import type { Queryable } from '../db/pool.ts';
import { findIdByPspReference } from '../db/refunds.ts';
import { lockForSettlement } from '../db/settlements.ts';
import { disputeReports } from '../metrics.ts';
import type { PspDisputeReport } from '../psp/gateway.ts';
import type { FlowContext } from './context.ts';

export type DisputeResult = 'parked' | 'dispute_recorded';

export async function applyDisputeReport(
  ctx: Pick<FlowContext, 'log'>,
  tx: Queryable,
  event: PspDisputeReport & { eventId: string },
  origin: unknown,
): Promise<DisputeResult> {
  const log = ctx.log;
  const cause: Cause = causeOf(origin) ?? { type: 'psp_event', id: event.eventId };
  const park = (why: string): DisputeResult => {
    disputeReports.inc({ status: event.status, result: 'parked' });
    log?.info({ pspEventId: event.eventId, dispute: event.pspReference, chargeReference: event.chargeReference, chargePspReference: event.chargePspReference, why }, 'PSP dispute event parked');
    return 'parked';
  };
  if (!Number.isSafeInteger(event.amount) || event.amount <= 0) return park('amount_invalid');

  let charge = event.chargeReference ? (await lockForSettlement(tx, 'payments', event.chargeReference))?.row : undefined;
  if (!charge && event.chargePspReference) {
    const id = await findIdByPspReference(tx, 'payments', event.chargePspReference);
    charge = id ? (await lockForSettlement(tx, 'payments', id))?.row : undefined;
  }
  if (!charge) return park('charge_not_found');
  // FinCore has not heard the charge's outcome yet: the dispute waits for it, like an early refund.
  if (charge.status === 'pending') return park('charge_pending');

  const reported: DisputeState = { status: event.status, psp_status: event.pspStatus, amount: event.amount, reason: event.reason };
  const existing = await lockDisputeByPspReference(tx, event.pspReference);
  if (existing && existing.charge_id !== charge.id) {
    // The PSP's dispute id names another charge than the one FinCore holds it under: never move it.
    disputeReports.inc({ status: event.status, result: 'refused_other_charge' });
    log?.warn({ pspEventId: event.eventId, disputeId: existing.id, heldOn: existing.charge_id, reportedOn: charge.id }, 'PSP dispute report names another charge than the one FinCore holds it under: refused');
    return 'dispute_recorded';
  }

  const decision = decideDisputeReport(existing, reported);
  if (decision.kind === 'ignore') {
    if (decision.why === 'lost_is_final') {
      disputeReports.inc({ status: event.status, result: 'refused_lost_is_final' });
      log?.warn({ pspEventId: event.eventId, disputeId: existing?.id, chargeId: charge.id, reported: event.status, pspStatus: event.pspStatus }, 'PSP reports a lost dispute as no longer lost: refused, lost is final (its journal entry is posted)');
    } else {
      disputeReports.inc({ status: event.status, result: 'ignored_unchanged' });
    }
    return 'dispute_recorded';
  }

  if (event.currency !== charge.currency || event.amount > charge.amount) {
    log?.warn(
      { pspEventId: event.eventId, chargeId: charge.id, dispute: event.pspReference, amount: event.amount, currency: event.currency, chargeAmount: charge.amount, chargeCurrency: charge.currency },
      'PSP dispute is for more than the charge or in another currency: recorded as reported',
    );
  }

  let dispute: DisputeRecord;
  let types: DisputeEventType[];
  let previous: Partial<Pick<DisputeRecord, 'status' | 'psp_status' | 'amount' | 'reason'>> | undefined;
  if (decision.kind === 'create') {
    dispute = await insertDispute(tx, {
      id: newId('dp'),
      charge_id: charge.id,
      merchant_id: charge.merchant_id,
      psp_reference: event.pspReference,
      amount: event.amount,
      currency: event.currency,
      status: event.status,
      psp_status: event.pspStatus,
      reason: event.reason,
    });
    types = decision.events;
  } else {
    if (!existing) throw new Error('a dispute update without its dispute');
    dispute = await updateDispute(tx, existing.id, { status: reported.status, psp_status: reported.psp_status, reason: reported.reason, amount: decision.amount });
    types = [decision.event];
    previous = changed(existing, dispute);
  }

  const object = disputeObject(dispute);
  for (const [i, type] of types.entries()) {
    // The loss is posted once, with the event that says it (the last one: closed).
    const loss = decision.postsLoss && i === types.length - 1;
    await recordDisputeEvent(
      tx,
      dispute,
      { id: newId('evt'), type, data: { dispute: object, ...(previous ? { previous_attributes: previous } : {}) } },
      cause,
      loss ? { movement: 'dispute_lost', postings: postingsFor('dispute_lost', dispute.amount) } : undefined,
    );
  }
  const result = decision.kind === 'create' ? 'created' : types[0] === 'charge.dispute.closed' ? 'closed' : 'updated';
  disputeReports.inc({ status: dispute.status, result });
  const line = { pspEventId: event.eventId, disputeId: dispute.id, chargeId: charge.id, status: dispute.status, pspStatus: dispute.psp_status, amount: dispute.amount, currency: dispute.currency, events: types };
  if (dispute.status === 'won') log?.info(line, 'dispute won');
  else log?.warn(line, dispute.status === 'lost' ? 'dispute lost: the disputed amount is taken back from the merchant' : `dispute ${result}`);
  return 'dispute_recorded';
}

function changed(before: DisputeRecord, after: DisputeRecord): Partial<Pick<DisputeRecord, 'status' | 'psp_status' | 'amount' | 'reason'>> {
  const previous: Partial<Pick<DisputeRecord, 'status' | 'psp_status' | 'amount' | 'reason'>> = {};
  if (before.status !== after.status) previous.status = before.status;
  if (before.psp_status !== after.psp_status) previous.psp_status = before.psp_status;
  if (Number(before.amount) !== Number(after.amount)) previous.amount = Number(before.amount);
  if (before.reason !== after.reason) previous.reason = before.reason;
  return previous;
}

/** The caller's origin (flows/apply-psp-event.ts): its cause, when it carries one. */
function causeOf(origin: unknown): Cause | undefined {
  if (typeof origin !== 'object' || origin === null || !('cause' in origin)) return undefined;
  const cause = (origin as { cause: unknown }).cause;
  if (typeof cause !== 'object' || cause === null) return undefined;
  const { type, id } = cause as { type?: unknown; id?: unknown };
  return typeof type === 'string' && typeof id === 'string' ? (cause as Cause) : undefined;
}
