/**
 * Charges and refunds share one state machine: pending -> succeeded | failed. Terminal states
 * never change; a late or repeated outcome for a terminal object is recorded and ignored.
 */
export type MoneyMovementStatus = 'pending' | 'succeeded' | 'failed';
export type ChargeStatus = MoneyMovementStatus;
export type RefundStatus = MoneyMovementStatus;

export function isTerminal(status: MoneyMovementStatus): boolean {
  return status !== 'pending';
}

export function canTransition(from: MoneyMovementStatus, to: MoneyMovementStatus): boolean {
  return from === 'pending' && to !== 'pending';
}

/** What an outcome reported by the PSP does to an object in `current` state. */
export type SettleDecision = { kind: 'transition'; to: 'succeeded' | 'failed' } | { kind: 'ignore'; why: 'still_pending' | 'already_terminal' };

export function decideSettlement(current: MoneyMovementStatus, reported: MoneyMovementStatus): SettleDecision {
  if (reported === 'pending') return { kind: 'ignore', why: 'still_pending' };
  if (!canTransition(current, reported)) return { kind: 'ignore', why: 'already_terminal' };
  return { kind: 'transition', to: reported };
}
