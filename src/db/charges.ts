/** SQL for charges (table `payments`) and the refunds read with them. */
import type { ChargeRecord, Metadata, RefundRecord } from '../domain/objects.ts';
import type { RefundAmounts } from '../domain/refund.ts';
import { idempotencyParams, storedRecord, type IdempotencyRecord, type IdempotencyWrite } from './idempotency.ts';
import { namedStatement, type Queryable } from './pool.ts';

export interface NewCharge {
  id: string;
  merchantId: string;
  amount: number;
  currency: string;
  paymentMethod: string;
  description: string | null;
  metadata: Metadata;
}

export async function insertCharge(db: Queryable, charge: NewCharge): Promise<ChargeRecord> {
  const { rows } = await db.query<ChargeRecord>(
    `INSERT INTO payments (id, merchant_id, amount, currency, status, payment_method, description, metadata)
     VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7)
     RETURNING *`,
    [charge.id, charge.merchantId, charge.amount, charge.currency, charge.paymentMethod, charge.description, charge.metadata],
  );
  return rows[0] as ChargeRecord;
}

/** Locks the charge row for the rest of the transaction: refunds of one charge serialize here. */
export async function lockChargeOfMerchant(db: Queryable, merchantId: string, chargeId: string): Promise<ChargeRecord | undefined> {
  const { rows } = await db.query<ChargeRecord>('SELECT * FROM payments WHERE id = $1 AND merchant_id = $2 FOR UPDATE', [chargeId, merchantId]);
  return rows[0];
}

/** Charges by id, one query for many CHARGE jobs. */
export async function findCharges(db: Queryable, chargeIds: readonly string[]): Promise<Map<string, ChargeRecord>> {
  const { rows } = await db.query<ChargeRecord>('SELECT * FROM payments WHERE id = ANY($1::text[])', [chargeIds]);
  return new Map(rows.map((row) => [row.id, row]));
}

/**
 * A charge with the sums of ALL its refunds per status (what amount_refunded is derived from) and
 * its first `firstRefunds` + 1 refunds, oldest first (the extra one says has_more), in one round
 * trip: a charge with thousands of refunds costs one small answer, not all of them.
 */
export async function findChargeWithRefunds(
  db: Queryable,
  merchantId: string,
  chargeId: string,
  firstRefunds: number,
): Promise<{ charge: ChargeRecord; amounts: RefundAmounts[]; refunds: RefundRecord[] } | undefined> {
  const { rows } = await db.query<{ charge: ChargeRecord; amounts: RefundAmounts[]; refunds: RefundRecord[] }>(
    `SELECT to_jsonb(p) AS charge,
            (SELECT coalesce(jsonb_agg(jsonb_build_object('status', t.status, 'amount', t.amount)), '[]')
               FROM (SELECT status, sum(amount) AS amount FROM refunds WHERE payment_id = p.id GROUP BY status) t) AS amounts,
            (SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.id), '[]')
               FROM (SELECT * FROM refunds WHERE payment_id = p.id ORDER BY id LIMIT $3) r) AS refunds
       FROM payments p
      WHERE p.id = $1 AND p.merchant_id = $2`,
    [chargeId, merchantId, firstRefunds + 1],
  );
  const row = rows[0];
  if (!row) return undefined;
  return { charge: reviveCharge(row.charge), amounts: row.amounts, refunds: row.refunds.map(reviveRefund) };
}

/**
 * A page cursor (Stripe's): `startingAfter` pages to older objects, `endingBefore` to newer ones
 * (rows come oldest first then, nearest the cursor first; the flow reverses them). At most one.
 */
export interface PageCursor {
  startingAfter?: string;
  endingBefore?: string;
}

export interface ChargeFilter {
  status?: string;
  createdGte?: Date;
  createdLte?: Date;
  /** The merchant's own reference (unique per merchant). */
  reference?: string;
}

/** `limit + 1` rows (the extra one says has_more) in the cursor's direction. */
export async function listCharges(db: Queryable, merchantId: string, limit: number, cursor: PageCursor, filter: ChargeFilter = {}): Promise<ChargeRecord[]> {
  const order = cursor.endingBefore ? 'ASC' : 'DESC';
  const { rows } = await db.query<ChargeRecord>(
    `SELECT * FROM payments
      WHERE merchant_id = $1 AND ($2::text IS NULL OR id < $2) AND ($3::text IS NULL OR id > $3)
        AND ($4::text IS NULL OR status = $4)
        AND ($5::timestamptz IS NULL OR date_trunc('milliseconds', created_at) >= $5)
        AND ($6::timestamptz IS NULL OR date_trunc('milliseconds', created_at) <= $6)
        AND ($8::text IS NULL OR reference = $8)
      ORDER BY id ${order}
      LIMIT $7`,
    [merchantId, cursor.startingAfter ?? null, cursor.endingBefore ?? null, filter.status ?? null, filter.createdGte ?? null, filter.createdLte ?? null, limit + 1, filter.reference ?? null],
  );
  return rows;
}

