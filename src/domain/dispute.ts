/**
 * Disputes (chargebacks) on a charge: the card network pulls the money back. FinCore keeps its own
 * three statuses next to the PSP's raw one: `open` while the card network decides (a refund then
 * would pay the customer twice: refused with charge_disputed), `won` (the money stays, refunds
 * are allowed again), `lost` (the disputed amount is gone and no longer refundable).
 */
export const DISPUTE_STATUSES = ['open', 'won', 'lost'] as const;
export type DisputeStatus = (typeof DISPUTE_STATUSES)[number];

export interface DisputeAmounts {
  amount: number;
  status: DisputeStatus;
}

export function hasOpenDispute(disputes: readonly DisputeAmounts[]): boolean {
  return disputes.some((d) => d.status === 'open');
}

/** What lost disputes took back from the charge: no longer refundable. */
export function amountLostToDisputes(disputes: readonly DisputeAmounts[]): number {
  return disputes.reduce((sum, d) => (d.status === 'lost' ? sum + d.amount : sum), 0);
}

/**
 * What refunding a charge needs to know about its disputes: whether one is open (refunds are
 * refused meanwhile) and how much lost ones took back (no longer refundable). Read with the
 * charge's other refund facts and re-checked under its row lock by the refund write.
 */
export interface DisputeFacts {
  open: boolean;
  lost: number;
}

export const NO_DISPUTES: DisputeFacts = Object.freeze({ open: false, lost: 0 });

export function disputeFactsOf(disputes: readonly DisputeAmounts[]): DisputeFacts {
  return { open: hasOpenDispute(disputes), lost: amountLostToDisputes(disputes) };
}

/** A dispute as FinCore holds it, and as a PSP report describes it. */
export interface DisputeState {
  status: DisputeStatus;
  psp_status: string;
  amount: number;
  reason: string | null;
}

export type DisputeEventType = 'charge.dispute.created' | 'charge.dispute.updated' | 'charge.dispute.closed';

/**
 * What a PSP report does to a dispute. Pure.
 * - unknown dispute: recorded (charge.dispute.created, and charge.dispute.closed too when the
 *   first word FinCore hears is already won or lost, so a merchant following `closed` hears it);
 * - a move to won or lost: charge.dispute.closed; any other change: charge.dispute.updated;
 * - a move to lost posts the `dispute_lost` journal entry (postsLoss), once;
 * - `lost` is final: the money is gone and its journal entry posted. A later report saying
 *   otherwise is refused (the operator hears it); one repeating `lost` only updates the PSP's
 *   raw status and reason. `won` is not final: a second chargeback (Adyen) reopens it.
 * - a repeat of what FinCore holds is ignored (PSPs resend events).
 */
export type DisputeDecision =
  | { kind: 'create'; events: DisputeEventType[]; postsLoss: boolean }
  | { kind: 'update'; event: DisputeEventType; postsLoss: boolean; amount: number }
  | { kind: 'ignore'; why: 'unchanged' | 'lost_is_final' };

export function decideDisputeReport(existing: DisputeState | undefined, reported: DisputeState): DisputeDecision {
  if (!existing) {
    const closed = reported.status !== 'open';
    return { kind: 'create', events: closed ? ['charge.dispute.created', 'charge.dispute.closed'] : ['charge.dispute.created'], postsLoss: reported.status === 'lost' };
  }
  if (existing.status === 'lost') {
    if (reported.status !== 'lost') return { kind: 'ignore', why: 'lost_is_final' };
    // The amount lost is posted: it stays what it was.
    if (reported.psp_status === existing.psp_status && reported.reason === existing.reason) return { kind: 'ignore', why: 'unchanged' };
    return { kind: 'update', event: 'charge.dispute.updated', postsLoss: false, amount: existing.amount };
  }
  if (reported.status !== existing.status) {
    return { kind: 'update', event: reported.status === 'open' ? 'charge.dispute.updated' : 'charge.dispute.closed', postsLoss: reported.status === 'lost', amount: reported.amount };
  }
  if (reported.psp_status === existing.psp_status && reported.reason === existing.reason && reported.amount === existing.amount) return { kind: 'ignore', why: 'unchanged' };
  return { kind: 'update', event: 'charge.dispute.updated', postsLoss: false, amount: reported.amount };
}
