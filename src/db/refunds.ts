/** SQL for refunds. Refund rows are immutable except for their status fields and metadata. */
import type { DisputeFacts } from '../domain/dispute.ts';
import type { Metadata, RefundRecord } from '../domain/objects.ts';
import type { PageCursor } from './charges.ts';
import type { Posting } from '../domain/ledger.ts';
import type { ChargeStatus } from '../domain/status.ts';
import { idempotencyParams, storedRecord, type IdempotencyRecord, type IdempotencyWrite } from './idempotency.ts';
import { namedStatement, type Queryable } from './pool.ts';

export async function findRefundOfMerchant(db: Queryable, merchantId: string, refundId: string): Promise<RefundRecord | undefined> {
  const { rows } = await db.query<RefundRecord>('SELECT * FROM refunds WHERE id = $1 AND merchant_id = $2', [refundId, merchantId]);
  return rows[0];
}

export interface RefundFilter {
  chargeId?: string;
  status?: string;
  createdGte?: Date;
  createdLte?: Date;
  /** The merchant's own reference (unique per charge). */
  reference?: string;
}

/** `limit + 1` rows in the cursor's direction (PageCursor, src/db/charges.ts). */
export async function listRefunds(db: Queryable, merchantId: string, filter: RefundFilter, limit: number, cursor: PageCursor): Promise<RefundRecord[]> {
  const order = cursor.endingBefore ? 'ASC' : 'DESC';
  const { rows } = await db.query<RefundRecord>(
    `SELECT * FROM refunds
      WHERE merchant_id = $1
        AND ($2::text IS NULL OR payment_id = $2)
        AND ($3::text IS NULL OR id < $3)
        AND ($4::text IS NULL OR id > $4)
        AND ($5::text IS NULL OR status = $5)
        AND ($6::timestamptz IS NULL OR date_trunc('milliseconds', created_at) >= $6)
        AND ($7::timestamptz IS NULL OR date_trunc('milliseconds', created_at) <= $7)
        AND ($9::text IS NULL OR reference = $9)
      ORDER BY id ${order}
      LIMIT $8`,
    [merchantId, filter.chargeId ?? null, cursor.startingAfter ?? null, cursor.endingBefore ?? null, filter.status ?? null, filter.createdGte ?? null, filter.createdLte ?? null, limit + 1, filter.reference ?? null],
  );
  return rows;
}

/** Locks the merchant's refund row for the rest of the transaction (an update of its metadata). */
/** POST /v1/refunds/{id}: the merchant's metadata (migration 018 lets it change; nothing else of the refund does). */
export async function updateRefundMetadata(db: Queryable, refundId: string, metadata: Metadata): Promise<RefundRecord> {
  const { rows } = await db.query<RefundRecord>('UPDATE refunds SET metadata = $2, updated_at = now() WHERE id = $1 RETURNING *', [refundId, metadata]);
  return rows[0] as RefundRecord;
}

export type RefundWithChargePspReference = RefundRecord & { charge_psp_reference: string | null; charge_psp: string | null };

/** Refunds with their charges' PSP and PSP references: all REFUND jobs need, one query for many jobs. */
export async function findRefundsWithChargePspReference(db: Queryable, refundIds: readonly string[]): Promise<Map<string, RefundWithChargePspReference>> {
  const { rows } = await db.query<RefundWithChargePspReference>(
    `SELECT r.*, p.psp_reference AS charge_psp_reference, p.psp AS charge_psp
       FROM refunds r JOIN payments p ON p.id = r.payment_id
      WHERE r.id = ANY($1::text[])`,
    [refundIds],
  );
  return new Map(rows.map((row) => [row.id, row]));
}

/** What deciding a refund needs, read in one query (without locks unless the caller holds the charge's; the write re-checks it). */
export interface RefundFacts {
  charge: { status: ChargeStatus; amount: number; currency: string } | undefined;
  /** What the charge's refunds hold (refund_holds_amount, REFUND_HOLDS_AMOUNT in src/domain/refund.ts). */
  reserved: number;
  /** Whether a dispute of the charge is open, and what lost ones took back (src/domain/dispute.ts). */
  disputes: DisputeFacts;
  /** The live idempotency record already stored under the request's key, if any. */
  stored: IdempotencyRecord | undefined;
}

