/** SQL for the ledger: one INSERT per journal entry, so the balance trigger sees it whole. */
import type { Movement, Posting } from '../domain/ledger.ts';
import type { Queryable } from './pool.ts';

export interface JournalEntry {
  /** The event that records this money movement. */
  eventId: string;
  merchantId: string;
  movement: Movement;
  currency: string;
  chargeId: string;
  refundId: string | null;
  postings: readonly Posting[];
}

export async function insertJournalEntry(db: Queryable, entry: JournalEntry): Promise<void> {
  await db.query(
    `INSERT INTO ledger_entries (event_id, merchant_id, movement, account, currency, amount, charge_id, refund_id)
     SELECT $1, $2, $3, posting.account, $4, posting.amount, $5, $6
       FROM unnest($7::text[], $8::bigint[]) AS posting (account, amount)`,
    [entry.eventId, entry.merchantId, entry.movement, entry.currency, entry.chargeId, entry.refundId, entry.postings.map((p) => p.account), entry.postings.map((p) => p.amount)],
  );
}

export interface LedgerEntryRow {
  id: number;
  event_id: string;
  movement: Movement;
  account: Posting['account'];
  currency: string;
  amount: number;
  charge_id: string;
  refund_id: string | null;
  created_at: Date;
}

/** The charge's own postings and those of the refunds named (whole movements: every posting of each). */
export async function ledgerEntriesOfCharge(db: Queryable, chargeId: string, refundIds: readonly string[]): Promise<LedgerEntryRow[]> {
  const { rows } = await db.query<LedgerEntryRow>(
    'SELECT * FROM ledger_entries WHERE charge_id = $1 AND (refund_id IS NULL OR refund_id = ANY($2::text[])) ORDER BY id',
    [chargeId, refundIds],
  );
  return rows;
}
