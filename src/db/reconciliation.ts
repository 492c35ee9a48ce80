/** SQL for finding money movements left pending too long (partial indexes on status = 'pending'). */
import type { Queryable } from './pool.ts';

export async function chargesPendingSince(db: Queryable, olderThanMs: number, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM payments
      WHERE status = 'pending' AND created_at < now() - make_interval(secs => $1::double precision / 1000)
      ORDER BY created_at
      LIMIT $2`,
    [olderThanMs, limit],
  );
  return rows.map((r) => r.id);
}

export async function refundsPendingSince(db: Queryable, olderThanMs: number, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM refunds
      WHERE status = 'pending' AND created_at < now() - make_interval(secs => $1::double precision / 1000)
      ORDER BY created_at
      LIMIT $2`,
    [olderThanMs, limit],
  );
  return rows.map((r) => r.id);
}
