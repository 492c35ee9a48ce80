/**
 * Moving a charge or refund to its terminal state, from whatever told us the outcome (a PSP
 * webhook, the PSP's synchronous answer to the worker). Runs inside the caller's transaction:
 * the row is locked, the state machine decides, and the change gets its audit event and, when
 * money moved, its ledger postings. A late or repeated outcome for a terminal object changes nothing.
 */
import { chargeObject, refundObject } from '../domain/objects.ts';
import { decideSettlement } from '../domain/status.ts';
import { lockCharge, settleChargeRow } from '../db/charges.ts';
import { postingsFor, refundSettlementMovement } from '../domain/ledger.ts';
import { appendEvent, type Cause } from '../db/events.ts';
import { moneyMovementsSettled, secondsSince, settleLatency } from '../metrics.ts';
import { insertJournalEntry } from '../db/ledger.ts';
import type { Queryable } from '../db/pool.ts';
import { lockRefund, settleRefundRow } from '../db/refunds.ts';
import type { PspOutcome } from '../psp/gateway.ts';

export type SettleResult = 'settled' | 'ignored' | 'unknown_object';

export async function settleCharge(tx: Queryable, chargeId: string, outcome: PspOutcome, cause: Cause): Promise<SettleResult> {
  const charge = await lockCharge(tx, chargeId);
  if (!charge) return 'unknown_object';
  const decision = decideSettlement(charge.status, outcome.status);
  if (decision.kind === 'ignore') return 'ignored';
  const settled = await settleChargeRow(tx, chargeId, {
    status: decision.to,
    failureCode: decision.to === 'failed' ? (outcome.failureCode ?? 'processing_error') : null,
    failureMessage: decision.to === 'failed' ? (outcome.failureMessage ?? 'The payment service provider declined the charge.') : null,
    pspReference: outcome.pspReference || null,
  });
  const eventId = await appendEvent(tx, {
    merchantId: settled.merchant_id,
    type: `charge.${decision.to}`,
    objectType: 'charge',
    objectId: chargeId,
    data: { charge: chargeObject(settled, [], false) },
    cause,
  });
  countSettled('charge', decision.to, settled.currency, settled.created_at);
  // A failed charge moved no money: nothing to post.
  if (decision.to === 'succeeded') {
    await insertJournalEntry(tx, {
      eventId,
      merchantId: settled.merchant_id,
      movement: 'charge_succeeded',
      currency: settled.currency,
      chargeId,
      refundId: null,
      postings: postingsFor('charge_succeeded', settled.amount),
    });
  }
  return 'settled';
}

export async function settleRefund(tx: Queryable, refundId: string, outcome: PspOutcome, cause: Cause): Promise<SettleResult> {
  const refund = await lockRefund(tx, refundId);
  if (!refund) return 'unknown_object';
  const decision = decideSettlement(refund.status, outcome.status);
  if (decision.kind === 'ignore') return 'ignored';
  const settled = await settleRefundRow(tx, refundId, {
    status: decision.to,
    failureReason: decision.to === 'failed' ? (outcome.failureMessage ?? 'The payment service provider declined the refund.') : null,
    pspReference: outcome.pspReference || null,
  });
  const eventId = await appendEvent(tx, {
    merchantId: settled.merchant_id,
    type: `refund.${decision.to}`,
    objectType: 'refund',
    objectId: refundId,
    data: { refund: refundObject(settled) },
    cause,
  });
  countSettled('refund', decision.to, settled.currency, settled.created_at);
  const movement = refundSettlementMovement(decision.to);
  await insertJournalEntry(tx, {
    eventId,
    merchantId: settled.merchant_id,
    movement,
    currency: settled.currency,
    chargeId: settled.payment_id,
    refundId,
    postings: postingsFor(movement, settled.amount),
  });
  return 'settled';
}

// Counted as the change is made, inside the caller's transaction: a transaction that then rolls
// back (rare: a lost connection) is counted anyway. Metrics may over-count; the ledger may not.
function countSettled(object: 'charge' | 'refund', status: string, currency: string, createdAt: Date): void {
  moneyMovementsSettled.inc({ object, status, currency });
  settleLatency.observe({ object, status }, secondsSince(createdAt));
}
