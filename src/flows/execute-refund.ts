/**
 * The REFUND job: asks the PSP to refund, keyed by the refund id so a retried job can never
 * refund twice. The PSP call sits between transactions; a failure never deletes the refund row.
 */
import type { Cause } from '../db/events.ts';
import { inTransaction } from '../db/pool.ts';
import { PspPermanentError, type PspOutcome } from '../psp/gateway.ts';
import { recordedPspCall } from './attempts.ts';
import { pspOf, type FlowContext } from './context.ts';
import { settleRefund } from './settle.ts';

export async function executeRefund(ctx: FlowContext, refundId: string, cause: Cause): Promise<void> {
  const refund = await ctx.jobReads.refunds.read(refundId);
  if (!refund || refund.status !== 'pending') return;

  // The refund goes to the PSP that took its charge, whatever the default is now. A PSP that is
  // not configured any more throws: the job retries, then waits dead-lettered for the operator.
  const psp = pspOf(ctx, refund.charge_psp);

  let outcome: PspOutcome;
  // The attempt's completion, written while the answer is acted on (flows/attempts.ts).
  let recorded: Promise<void> = Promise.resolve();
  try {
    // Recorded as an attempt (flows/attempts.ts): started before the call, completed after it.
    ({ outcome, recorded } = await recordedPspCall(ctx, { objectType: 'refund', objectId: refund.id, merchantId: refund.merchant_id, psp: psp.name }, () =>
      psp.createRefund({
        reference: refund.id,
        chargeReference: refund.payment_id,
        chargePspReference: refund.charge_psp_reference,
        amount: refund.amount,
        currency: refund.currency,
      }),
    ));
  } catch (error) {
    if (!(error instanceof PspPermanentError)) throw error;
    // The PSP refused for good: the refund fails and its amount is refundable again.
    outcome = { pspReference: '', status: 'failed', failureCode: error.code, failureMessage: error.message };
  }

  // A pending answer records the PSP reference (with its refund.updated event, in a
  // transaction) and waits for the webhook; an outcome settles the refund, its PSP reference
  // carried by the settlement and its event.
  try {
    if (outcome.status === 'pending') {
      if (outcome.pspReference) await ctx.pspReferences.refunds.record({ id: refund.id, pspReference: outcome.pspReference, cause });
      return;
    }
    await inTransaction(ctx.pool, (tx) => settleRefund(tx, refund.id, outcome, { cause, log: ctx.log }));
  } finally {
    await recorded;
  }
}
