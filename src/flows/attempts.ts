/**
 * PSP attempt history (issue 17). Every PSP call for a charge or refund is recorded around the
 * call: a row when it starts, completed when it ends. Chosen over one row after the call so an
 * in-flight call is visible (psp_status `sent_awaiting_answer`) and a worker that dies mid-call
 * leaves a started row behind instead of nothing: the history then shows a call whose answer
 * nobody heard, which is exactly what happened. Both writes are outside any transaction (the PSP
 * call is never inside one), through ctx.attempts: one statement per call, or in the postgres
 * worker one per group of calls (src/jobs/grouped-attempts.ts).
 *
 * The reads: GET /v1/charges/{id}/attempts and GET /v1/refunds/{id}/attempts (the merchant's
 * own objects only), and psp_status / next_check_at of charge and refund objects, derived from
 * the latest attempt and the job row (src/domain/attempts.ts pspProgress).
 */
import { attemptObject, attemptOutcomeOf, mayHaveReachedPsp, pspProgress, type AttemptObject, type AttemptObjectType, type CallResult, type PspProgress } from '../domain/attempts.ts';
import { ResourceMissing } from '../domain/errors.ts';
import { attemptsOf, pspProgressRows } from '../db/attempts.ts';
import { findChargeWithRefunds } from '../db/charges.ts';
import type { Queryable } from '../db/pool.ts';
import { findRefundOfMerchant } from '../db/refunds.ts';
import { PspPermanentError, PspTransientError, type PspOutcome } from '../psp/gateway.ts';
import type { FlowContext } from './context.ts';

export interface AttemptTarget {
  objectType: AttemptObjectType;
  objectId: string;
  merchantId: string;
  psp: string;
}

/**
 * Makes one PSP call, recorded as an attempt keyed by the FinCore id (the idempotency key the
 * adapters send). Rethrows the PSP's error once the attempt is completed, classified. An answer
 * is returned at once with `recorded`, the attempt's completion still being written: the caller
 * records the answer (PSP reference, settlement) meanwhile, then awaits it, so keeping the
 * history adds no delay between the PSP's answer and FinCore acting on it (a webhook or a
 * reconciliation sweep racing that moment finds the PSP reference as early as before).
 * `recorded` never rejects.
 */
async function recordedPspCall(ctx: FlowContext, target: AttemptTarget, call: () => Promise<PspOutcome>): Promise<{ outcome: PspOutcome; recorded: Promise<void> }> {
  const attemptNumber = await ctx.attempts.start({ ...target, idempotencyKey: target.objectId });
  const startedAt = performance.now();
  let result: CallResult;
  let pspCode: string | null = null;
  let fincoreCode: string | null = null;
  let message: string | null = null;
  let outcome: PspOutcome | undefined;
  let failure: unknown;
  try {
    outcome = await call();
    result = { answer: outcome.status };
    if (outcome.status === 'failed') {
      pspCode = outcome.failureCode;
      fincoreCode = outcome.failureCode ?? 'failed';
      message = outcome.failureMessage;
    } else fincoreCode = outcome.status;
  } catch (error) {
    failure = error;
    message = error instanceof Error ? error.message : String(error);
    if (error instanceof PspPermanentError) {
      result = { refused: true };
      pspCode = error.code;
      fincoreCode = error.code;
    } else if (error instanceof PspTransientError) {
      result = { transient: error.kind };
      pspCode = error.pspCode;
    } else result = { transient: undefined };
  }
  const latencyMs = performance.now() - startedAt;
  const recorded = ctx.attempts.finish({ objectId: target.objectId, attemptNumber, outcome: attemptOutcomeOf(result), latencyMs, pspCode, fincoreCode, message }).catch((error: unknown) => {
    // The PSP's answer matters more than its history: act on it anyway; the row stays in flight
    // until the next attempt supersedes it.
    ctx.log?.warn({ err: error instanceof Error ? error.message : String(error), object_id: target.objectId }, 'could not complete the PSP attempt record');
  });
  if (outcome) return { outcome, recorded };
  await recorded;
  throw failure;
}