/** POST /v1/charges/{id}: the merchant's metadata and description, in the caller's transaction (the row locked). */
export async function updateChargeDetails(db: Queryable, chargeId: string, metadata: Metadata, description: string | null): Promise<ChargeRecord> {
  const { rows } = await db.query<ChargeRecord>(
    'UPDATE payments SET metadata = $2, description = $3, updated_at = now() WHERE id = $1 RETURNING *',
    [chargeId, metadata, description],
  );
  return rows[0] as ChargeRecord;
}

/**
 * For a page of charges: each one's refund sums per status (over ALL its refunds) and its first
 * `firstRefunds` + 1 refunds, oldest first. Two queries whatever the page and the refund counts.
 */
export async function refundsOfCharges(
  db: Queryable,
  chargeIds: readonly string[],
  firstRefunds: number,
): Promise<{ amounts: Map<string, RefundAmounts[]>; first: Map<string, RefundRecord[]> }> {
  const amounts = new Map<string, RefundAmounts[]>();
  const first = new Map<string, RefundRecord[]>();
  if (chargeIds.length === 0) return { amounts, first };
  const sums = await db.query<RefundAmounts & { payment_id: string }>(
    'SELECT payment_id, status, sum(amount)::bigint AS amount FROM refunds WHERE payment_id = ANY($1) GROUP BY payment_id, status',
    [chargeIds],
  );
  for (const row of sums.rows) amounts.set(row.payment_id, [...(amounts.get(row.payment_id) ?? []), { status: row.status, amount: row.amount }]);
  const oldest = await db.query<RefundRecord>(
    `SELECT r.* FROM unnest($1::text[]) AS c(id)
       CROSS JOIN LATERAL (SELECT * FROM refunds WHERE payment_id = c.id ORDER BY id LIMIT $2) r
      ORDER BY r.id`,
    [chargeIds, firstRefunds + 1],
  );
  for (const row of oldest.rows) first.set(row.payment_id, [...(first.get(row.payment_id) ?? []), row]);
  return { amounts, first };
}

// to_jsonb() turns timestamps into strings and bigints into numbers; restore the record types.
function reviveCharge(json: ChargeRecord): ChargeRecord {
  return { ...json, created_at: new Date(json.created_at), updated_at: new Date(json.updated_at) };
}

function reviveRefund(json: RefundRecord): RefundRecord {
  return { ...json, created_at: new Date(json.created_at), updated_at: new Date(json.updated_at) };
}

export interface ChargeWrite {
  charge: ChargeRecord;
  job: { id: string; maxAttempts: number };
  event: { id: string; data: unknown; cause: { type: string; id: string } };
  idempotency: IdempotencyWrite | undefined;
}

export type ChargeWriteResult =
  | { outcome: 'created' }
  | { outcome: 'key_in_use' }
  | { outcome: 'replay'; stored: IdempotencyRecord }
  /** The merchant has a charge with the write's reference (`existingId`): nothing was written. */
  | { outcome: 'reference_already_used'; existingId: string };

/** One round trip: create_charge (src/db/functions/create_charge.sql) writes charge, job, event and idempotency record. */
export async function writeCharge(db: Queryable, write: ChargeWrite): Promise<ChargeWriteResult> {
  const { charge } = write;
  const { rows } = await db.query<{ outcome: ChargeWriteResult['outcome']; stored_method: string | null; stored_path: string | null; stored_hash: string | null; stored_code: number | null; stored_body: unknown; existing_id: string | null }>(
    namedStatement(db, 'create_charge', `SELECT * FROM create_charge($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)`, [
      charge.id, charge.merchant_id, charge.amount, charge.currency, charge.payment_method, charge.description, JSON.stringify(charge.metadata), charge.created_at,
      write.job.id, write.job.maxAttempts,
      write.event.id, JSON.stringify(write.event.data), write.event.cause.type, write.event.cause.id,
      ...idempotencyParams(write.idempotency),
      charge.psp,
      charge.reference ?? null,
    ]),
  );
  const row = rows[0];
  switch (row?.outcome) {
    case 'created':
    case 'key_in_use':
      return { outcome: row.outcome };
    case 'replay':
      return { outcome: 'replay', stored: storedRecord(row) };
    case 'reference_already_used':
      if (!row.existing_id) throw new Error('create_charge: reference_already_used without the charge that has it');
      return { outcome: 'reference_already_used', existingId: row.existing_id };
    default:
      throw new Error(`create_charge returned ${JSON.stringify(row?.outcome)}`);
  }
}
