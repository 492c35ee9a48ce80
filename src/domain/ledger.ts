/**
 * The double-entry ledger's rules: which postings each money movement makes, and what the
 * balances of one charge must be given the charge and its refunds. Pure; the SQL only stores.
 *
 * Accounts, per merchant and currency. A posting's amount is signed: > 0 debits, < 0 credits.
 * - psp_clearing      money the PSP holds for us: debited when a charge succeeds, credited when
 *                     a refund is paid out.
 * - merchant_balance  what we owe the merchant (a liability, so its balance is a credit, < 0):
 *                     credited by a succeeded charge, debited when a refund reserves money.
 * - refunds_reserved  refunds accepted and not yet paid out (a credit balance): credited when a
 *                     refund is created, debited when it succeeds (paid out) or fails (released).
 *
 * A pending or failed charge moves no money, so it posts nothing.
 */
import type { ChargeStatus, RefundStatus } from './status.ts';

export type Account = 'psp_clearing' | 'merchant_balance' | 'refunds_reserved';

/**
 * Every kind of journal entry, declared once (the ledger_entries.movement CHECK is compared with
 * it by test/lists-agree.test.ts), each with its debit and credit account.
 */
export const MOVEMENTS = {
  charge_succeeded: ['psp_clearing', 'merchant_balance'],
  /** A charge FinCore counted turns out not to have taken the money (operator, after review). */
  charge_reversed: ['merchant_balance', 'psp_clearing'],
  refund_reserved: ['merchant_balance', 'refunds_reserved'],
  refund_succeeded: ['refunds_reserved', 'psp_clearing'],
  refund_released: ['refunds_reserved', 'merchant_balance'],
  /** A refund the PSP reported succeeded fails later: the money is the merchant's again. */
  refund_reversed: ['psp_clearing', 'merchant_balance'],
  /** A paid-out refund goes to review: held as reserved until an operator decides. */
  refund_held_for_review: ['psp_clearing', 'refunds_reserved'],
  /** A lost dispute: the card network took the disputed amount back from the merchant's money. */
  dispute_lost: ['merchant_balance', 'psp_clearing'],
} as const satisfies Record<string, readonly [debit: Account, credit: Account]>;

export type Movement = keyof typeof MOVEMENTS;
export const MOVEMENT_NAMES = Object.keys(MOVEMENTS) as Movement[];

export interface Posting {
  account: Account;
  amount: number;
}

/** The postings of one movement of `amount` (minor units, > 0). They always sum to zero. */
export function postingsFor(movement: Movement, amount: number): Posting[] {
  if (!Number.isSafeInteger(amount) || amount <= 0) throw new RangeError(`a ledger movement needs a positive integer amount, got ${amount}`);
  const [debit, credit] = MOVEMENTS[movement];
  return [
    { account: debit, amount },
    { account: credit, amount: -amount },
  ];
}

/**
 * The journal entry of a move (its postings for `amount`), or undefined when the move leaves the
 * money where it was: what every status change hands to its settlement write.
 */
export function journalEntryFor<E extends { merchantId: string; currency: string; chargeId: string; refundId: string | null }>(
  movement: Movement | undefined,
  amount: number,
  entry: E,
): (E & { movement: Movement; postings: Posting[] }) | undefined {
  return movement ? { ...entry, movement, postings: postingsFor(movement, amount) } : undefined;
}

/**
 * Where a refund's money is in each status: reserved (accepted, not paid out: pending, and
 * requires_review, which holds it until an operator decides), paid out (succeeded), or free
 * (failed: it never left, or came back).
 */
export type RefundMoney = 'reserved' | 'paid_out' | 'free';

const REFUND_MONEY: Record<RefundStatus, RefundMoney> = {
  pending: 'reserved',
  succeeded: 'paid_out',
  failed: 'free',
  requires_review: 'reserved',
  // Canceled before the PSP was asked: the reservation is released (refund_released).
  canceled: 'free',
};

const REFUND_MOVEMENTS: Partial<Record<`${RefundMoney}->${RefundMoney}`, Movement>> = {
  'reserved->paid_out': 'refund_succeeded',
  'reserved->free': 'refund_released',
  'paid_out->free': 'refund_reversed',
  'paid_out->reserved': 'refund_held_for_review',
  'free->reserved': 'refund_reserved',
};

/** The journal entry a refund's move posts; undefined when its money stays where it is. */
export function refundMovement(from: RefundStatus, to: RefundStatus): Movement | undefined {
  const before = REFUND_MONEY[from];
  const after = REFUND_MONEY[to];
  if (before === after) return undefined;
  const movement = REFUND_MOVEMENTS[`${before}->${after}`];
  if (!movement) throw new RangeError(`no ledger movement for a refund moving ${from} -> ${to}`);
  return movement;
}

/** The movement a refund's first settlement (out of pending) makes. */
export function refundSettlementMovement(status: 'succeeded' | 'failed'): Movement {
  return refundMovement('pending', status) as Movement;
}

/**
 * Whether a charge's money counts as taken: succeeded, or in review after it had succeeded (held
 * as it was until an operator decides).
 */
export function chargeCounted(status: ChargeStatus, statusBeforeReview: ChargeStatus | null): boolean {
  return status === 'succeeded' || (status === 'requires_review' && statusBeforeReview === 'succeeded');
}

/** The journal entry a charge's move posts; undefined when what counts stays the same. */
export function chargeMovement(before: boolean, after: boolean): Movement | undefined {
  if (before === after) return undefined;
  return after ? 'charge_succeeded' : 'charge_reversed';
}

export type Balances = Record<Account, number>;

/**
 * What one refund's own journal entries must add up to in its current status: reserved
 * (merchant_balance +a, refunds_reserved -a), paid out (merchant_balance +a, psp_clearing -a), or
 * nothing when free. A late failure without its reversing entry, say, leaves the paid-out
 * balances on a failed refund: fincore audit verify reports it.
 */
export function expectedRefundBalances(status: RefundStatus, amount: number): Balances {
  const money = REFUND_MONEY[status];
  return {
    psp_clearing: money === 'paid_out' ? -amount : 0,
    merchant_balance: money === 'free' ? 0 : amount,
    refunds_reserved: money === 'reserved' ? -amount : 0,
  };
}

/**
 * The balances one charge's postings must add up to, from the charge and its refunds as they are:
 * the ledger and the tables must tell the same story (fincore audit verify checks it).
 */
export function expectedChargeBalances(
  charge: { status: ChargeStatus; amount: number; status_before_review?: ChargeStatus | null },
  refunds: readonly { status: RefundStatus; amount: number }[],
  lostToDisputes = 0,
): Balances {
  const charged = chargeCounted(charge.status, charge.status_before_review ?? null) ? charge.amount : 0;
  const sum = (money: RefundMoney) => refunds.filter((r) => REFUND_MONEY[r.status] === money).reduce((total, r) => total + r.amount, 0);
  const reserved = sum('reserved');
  const paidOut = sum('paid_out');
  return {
    psp_clearing: charged - paidOut - lostToDisputes,
    merchant_balance: reserved + paidOut + lostToDisputes - charged,
    refunds_reserved: 0 - reserved, // never -0: balances are compared with deepEqual / from SQL sums
  };
}
