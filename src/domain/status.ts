/**
 * Charges and refunds share one state machine: pending -> succeeded | failed. Terminal states
 * never change; a late or repeated outcome for a terminal object is recorded and ignored.
 * TRANSITIONS is the one table: the statuses are its keys, the API schemas' `status` enums and
 * the SQL CHECKs on payments.status / refunds.status (compared by test/lists-agree.test.ts)
 * derive from it.
 */
export const TRANSITIONS = {
  pending: ['succeeded', 'failed'],
  succeeded: [],
  failed: [],
} as const satisfies Record<string, readonly string[]>;

export type MoneyMovementStatus = keyof typeof TRANSITIONS;
export type ChargeStatus = MoneyMovementStatus;
export type RefundStatus = MoneyMovementStatus;

/** Every status, in the table's order: pending, succeeded, failed. */
export const MONEY_MOVEMENT_STATUSES = Object.keys(TRANSITIONS) as MoneyMovementStatus[];
export const CHARGE_STATUSES: readonly ChargeStatus[] = MONEY_MOVEMENT_STATUSES;
export const REFUND_STATUSES: readonly RefundStatus[] = MONEY_MOVEMENT_STATUSES;

export function isTerminal(status: MoneyMovementStatus): boolean {
  return TRANSITIONS[status].length === 0;
}

export function canTransition(from: MoneyMovementStatus, to: MoneyMovementStatus): boolean {
  return (TRANSITIONS[from] as readonly MoneyMovementStatus[]).includes(to);
}

/** What an outcome reported by the PSP does to an object in `current` state. */
export type SettleDecision = { kind: 'transition'; to: 'succeeded' | 'failed' } | { kind: 'ignore'; why: 'still_pending' | 'already_terminal' };

export function decideSettlement(current: MoneyMovementStatus, reported: MoneyMovementStatus): SettleDecision {
  if (reported === 'pending') return { kind: 'ignore', why: 'still_pending' };
  if (!canTransition(current, reported)) return { kind: 'ignore', why: 'already_terminal' };
  return { kind: 'transition', to: reported };
}
