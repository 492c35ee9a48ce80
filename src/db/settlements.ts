/**
 * SQL for settling a charge or refund: its row moves to the status the flow decided, its event is
 * appended and, when money moved, the event's journal entry is posted, all in ONE statement
 * (data-modifying CTEs) instead of three round trips. The caller holds the row lock and has
 * decided the move (flows/settle.ts), so it knows the row as it will be.
 *
 * The UPDATEs find the row by primary key only, on purpose: with `AND status = 'pending'` the
 * planner may walk the whole pending partial index (every pending refund) instead, as it did in
 * the bench with 15,000 refunds pending (12 ms per settle): a PSP outage's backlog would make
 * each settle cost as much as the backlog is long. The tables' triggers refuse any move the
 * transition tables do not name, so the predicate guarded nothing the lock and the state machine do not.
 */
import type { EventType } from '../domain/events.ts';
import type { Cause } from './events.ts';
import type { JournalEntry } from './ledger.ts';
import type pg from 'pg';
import type { ChargeRecord, RefundRecord } from '../domain/objects.ts';
import type { ReviewReason } from '../domain/psp-report.ts';
import type { ChargeStatus, RefundStatus } from '../domain/status.ts';
import { namedStatement, type Queryable } from './pool.ts';

/**
 * The row, locked FOR UPDATE, and the transaction's now(): what `updated_at = now()` will write,
 * so the caller knows the row as the settlement leaves it.
 */
export interface Locked<Row> {
  row: Row;
  lockedAt: Date;
}

export async function lockForSettlement(db: Queryable, table: 'payments', id: string): Promise<Locked<ChargeRecord> | undefined>;
export async function lockForSettlement(db: Queryable, table: 'refunds', id: string): Promise<Locked<RefundRecord> | undefined>;
export async function lockForSettlement(db: Queryable, table: 'payments' | 'refunds', id: string): Promise<Locked<pg.QueryResultRow> | undefined> {
  const { rows } = await db.query<{ locked_at: Date }>(`SELECT *, now() AS locked_at FROM ${table} WHERE id = $1 FOR UPDATE`, [id]);
  const found = rows[0];
  if (!found) return undefined;
  const { locked_at: lockedAt, ...row } = found;
  return { row, lockedAt };
}

export interface SettlementEvent {
  id: string;
  merchantId: string;
  type: EventType;
  objectType: 'charge' | 'refund';
  objectId: string;
  data: unknown;
  cause: Cause;
}

export interface RefundMove {
  refundId: string;
  status: RefundStatus;
  failureReason: string | null;
  reviewReason: ReviewReason | null;
  pspReference: string | null;
}

export interface ChargeMove {
  chargeId: string;
  status: ChargeStatus;
  failureCode: string | null;
  failureMessage: string | null;
  reviewReason: ReviewReason | null;
  pspReference: string | null;
}

export async function settleRefundRow(db: Queryable, move: RefundMove, event: SettlementEvent, journal: Omit<JournalEntry, 'eventId'> | undefined): Promise<void> {
  await writeSettlement(
    db,
    'settle_refund_row',
    `UPDATE refunds SET status = $1, failure_reason = $2, review_reason = $3, psp_reference = $4, updated_at = now() WHERE id = $5 RETURNING id`,
    [move.status, move.failureReason, move.reviewReason, move.pspReference, move.refundId],
    event,
    journal,
  );
}

export async function settleChargeRow(db: Queryable, move: ChargeMove, event: SettlementEvent, journal: Omit<JournalEntry, 'eventId'> | undefined): Promise<void> {
  await writeSettlement(
    db,
    'settle_charge_row',
    `UPDATE payments SET status = $1, failure_code = $2, failure_message = $3, review_reason = $4, psp_reference = $5, updated_at = now() WHERE id = $6 RETURNING id`,
    [move.status, move.failureCode, move.failureMessage, move.reviewReason, move.pspReference, move.chargeId],
    event,
    journal,
  );
}

/**
 * `moveSql` uses $1..$n for `moveValues`; the event and postings follow. A named statement
 * (`name`, one per table): every settlement sends the same text, and its plan is primary-key
 * probes and inserts whatever the tables hold, so the connection parses and plans it once.
 */
async function writeSettlement(db: Queryable, name: string, moveSql: string, moveValues: unknown[], event: SettlementEvent, journal: Omit<JournalEntry, 'eventId'> | undefined): Promise<void> {
  const n = moveValues.length;
  const $ = (i: number) => `$${n + i}`;
  const postings = journal?.postings ?? [];
  const { rows } = await db.query<{ moved: number; recorded: number; posted: number }>(namedStatement(
    db,
    name,
    `WITH moved AS (${moveSql}),
          recorded AS (
            INSERT INTO events (id, merchant_id, type, object_type, object_id, data, cause_type, cause_id, cause_idempotency_key)
            SELECT ${$(1)}, ${$(2)}, ${$(3)}, ${$(4)}, ${$(5)}, ${$(6)}, ${$(7)}, ${$(8)}, ${$(9)} FROM moved
            RETURNING id),
          posted AS (
            INSERT INTO ledger_entries (event_id, merchant_id, movement, account, currency, amount, charge_id, refund_id)
            SELECT recorded.id, ${$(2)}, ${$(10)}, posting.account, ${$(11)}, posting.amount, ${$(12)}, ${$(13)}
              FROM recorded, unnest(${$(14)}::text[], ${$(15)}::bigint[]) AS posting (account, amount)
            RETURNING 1)
     SELECT (SELECT count(*) FROM moved)::int AS moved, (SELECT count(*) FROM recorded)::int AS recorded, (SELECT count(*) FROM posted)::int AS posted`,
    [
      ...moveValues,
      event.id, event.merchantId, event.type, event.objectType, event.objectId, JSON.stringify(event.data), event.cause.type, event.cause.id, event.cause.idempotencyKey ?? null,
      journal?.movement ?? null, journal?.currency ?? null, journal?.chargeId ?? null, journal?.refundId ?? null,
      postings.map((p) => p.account), postings.map((p) => p.amount),
    ],
  ));
  const row = rows[0];
  // The caller holds the row lock, so the row is there; anything else is a bug worth a rollback.
  if (row?.moved !== 1 || row.recorded !== 1 || row.posted !== postings.length) {
    throw new Error(`settlement of ${event.objectType} ${event.objectId} wrote ${JSON.stringify(row)}`);
  }
}
