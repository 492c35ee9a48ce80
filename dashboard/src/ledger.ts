// Groups ledger postings by movement (one journal entry = one event) so the page can show that
// each one balances: debits (> 0) and credits (< 0) sum to zero per currency.
import type { LedgerEntry } from './types.ts';

export interface Movement {
  eventId: string;
  movement: string;
  currency: string;
  refundId: string | null;
  entries: LedgerEntry[];
  debits: number;
  credits: number;
  /** debits + credits: 0 when the movement balances. */
  net: number;
}

export function groupMovements(ledger: LedgerEntry[]): Movement[] {
  const groups = new Map<string, Movement>();
  for (const entry of ledger) {
    const key = `${entry.event_id}|${entry.currency}`;
    let group = groups.get(key);
    if (!group) {
      group = { eventId: entry.event_id, movement: entry.movement, currency: entry.currency, refundId: entry.refund_id, entries: [], debits: 0, credits: 0, net: 0 };
      groups.set(key, group);
    }
    group.entries.push(entry);
    if (entry.amount > 0) group.debits += entry.amount;
    else group.credits += entry.amount;
    group.net += entry.amount;
  }
  return [...groups.values()];
}

/** Balance per account and currency over all postings (what the charge leaves on each account). */
export function accountBalances(ledger: LedgerEntry[]): { account: string; currency: string; balance: number }[] {
  const balances = new Map<string, { account: string; currency: string; balance: number }>();
  for (const entry of ledger) {
    const key = `${entry.account}|${entry.currency}`;
    const row = balances.get(key) ?? { account: entry.account, currency: entry.currency, balance: 0 };
    row.balance += entry.amount;
    balances.set(key, row);
  }
  return [...balances.values()];
}
