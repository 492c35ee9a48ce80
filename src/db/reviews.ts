/** SQL for review items: what an operator must decide (GET /v1/admin/reviews). */
import type { ReviewDecision, ReviewReason } from '../domain/psp-report.ts';
import type { Queryable } from './pool.ts';

export interface ReviewRecord {
  id: string;
  merchant_id: string | null;
  object_type: 'charge' | 'refund' | null;
  object_id: string | null;
  psp_event_id: string | null;
  reason: ReviewReason;
  status: 'open' | 'resolved';
  status_before: string | null;
  psp_status: string | null;
  psp_amount: number | null;
  psp_currency: string | null;
  details: Record<string, unknown>;
  decision: ReviewDecision | null;
  note: string | null;
  resolved_at: Date | null;
  created_at: Date;
}

export type NewReview = Pick<ReviewRecord, 'id' | 'merchant_id' | 'object_type' | 'object_id' | 'psp_event_id' | 'reason' | 'status_before' | 'psp_status' | 'psp_amount' | 'psp_currency' | 'details'>;

export async function insertReview(db: Queryable, review: NewReview): Promise<ReviewRecord> {
  const { rows } = await db.query<ReviewRecord>(
    `INSERT INTO reviews (id, merchant_id, object_type, object_id, psp_event_id, reason, status_before, psp_status, psp_amount, psp_currency, details)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     RETURNING *`,
    [review.id, review.merchant_id, review.object_type, review.object_id, review.psp_event_id, review.reason, review.status_before, review.psp_status, review.psp_amount, review.psp_currency, JSON.stringify(review.details)],
  );
  return normalize(rows[0] as ReviewRecord);
}

/** The open review of an object, locked for its resolution. */
export async function lockOpenReviewOf(db: Queryable, objectId: string): Promise<ReviewRecord | undefined> {
  const { rows } = await db.query<ReviewRecord>(`SELECT * FROM reviews WHERE object_id = $1 AND status = 'open' FOR UPDATE`, [objectId]);
  return rows[0] ? normalize(rows[0]) : undefined;
}

export async function lockReview(db: Queryable, reviewId: string): Promise<ReviewRecord | undefined> {
  const { rows } = await db.query<ReviewRecord>('SELECT * FROM reviews WHERE id = $1 FOR UPDATE', [reviewId]);
  return rows[0] ? normalize(rows[0]) : undefined;
}

export async function findReview(db: Queryable, reviewId: string): Promise<ReviewRecord | undefined> {
  const { rows } = await db.query<ReviewRecord>('SELECT * FROM reviews WHERE id = $1', [reviewId]);
  return rows[0] ? normalize(rows[0]) : undefined;
}

export async function resolveReviewRow(db: Queryable, reviewId: string, decision: ReviewDecision, note: string): Promise<ReviewRecord> {
  const { rows } = await db.query<ReviewRecord>(
    `UPDATE reviews SET status = 'resolved', decision = $2, note = $3, resolved_at = now() WHERE id = $1 AND status = 'open' RETURNING *`,
    [reviewId, decision, note],
  );
  if (!rows[0]) throw new Error(`review ${reviewId} is not open`);
  return normalize(rows[0]);
}

export async function listReviews(
  db: Queryable,
  filter: { status: 'open' | 'resolved' | undefined; merchantId: string | undefined },
  limit: number,
  startingAfter: string | undefined,
): Promise<ReviewRecord[]> {
  const { rows } = await db.query<ReviewRecord>(
    `SELECT * FROM reviews
      WHERE ($1::text IS NULL OR status = $1)
        AND ($2::text IS NULL OR merchant_id = $2)
        AND ($3::text IS NULL OR id < $3)
      ORDER BY id DESC
      LIMIT $4`,
    [filter.status ?? null, filter.merchantId ?? null, startingAfter ?? null, limit + 1],
  );
  return rows.map(normalize);
}

export async function countOpenReviews(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ open: number }>(`SELECT count(*)::int AS open FROM reviews WHERE status = 'open'`);
  return rows[0]?.open ?? 0;
}

function normalize(row: ReviewRecord): ReviewRecord {
  return { ...row, psp_amount: row.psp_amount === null ? null : Number(row.psp_amount) };
}
