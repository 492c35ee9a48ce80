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
