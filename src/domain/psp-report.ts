/**
 * What a PSP report does to a charge or refund FinCore holds: the PSP's truth wins, visibly.
 * A report (a webhook, the PSP's answer to a call, what a query of it returns) is applied when the
 * state machine (src/domain/status.ts) lets the PSP make that move; anything FinCore cannot apply
 * safely puts the object in `requires_review` with a reason an operator sees. Nothing is dropped
 * silently: an ignored report is ignored for a named reason, and the caller logs and counts it.
 */
import { canMove, type MoneyMovementStatus, type ObjectKind } from './status.ts';

/**
 * Why an object (or an event FinCore could not match) is in review, declared once: the review
 * object's `reason` enum, the reviews.reason CHECK (test/lists-agree.test.ts) and the API
 * reference derive from it.
 */
export const REVIEW_REASONS = [
  /** The PSP reports an amount different from what FinCore asked for. */
  'amount_mismatch',
  /** The PSP reports a currency different from what FinCore asked for. */
  'currency_mismatch',
  /** The PSP says succeeded for an object FinCore holds as failed (a refund's amount may have been freed and refunded again). */
  'succeeded_after_failed',
  /** The PSP says failed for a charge FinCore holds as succeeded (money FinCore counts may not be there). */
  'failed_after_succeeded',
  /** The PSP object names a FinCore object of another merchant, or of another kind. */
  'object_mismatch',
  /** A verified PSP event about an object FinCore still does not know after the matching window. */
  'unmatched_event',
  /** A refund made at the PSP that would take the charge over its amount. */
  'over_refund',
  /**
   * The PSP holds a refund FinCore canceled (canceled only before any PSP call, so the PSP must
   * never have it): money may have left although FinCore released the amount. Found by the
   * reconciliation sweep (flows/reconcile.ts); the refund stays canceled (a final status).
   */
  'canceled_refund_at_psp',
] as const;

export type ReviewReason = (typeof REVIEW_REASONS)[number];

/**
 * Whether opening a review of this reason put its object in requires_review, so that resolving
 * it moves the object out. A canceled refund is final: its review only records the contradiction,
 * and resolving it records the operator's decision and note and moves nothing.
 */
export function reviewHoldsObject(reason: ReviewReason): boolean {
  return reason !== CANCELED_AT_PSP;
}

/** The review reason of a PSP report about a refund FinCore canceled. */
export const CANCELED_AT_PSP = 'canceled_refund_at_psp' satisfies ReviewReason;

/** The operator's decisions on a review item, declared once. */
export const REVIEW_DECISIONS = ['accept_psp', 'keep_fincore'] as const;
export type ReviewDecision = (typeof REVIEW_DECISIONS)[number];

/** What the PSP says about one object. Amount and currency when the report carries them. */
export interface PspReport {
  status: 'pending' | 'succeeded' | 'failed';
  amount?: number | null;
  currency?: string | null;
}

/** The object as FinCore holds it: what it asked the PSP for, and where it stands. */
export interface HeldObject<S extends MoneyMovementStatus = MoneyMovementStatus> {
  status: S;
  amount: number;
  currency: string;
}

export type ReportDecision<S extends MoneyMovementStatus = MoneyMovementStatus> =
  /** `late`: out of a settled status (a refund failing after it succeeded). */
  | { kind: 'move'; to: S; late: boolean }
  | { kind: 'review'; reason: ReviewReason }
  | { kind: 'ignore'; why: IgnoreReason };

export type IgnoreReason =
  /** The PSP has not decided yet. */
  | 'still_pending'
  /** FinCore already holds what the PSP says (a redelivery, or the other channel won). */
  | 'already_so'
  /** The object waits for an operator: the report is kept with the event, the status stays. */
  | 'under_review';

/**
 * What a PSP report does to the object FinCore holds. `contradiction`: one found before the
 * report was read (the PSP object names another charge than FinCore's refund): reviewed,
 * whatever the report says.
 */
export function decidePspReport<S extends MoneyMovementStatus>(kind: ObjectKind, held: HeldObject<S>, report: PspReport, contradiction?: ReviewReason): ReportDecision<S> {
  if (held.status === 'requires_review') return { kind: 'ignore', why: 'under_review' };
  // A refund FinCore canceled is final, and it never reached the PSP: any report of it (pending
  // included: the PSP holds what FinCore took back) is for an operator, and the refund does not
  // move (reviewHoldsObject).
  if (held.status === 'canceled') return { kind: 'review', reason: CANCELED_AT_PSP };
  if (contradiction) return { kind: 'review', reason: contradiction };
  // A report about different money is a contradiction whatever its status says.
  if (report.currency != null && report.currency.toLowerCase() !== held.currency) return { kind: 'review', reason: 'currency_mismatch' };
  if (report.amount != null && report.amount !== held.amount) return { kind: 'review', reason: 'amount_mismatch' };
  if (report.status === 'pending') return { kind: 'ignore', why: 'still_pending' };
  if (report.status === held.status) return { kind: 'ignore', why: 'already_so' };
  if (canMove(kind, held.status, report.status, 'psp')) return { kind: 'move', to: report.status as S, late: held.status !== 'pending' };
  return { kind: 'review', reason: report.status === 'succeeded' ? 'succeeded_after_failed' : 'failed_after_succeeded' };
}

/**
 * Where an operator's decision moves a reviewed object: the PSP's last word (`accept_psp`), or
 * FinCore's status before the review (`keep_fincore`). Either may be `pending`: back to waiting
 * for the PSP (the worker's query and the reconciliation sweep ask it again).
 */
export function decideResolution<S extends MoneyMovementStatus>(decision: ReviewDecision, review: { statusBefore: S; pspStatus: S }): S {
  return decision === 'accept_psp' ? review.pspStatus : review.statusBefore;
}