export async function readRefundFacts(db: Queryable, merchantId: string, chargeId: string, idempotency: { scope: string; key: string } | undefined): Promise<RefundFacts> {
  const { rows } = await db.query<{ status: ChargeStatus | null; amount: number | null; currency: string | null; reserved: number; disputed: boolean | null; lost: number | null } & { [K in keyof IdempotencyRecord]: IdempotencyRecord[K] | null }>(
    `SELECT p.status, p.amount, p.currency,
            (SELECT coalesce(sum(r.amount), 0) FROM refunds r WHERE r.payment_id = p.id AND refund_holds_amount(r.status)) AS reserved,
            (SELECT coalesce(bool_or(d.status = 'open'), false) FROM disputes d WHERE d.charge_id = p.id) AS disputed,
            (SELECT coalesce(sum(d.amount), 0) FROM disputes d WHERE d.charge_id = p.id AND d.status = 'lost') AS lost,
            k.request_method, k.request_path, k.request_hash, k.response_code, k.response_body
       FROM (SELECT 1) AS one
       LEFT JOIN payments p ON p.id = $1 AND p.merchant_id = $2
       LEFT JOIN idempotency_keys k ON k.scope = $3 AND k.key = $4 AND k.expires_at > now()`,
    [chargeId, merchantId, idempotency?.scope ?? null, idempotency?.key ?? null],
  );
  const row = rows[0];
  return {
    charge: row?.status && row.amount !== null && row.currency ? { status: row.status, amount: row.amount, currency: row.currency } : undefined,
    reserved: Number(row?.reserved ?? 0),
    disputes: { open: row?.disputed === true, lost: Number(row?.lost ?? 0) },
    stored:
      row?.request_method && row.request_path !== null && row.request_hash !== null && row.response_code !== null
        ? { request_method: row.request_method, request_path: row.request_path, request_hash: row.request_hash, response_code: row.response_code, response_body: row.response_body }
        : undefined,
  };
}

export interface RefundWrite {
  refund: RefundRecord;
  /** The facts the refund was decided on; the write compares them with the charge's under its lock. */
  expected: { status: ChargeStatus; reserved: number; disputes: DisputeFacts };
  job: { id: string; maxAttempts: number };
  event: { id: string; data: unknown; cause: { type: string; id: string } };
  /** The reservation's ledger postings (src/domain/ledger.ts), written with the refund. */
  postings: readonly Posting[];
  idempotency: IdempotencyWrite | undefined;
}

export type RefundWriteResult =
  | { outcome: 'created' }
  | { outcome: 'changed'; facts: Omit<RefundFacts, 'stored'> }
  | { outcome: 'no_such_charge' }
  | { outcome: 'key_in_use' }
  | { outcome: 'replay'; stored: IdempotencyRecord }
  /** The charge has a refund with the write's reference (`existingId`): nothing was written. */
  | { outcome: 'reference_already_used'; existingId: string };

/** One round trip: create_refund_if_unchanged (src/db/functions/) writes the decided refund if its facts still hold. */
export async function writeRefundIfUnchanged(db: Queryable, write: RefundWrite): Promise<RefundWriteResult> {
  const { refund, idempotency } = write;
  const { rows } = await db.query<{
    outcome: RefundWriteResult['outcome'];
    charge_status: ChargeStatus | null;
    charge_amount: number | null;
    charge_currency: string | null;
    reserved: number | null;
    stored_method: string | null;
    stored_path: string | null;
    stored_hash: string | null;
    stored_code: number | null;
    stored_body: unknown;
    disputed: boolean | null;
    lost: number | null;
    existing_id: string | null;
  }>(
    namedStatement(db, 'create_refund_if_unchanged', `SELECT * FROM create_refund_if_unchanged($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)`, [
      refund.id, refund.payment_id, refund.merchant_id, refund.amount, refund.currency, refund.reason, JSON.stringify(refund.metadata), refund.created_at,
      write.expected.status, write.expected.reserved,
      write.job.id, write.job.maxAttempts,
      write.event.id, JSON.stringify(write.event.data), write.event.cause.type, write.event.cause.id,
      ...idempotencyParams(idempotency),
      JSON.stringify(write.postings),
      write.expected.disputes.open, write.expected.disputes.lost,
      refund.reference ?? null,
    ]),
  );
  const row = rows[0];
  switch (row?.outcome) {
    case 'created':
    case 'no_such_charge':
    case 'key_in_use':
      return { outcome: row.outcome };
    case 'changed':
      return {
        outcome: 'changed',
        facts: {
          charge: row.charge_status && row.charge_amount !== null && row.charge_currency ? { status: row.charge_status, amount: row.charge_amount, currency: row.charge_currency } : undefined,
          reserved: Number(row.reserved ?? 0),
          disputes: { open: row.disputed === true, lost: Number(row.lost ?? 0) },
        },
      };
    case 'replay':
      return { outcome: 'replay', stored: storedRecord(row) };
    case 'reference_already_used':
      if (!row.existing_id) throw new Error('create_refund_if_unchanged: reference_already_used without the refund that has it');
      return { outcome: 'reference_already_used', existingId: row.existing_id };
    default:
      throw new Error(`create_refund_if_unchanged returned ${JSON.stringify(row?.outcome)}`);
  }
}

