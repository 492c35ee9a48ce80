/**
 * Moving a charge or refund to its terminal state, from whatever told us the outcome (a PSP
 * webhook, the PSP's synchronous answer to the worker). Runs inside the caller's transaction:
 * the row is locked, the state machine decides, and the change gets its audit event and, when
 * money moved, its ledger postings. A late or repeated outcome for a terminal object changes nothing.
 */
import { newId } from '../domain/ids.ts';
import { chargeObject, refundObject, type ChargeRecord, type RefundRecord } from '../domain/objects.ts';
import { decideSettlement } from '../domain/status.ts';
import { postingsFor, refundSettlementMovement } from '../domain/ledger.ts';
import type { Cause } from '../db/events.ts';
import { moneyMovementsSettled, secondsSince, settleLatency } from '../metrics.ts';
import type { Queryable } from '../db/pool.ts';
import { lockForSettlement, settleChargeRow, settleRefundRow } from '../db/settlements.ts';
import type { PspOutcome } from '../psp/gateway.ts';

export type SettleResult = 'settled' | 'ignored' | 'unknown_object';

export async function settleCharge(tx: Queryable, chargeId: string, outcome: PspOutcome, cause: Cause): Promise<SettleResult> {
  const locked = await lockForSettlement(tx, 'payments', chargeId);
  if (!locked) return 'unknown_object';
  const { row: charge, lockedAt } = locked;
  const decision = decideSettlement(charge.status, outcome.status);
  if (decision.kind === 'ignore') return 'ignored';
  // The row as the UPDATE leaves it (it is locked, so nothing else moves it meanwhile); its
  // updated_at is the transaction's now(), which the lock read.
  const settled: ChargeRecord = {
    ...charge,
    status: decision.to,
    failure_code: decision.to === 'failed' ? (outcome.failureCode ?? 'processing_error') : null,
    failure_message: decision.to === 'failed' ? (outcome.failureMessage ?? 'The payment service provider declined the charge.') : null,
    psp_reference: charge.psp_reference ?? (outcome.pspReference || null),
    updated_at: lockedAt,
  };
  await settleChargeRow(
    tx,
    { chargeId, status: decision.to, failureCode: settled.failure_code, failureMessage: settled.failure_message, pspReference: settled.psp_reference },
    { id: newId('evt'), merchantId: settled.merchant_id, type: `charge.${decision.to}`, objectType: 'charge', objectId: chargeId, data: { charge: chargeObject(settled, []) }, cause },
    // A failed charge moved no money: nothing to post.
    decision.to === 'succeeded'
      ? { merchantId: settled.merchant_id, movement: 'charge_succeeded', currency: settled.currency, chargeId, refundId: null, postings: postingsFor('charge_succeeded', settled.amount) }
      : undefined,
  );
  countSettled('charge', decision.to, settled.currency, settled.created_at);
  return 'settled';
}

export async function settleRefund(tx: Queryable, refundId: string, outcome: PspOutcome, cause: Cause): Promise<SettleResult> {
  const locked = await lockForSettlement(tx, 'refunds', refundId);
  if (!locked) return 'unknown_object';
  const { row: refund, lockedAt } = locked;
  const decision = decideSettlement(refund.status, outcome.status);
  if (decision.kind === 'ignore') return 'ignored';
  const settled: RefundRecord = {
    ...refund,
    status: decision.to,
    failure_reason: decision.to === 'failed' ? (outcome.failureMessage ?? 'The payment service provider declined the refund.') : null,
    psp_reference: refund.psp_reference ?? (outcome.pspReference || null),
    updated_at: lockedAt,
  };
  const movement = refundSettlementMovement(decision.to);
  await settleRefundRow(
    tx,
    { refundId, status: decision.to, failureReason: settled.failure_reason, pspReference: settled.psp_reference },
    { id: newId('evt'), merchantId: settled.merchant_id, type: `refund.${decision.to}`, objectType: 'refund', objectId: refundId, data: { refund: refundObject(settled) }, cause },
    { merchantId: settled.merchant_id, movement, currency: settled.currency, chargeId: settled.payment_id, refundId, postings: postingsFor(movement, settled.amount) },
  );
  countSettled('refund', decision.to, settled.currency, settled.created_at);
  return 'settled';
}

// Counted as the change is made, inside the caller's transaction: a transaction that then rolls
// back (rare: a lost connection) is counted anyway. Metrics may over-count; the ledger may not.
function countSettled(object: 'charge' | 'refund', status: string, currency: string, createdAt: Date): void {
  moneyMovementsSettled.inc({ object, status, currency });
  settleLatency.observe({ object, status }, secondsSince(createdAt));
}
