/**
 * The CHARGE job: asks the PSP to charge, keyed by the charge id so a retried job can never
 * charge twice. The PSP call sits between transactions, never inside one.
 * A transient PSP error propagates: the worker retries the job with backoff.
 */
import type { Cause } from '../db/events.ts';
import { inTransaction } from '../db/pool.ts';
import { callPspAndAct } from './attempts.ts';
import { pspOf, type FlowContext } from './context.ts';
import { settleCharge } from './settle.ts';

export async function executeCharge(ctx: FlowContext, chargeId: string, cause: Cause): Promise<void> {
  // A charge already settled (webhook arrived first, job replayed) needs nothing.
  const charge = await ctx.jobReads.charges.read(chargeId);
  if (!charge || charge.status !== 'pending') return;

  // The PSP recorded on the charge at creation (payments.psp), even if the default changed since.
  const psp = pspOf(ctx, charge.psp);

  // A refusal fails the charge with the PSP's reason; a pending answer records the PSP reference
  // and waits for the webhook; an outcome settles the charge.
  await callPspAndAct(
    ctx,
    { objectType: 'charge', objectId: charge.id, merchantId: charge.merchant_id, psp: psp.name },
    () => psp.createCharge({ reference: charge.id, amount: charge.amount, currency: charge.currency, paymentMethod: charge.payment_method }),
    {
      pending: (pspReference) => ctx.pspReferences.charges.record({ id: charge.id, pspReference, cause }),
      settle: (outcome) => inTransaction(ctx.pool, (tx) => settleCharge(tx, charge.id, outcome, { cause, log: ctx.log })),
    },
  );
}