/** What a money job does once the PSP has answered: record a pending answer's reference, or settle. */
export interface PspAnswerHandlers {
  /** A pending answer: its PSP reference is recorded (with its event, in a transaction); the webhook settles the object later. */
  pending(pspReference: string): Promise<void>;
  /** Any other outcome (a permanent refusal included, as `failed`): the object is settled, its PSP reference carried by the settlement. */
  settle(outcome: PspOutcome): Promise<unknown>;
}

/**
 * The CHARGE and REFUND jobs' PSP call and what follows: the call, recorded as an attempt
 * (recordedPspCall); a permanent refusal is a `failed` outcome; then `handlers` act on the
 * answer while the attempt's completion is written. A transient error propagates: the worker
 * retries the job with backoff.
 */
export async function callPspAndAct(ctx: FlowContext, target: AttemptTarget, call: () => Promise<PspOutcome>, handlers: PspAnswerHandlers): Promise<void> {
  let outcome: PspOutcome;
  let recorded: Promise<void> = Promise.resolve();
  try {
    ({ outcome, recorded } = await recordedPspCall(ctx, target, call));
  } catch (error) {
    if (!(error instanceof PspPermanentError)) throw error;
    outcome = { pspReference: '', status: 'failed', failureCode: error.code, failureMessage: error.message };
  }
  try {
    if (outcome.status === 'pending') {
      if (outcome.pspReference) await handlers.pending(outcome.pspReference);
      return;
    }
    await handlers.settle(outcome);
  } finally {
    await recorded;
  }
}

/** The attempts of one of the merchant's objects, newest first; another merchant's object is missing. */
export async function getAttempts(db: Queryable, merchantId: string, objectType: AttemptObjectType, objectId: string): Promise<{ object: 'list'; data: AttemptObject[]; has_more: false; url: string }> {
  const exists = objectType === 'charge' ? await findChargeWithRefunds(db, merchantId, objectId, 0) : await findRefundOfMerchant(db, merchantId, objectId);
  if (!exists) throw new ResourceMissing(`No such ${objectType}: '${objectId}'`, 'id');
  const rows = await attemptsOf(db, merchantId, objectType, objectId);
  return { object: 'list', data: rows.map(attemptObject), has_more: false, url: `/v1/${objectType}s/${encodeURIComponent(objectId)}/attempts` };
}

/**
 * psp_status and next_check_at of objects, by id (created_at and status from the object itself).
 * `reconcileAfterMs` is the configured FINCORE_RECONCILE_AFTER_MS (FlowContext.reconcileAfterMs):
 * required, since a default here once made next_check_at promise a sweep 30 s after creation
 * whatever the configuration said.
 */
export async function pspProgressOf(
  db: Queryable,
  objects: readonly { id: string; status: string; created_at: Date | string }[],
  reconcileAfterMs: number,
): Promise<Map<string, PspProgress>> {
  const rows = await pspProgressRows(db, objects.filter((o) => o.status === 'pending').map((o) => o.id));
  const progress = new Map<string, PspProgress>();
  for (const object of objects) {
    const row = rows.get(object.id);
    progress.set(
      object.id,
      pspProgress({
        status: object.status,
        created_at: new Date(object.created_at),
        latestAttempt: row?.has_attempt ? { outcome: row.attempt_outcome, finished_at: row.attempt_finished_at, reachedBefore: row.earlier_outcomes.some(mayHaveReachedPsp) } : null,
        job: row?.job_status && row.job_run_at ? { status: row.job_status, run_at: row.job_run_at, locked_until: row.job_locked_until } : null,
        reconcileAfterMs,
        now: row?.now ?? new Date(),
      }),
    );
  }
  return progress;
}
