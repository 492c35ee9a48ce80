/**
 * The REFUND job: asks the PSP to refund, keyed by the refund id so a retried job can never
 * refund twice. The PSP call sits between transactions; a failure never deletes the refund row.
 */
import type { Cause } from '../db/events.ts';
import { inTransaction } from '../db/pool.ts';
import { callPspAndAct } from './attempts.ts';
import { pspOf, type FlowContext } from './context.ts';
import { settleRefund } from './settle.ts';

export async function executeRefund(ctx: FlowContext, refundId: string, cause: Cause): Promise<void> {
  const refund = await ctx.jobReads.refunds.read(refundId);
  if (!refund || refund.status !== 'pending') return;

  // The refund goes to the PSP that took its charge, whatever the default is now. A PSP that is
  // not configured any more throws: the job retries, then waits dead-lettered for the operator.
  const psp = pspOf(ctx, refund.charge_psp);

  // A refusal fails the refund (its amount is refundable again); a pending answer records the
  // PSP reference and waits for the webhook; an outcome settles the refund.
  await callPspAndAct(
    ctx,
    { objectType: 'refund', objectId: refund.id, merchantId: refund.merchant_id, psp: psp.name },
    () =>
      psp.createRefund({
        reference: refund.id,
        chargeReference: refund.payment_id,
        chargePspReference: refund.charge_psp_reference,
        amount: refund.amount,
        currency: refund.currency,
      }),
    {
      pending: (pspReference) => ctx.pspReferences.refunds.record({ id: refund.id, pspReference, cause }),
      settle: (outcome) => inTransaction(ctx.pool, (tx) => settleRefund(tx, refund.id, outcome, { cause, log: ctx.log })),
    },
  );
}
