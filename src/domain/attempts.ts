/**
 * PSP attempt history and what FinCore knows about an object's PSP call ("unknown is an answer").
 * Declared once here: the outcome classes of one PSP call (psp_attempts.outcome CHECK, OpenAPI
 * enum), the kinds of a transient PSP failure (PspTransientError.kind), and the object's
 * psp_status. Pure: psp_status and next_check_at are derived from the latest attempt and the job
 * row, never stored, so they cannot disagree with the history they summarise.
 */

/** What kind of object a PSP call was for. */
export const ATTEMPT_OBJECT_TYPES = ['charge', 'refund'] as const;
export type AttemptObjectType = (typeof ATTEMPT_OBJECT_TYPES)[number];

/**
 * Why a PSP call ended without an answer (PspTransientError.kind). The outcome is unknown, except
 * for `not_sent`: the connection to the PSP could not be opened (refused, host not resolved, no
 * route), so no byte of the request left FinCore and the PSP cannot have acted on it.
 */
export const PSP_FAILURE_KINDS = ['timeout', 'server_error', 'network', 'not_sent'] as const;
export type PspFailureKind = (typeof PSP_FAILURE_KINDS)[number];

/**
 * How one PSP call ended:
 * - success: the PSP answered with a decided outcome (succeeded);
 * - pending: the PSP accepted the request and answers by webhook;
 * - decline: the PSP refused (4xx, PspPermanentError, or a card decline answer);
 * - timeout: no answer in time, or the answer was lost on the way (it may have acted);
 * - server_error: the PSP answered 5xx (or 409/429, or a body FinCore cannot read);
 * - network: the connection failed before an answer (after the request may have been written:
 *   a reset, a hang-up on a reused keep-alive socket);
 * - not_sent: the connection could not be opened (ECONNREFUSED, ENOTFOUND, EAI_AGAIN,
 *   EHOSTUNREACH, ENETUNREACH while connecting): the request never left FinCore. The only
 *   failure after which FinCore knows the PSP has nothing (a refund may still be canceled).
 */
export const ATTEMPT_OUTCOMES = ['success', 'pending', 'decline', ...PSP_FAILURE_KINDS] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

/**
 * What FinCore knows about an object's PSP call:
 * - not_sent: nothing reached the PSP: no call started yet, or every call so far failed to open
 *   the connection (attempts all `not_sent`); its job waits;
 * - sent_awaiting_answer: a call is in flight now;
 * - unknown_after_timeout: the last call ended without an answer (timeout, lost response, 5xx,
 *   network): the PSP may or may not have acted; FinCore asks again (never fails it for that);
 * - accepted: the PSP answered (pending) and FinCore waits for its webhook;
 * - settled: the object is no longer pending (succeeded, failed, in review, canceled).
 */
export const PSP_STATUSES = ['not_sent', 'sent_awaiting_answer', 'unknown_after_timeout', 'accepted', 'settled'] as const;
export type PspStatus = (typeof PSP_STATUSES)[number];

/** How a PSP call ended, as the flow saw it. */
export type CallResult =
  | { answer: 'pending' | 'succeeded' | 'failed' }
  | { refused: true }
  | { transient: PspFailureKind | undefined };

export function attemptOutcomeOf(result: CallResult): AttemptOutcome {
  if ('answer' in result) return result.answer === 'pending' ? 'pending' : result.answer === 'succeeded' ? 'success' : 'decline';
  if ('refused' in result) return 'decline';
  // A transient error without a kind still leaves the outcome unknown: the widest class.
  return result.transient ?? 'network';
}

/** An attempt that ended without telling FinCore what the PSP did (not_sent tells: nothing). */
export function isUnknownOutcome(outcome: AttemptOutcome): boolean {
  return outcome !== 'not_sent' && (PSP_FAILURE_KINDS as readonly string[]).includes(outcome);
}

/** An attempt whose request may have reached the PSP: every outcome but not_sent, and in flight (null). */
export function mayHaveReachedPsp(outcome: AttemptOutcome | null): boolean {
  return outcome !== 'not_sent';
}

