/**
 * The CHARGE job: asks the PSP to charge, keyed by the charge id so a retried job can never
 * charge twice. The PSP call sits between transactions, never inside one.
 * A transient PSP error propagates: the worker retries the job with backoff.
 */
import type { Cause } from '../db/events.ts';
import { inTransaction } from '../db/pool.ts';
import { PspPermanentError, type PspOutcome } from '../psp/gateway.ts';
import { recordedPspCall } from './attempts.ts';
import { pspOf, type FlowContext } from './context.ts';
import { settleCharge } from './settle.ts';

export async function executeCharge(ctx: FlowContext, chargeId: string, cause: Cause): Promise<void> {
  // Phase 1: read. A charge already settled (webhook arrived first, job replayed) needs nothing.
  const charge = await ctx.jobReads.charges.read(chargeId);
  if (!charge || charge.status !== 'pending') return;

  // Phase 2: the PSP call, outside any transaction, to the PSP recorded on the charge at creation
  // (payments.psp), even if the default changed since.
  const psp = pspOf(ctx, charge.psp);
  let outcome: PspOutcome;
  // The attempt's completion, written while the answer is acted on (flows/attempts.ts).
  let recorded: Promise<void> = Promise.resolve();
  try {
    // Recorded as an attempt (flows/attempts.ts): started before the call, completed after it.
    ({ outcome, recorded } = await recordedPspCall(ctx, { objectType: 'charge', objectId: charge.id, merchantId: charge.merchant_id, psp: psp.name }, () =>
      psp.createCharge({ reference: charge.id, amount: charge.amount, currency: charge.currency, paymentMethod: charge.payment_method }),
    ));
  } catch (error) {
    if (!(error instanceof PspPermanentError)) throw error;
    // The PSP refused for good: the charge fails with the PSP's reason.
    outcome = { pspReference: '', status: 'failed', failureCode: error.code, failureMessage: error.message };
  }

  // Phase 3: record what the PSP said. A pending answer records the PSP reference (with its
  // charge.updated event, in a transaction) and waits for the webhook; an outcome settles the
  // charge, its PSP reference carried by the settlement and its event.
  try {
    if (outcome.status === 'pending') {
      if (outcome.pspReference) await ctx.pspReferences.charges.record({ id: charge.id, pspReference: outcome.pspReference, cause });
      return;
    }
    await inTransaction(ctx.pool, (tx) => settleCharge(tx, charge.id, outcome, { cause, log: ctx.log }));
  } finally {
    await recorded;
  }
}