/** The charge's refund that has the merchant's `reference`, if any (unique per charge, migration 019). */
export async function findRefundIdByReference(db: Queryable, merchantId: string, chargeId: string, reference: string): Promise<string | undefined> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM refunds WHERE payment_id = $1 AND reference = $2 AND merchant_id = $3', [chargeId, reference, merchantId]);
  return rows[0]?.id;
}

/** The id of the charge or refund the PSP knows by `pspReference`, if FinCore recorded it. */
export async function findIdByPspReference(db: Queryable, table: 'payments' | 'refunds', pspReference: string): Promise<string | undefined> {
  const { rows } = await db.query<{ id: string }>(`SELECT id FROM ${table} WHERE psp_reference = $1`, [pspReference]);
  return rows[0]?.id;
}

export interface ImportedRefund {
  id: string;
  chargeId: string;
  merchantId: string;
  amount: number;
  currency: string;
  pspReference: string;
  eventId: string;
  eventData: unknown;
  cause: { type: string; id: string };
  /** The reservation's postings (src/domain/ledger.ts). */
  postings: readonly Posting[];
}

/**
 * A refund made at the PSP, written as FinCore writes its own at creation: the row (origin 'psp',
 * pending, with the PSP's id, unique), its refund.created event and its reservation in the ledger,
 * in one statement. The caller holds the charge's lock and then applies the PSP's status to it
 * like any report (flows/settle.ts). False when the PSP's refund id was imported before.
 */
export async function insertImportedRefund(db: Queryable, refund: ImportedRefund): Promise<boolean> {
  const { rows } = await db.query<{ inserted: number }>(
    `WITH inserted AS (
       INSERT INTO refunds (id, payment_id, merchant_id, amount, currency, status, origin, psp_reference)
       VALUES ($1, $2, $3, $4, $5, 'pending', 'psp', $6)
       ON CONFLICT (psp_reference) WHERE psp_reference IS NOT NULL DO NOTHING
       RETURNING id),
     recorded AS (
       INSERT INTO events (id, merchant_id, type, object_type, object_id, data, cause_type, cause_id)
       SELECT $7, $3, 'refund.created', 'refund', id, $8, $9, $10 FROM inserted
       RETURNING id)
     INSERT INTO ledger_entries (event_id, merchant_id, movement, account, currency, amount, charge_id, refund_id)
     SELECT recorded.id, $3, 'refund_reserved', posting.account, $5, posting.amount, $2, $1
       FROM recorded, unnest($11::text[], $12::bigint[]) AS posting (account, amount)
     RETURNING 1 AS inserted`,
    [
      refund.id, refund.chargeId, refund.merchantId, refund.amount, refund.currency, refund.pspReference,
      refund.eventId, JSON.stringify(refund.eventData), refund.cause.type, refund.cause.id,
      refund.postings.map((p) => p.account), refund.postings.map((p) => p.amount),
    ],
  );
  return rows.length > 0;
}

// --- Cancel before send (flows/cancel-refund.ts) ------------------------------------------------

/**
 * The merchant's refund, locked FOR UPDATE, with the transaction's now() (what the cancel's
 * `updated_at = now()` writes). The first lock a cancel takes; its REFUND job's row is the second
 * (lockJobsOfRef): always in this order.
 */
export async function lockRefundOfMerchant(db: Queryable, merchantId: string, refundId: string): Promise<{ row: RefundRecord; lockedAt: Date } | undefined> {
  const { rows } = await db.query<RefundRecord & { locked_at: Date }>('SELECT *, now() AS locked_at FROM refunds WHERE id = $1 AND merchant_id = $2 FOR UPDATE', [refundId, merchantId]);
  const found = rows[0];
  if (!found) return undefined;
  const { locked_at: lockedAt, ...row } = found;
  return { row, lockedAt };
}