export interface PspProgressInput {
  /** The object's status (charge or refund). Only `pending` is waiting for the PSP. */
  status: string;
  created_at: Date;
  /**
   * The latest attempt (highest attempt number), or null when none started. `reachedBefore`:
   * whether an earlier attempt may have reached the PSP (an outcome other than not_sent, or
   * still in flight); undefined when the caller read the latest attempt only.
   */
  latestAttempt: { outcome: AttemptOutcome | null; finished_at: Date | null; reachedBefore?: boolean } | null;
  /** The object's CHARGE / REFUND job, or null (imported objects have none). */
  job: { status: string; run_at: Date; locked_until: Date | null } | null;
  reconcileAfterMs: number;
  now: Date;
}

export interface PspProgress {
  psp_status: PspStatus;
  /** When FinCore will next ask (its job's next run, or the reconciliation sweep); null once settled. */
  next_check_at: Date | null;
}

export function pspProgress(input: PspProgressInput): PspProgress {
  if (input.status !== 'pending') return { psp_status: 'settled', next_check_at: null };
  // Reconciliation asks the PSP about objects pending longer than the threshold, at its next sweep.
  const reconcileAt = new Date(Math.max(input.created_at.getTime() + input.reconcileAfterMs, input.now.getTime()));
  const job = input.job;
  const jobNext = job?.status === 'queued' ? job.run_at : job?.status === 'running' ? (job.locked_until ?? input.now) : null;
  const attempt = input.latestAttempt;
  if (!attempt) {
    // No call recorded. A job that is done made its call before attempts were recorded (history
    // starts with migration 016): the PSP answered pending, else the object would be settled.
    if (job?.status === 'done') return { psp_status: 'accepted', next_check_at: reconcileAt };
    return { psp_status: 'not_sent', next_check_at: jobNext ?? reconcileAt };
  }
  if (attempt.finished_at === null || attempt.outcome === null) {
    return { psp_status: 'sent_awaiting_answer', next_check_at: jobNext ?? reconcileAt };
  }
  if (attempt.outcome === 'not_sent') {
    // The connection could not be opened: this call never reached the PSP. Unless an earlier one
    // may have, nothing did, and the next check is the job's retry (a refund may be canceled).
    const status: PspStatus = attempt.reachedBefore === true ? 'unknown_after_timeout' : 'not_sent';
    return { psp_status: status, next_check_at: jobNext ?? reconcileAt };
  }
  if (isUnknownOutcome(attempt.outcome)) return { psp_status: 'unknown_after_timeout', next_check_at: jobNext ?? reconcileAt };
  // pending (or an answer whose settlement is being recorded): the webhook, else reconciliation.
  return { psp_status: 'accepted', next_check_at: reconcileAt };
}

/** The public attempt object (GET /v1/charges/{id}/attempts, GET /v1/refunds/{id}/attempts). */
export interface AttemptRecord {
  object_type: AttemptObjectType;
  object_id: string;
  merchant_id: string;
  attempt_number: number;
  psp: string;
  idempotency_key: string;
  started_at: Date;
  finished_at: Date | null;
  latency_ms: number | null;
  outcome: AttemptOutcome | null;
  psp_code: string | null;
  fincore_code: string | null;
  message: string | null;
}

export interface AttemptObject {
  object: 'psp_attempt';
  object_type: AttemptObjectType;
  object_id: string;
  attempt_number: number;
  psp: string;
  idempotency_key: string;
  started_at: string;
  finished_at: string | null;
  latency_ms: number | null;
  /** null while the call is in flight. */
  outcome: AttemptOutcome | null;
  psp_code: string | null;
  fincore_code: string | null;
  message: string | null;
}

export function attemptObject(record: AttemptRecord): AttemptObject {
  return {
    object: 'psp_attempt',
    object_type: record.object_type,
    object_id: record.object_id,
    attempt_number: Number(record.attempt_number),
    psp: record.psp,
    idempotency_key: record.idempotency_key,
    started_at: record.started_at.toISOString(),
    finished_at: record.finished_at ? record.finished_at.toISOString() : null,
    latency_ms: record.latency_ms === null ? null : Number(record.latency_ms),
    outcome: record.outcome,
    psp_code: record.psp_code,
    fincore_code: record.fincore_code,
    message: record.message,
  };
}
