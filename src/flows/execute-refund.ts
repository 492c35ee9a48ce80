/**
 * The REFUND job: asks the PSP to refund, keyed by the refund id so a retried job can never
 * refund twice. The PSP call sits between transactions; a failure never deletes the refund row.
 */
import { findCharge } from '../db/charges.ts';
import type { Cause } from '../db/events.ts';
import { inTransaction } from '../db/pool.ts';
import { findRefund, recordRefundPspReference } from '../db/refunds.ts';
import { PspPermanentError, type PspOutcome } from '../psp/gateway.ts';
import type { FlowContext } from './context.ts';
import { settleRefund } from './settle.ts';

export async function executeRefund(ctx: FlowContext, refundId: string, cause: Cause): Promise<void> {
  const refund = await findRefund(ctx.pool, refundId);
  if (!refund || refund.status !== 'pending') return;
  const charge = await findCharge(ctx.pool, refund.payment_id);
  if (!charge) return; // impossible: foreign key

  let outcome: PspOutcome;
  try {
    outcome = await ctx.psp.createRefund({
      reference: refund.id,
      chargeReference: charge.id,
      chargePspReference: charge.psp_reference,
      amount: refund.amount,
      currency: refund.currency,
    });
  } catch (error) {
    if (!(error instanceof PspPermanentError)) throw error;
    // The PSP refused for good: the refund fails and its amount is refundable again.
    outcome = { pspReference: '', status: 'failed', failureCode: error.code, failureMessage: error.message };
  }

  await inTransaction(ctx.pool, async (tx) => {
    if (outcome.pspReference) await recordRefundPspReference(tx, refund.id, outcome.pspReference);
    if (outcome.status !== 'pending') await settleRefund(tx, refund.id, outcome, cause);
  });
}
