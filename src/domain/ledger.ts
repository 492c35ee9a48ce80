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
export type Account = 'psp_clearing' | 'merchant_balance' | 'refunds_reserved';
export type Movement = 'charge_succeeded' | 'refund_reserved' | 'refund_succeeded' | 'refund_released';

export interface Posting {
  account: Account;
  amount: number;
}

const LEGS: Record<Movement, readonly [debit: Account, credit: Account]> = {
  charge_succeeded: ['psp_clearing', 'merchant_balance'],
  refund_reserved: ['merchant_balance', 'refunds_reserved'],
  refund_succeeded: ['refunds_reserved', 'psp_clearing'],
  refund_released: ['refunds_reserved', 'merchant_balance'],
};

/** The postings of one movement of `amount` (minor units, > 0). They always sum to zero. */
export function postingsFor(movement: Movement, amount: number): Posting[] {
  if (!Number.isSafeInteger(amount) || amount <= 0) throw new RangeError(`a ledger movement needs a positive integer amount, got ${amount}`);
  const [debit, credit] = LEGS[movement];
  return [
    { account: debit, amount },
    { account: credit, amount: -amount },
  ];
}

/** The movement a refund's terminal status makes. */
export function refundSettlementMovement(status: 'succeeded' | 'failed'): Movement {
  return status === 'succeeded' ? 'refund_succeeded' : 'refund_released';
}

export type Balances = Record<Account, number>;

/**
 * The balances one charge's postings must add up to, from the charge and its refunds as they are:
 * the ledger and the tables must tell the same story (fincore audit verify checks it).
 */
export function expectedChargeBalances(
  charge: { status: string; amount: number },
  refunds: readonly { status: string; amount: number }[],
): Balances {
  const charged = charge.status === 'succeeded' ? charge.amount : 0;
  const sum = (status: string) => refunds.filter((r) => r.status === status).reduce((total, r) => total + r.amount, 0);
  const pending = sum('pending');
  const paidOut = sum('succeeded');
  return {
    psp_clearing: charged - paidOut,
    merchant_balance: pending + paidOut - charged,
    refunds_reserved: 0 - pending, // never -0: balances are compared with deepEqual / from SQL sums
  };
}
