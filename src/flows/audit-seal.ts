/**
 * Sealing the audit trail: appends newly committed events to their merchant's hash chain, in
 * batches (events_to_seal is filled by a trigger on events, migration 006). In the same
 * transaction it hands the events to whoever follows the trail (merchant webhook fan-out), so
 * every event is sealed and fanned out exactly once, in chain order per merchant. The relay that
 * runs it shortly after events commit is src/audit/seal.ts.
 */
import type pg from 'pg';
import type { EventRow } from '../db/events.ts';
import { inTransaction, type Queryable } from '../db/pool.ts';
import { appendLinks, chainOf, type HashedEventContent } from './audit-chain.ts';

/** Called with each sealed batch inside the sealing transaction. */
export type EventFollower = (tx: Queryable, events: readonly EventRow[]) => Promise<unknown>;

type SealableRow = EventRow & HashedEventContent & { seal_position: number };

// One sealer at a time: a chain is appended to by one writer, so positions never collide.
const SEALER_LOCK = 7340002;

/**
 * Seals up to `limit` events and hands them to `follower`; returns how many (0: nothing pending,
 * or another sealer is at work). Events leave the inbox here, so every caller passes the follower.
 */
export async function sealPendingEvents(pool: pg.Pool, limit: number, follower: EventFollower): Promise<number> {
  return inTransaction(pool, async (tx) => {
    const { rows: lock } = await tx.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS locked', [SEALER_LOCK]);
    if (!lock[0]?.locked) return 0;
    const { rows: events } = await tx.query<SealableRow>(
      `SELECT s.position AS seal_position, e.*, e.data::text AS data_text,
              (extract(epoch FROM e.created_at) * 1000000)::bigint::text AS created_us
         FROM events_to_seal s
         JOIN events e ON e.id = s.event_id
        ORDER BY s.position
        LIMIT $1`,
      [limit],
    );
    if (events.length === 0) return 0;
    const chains = [...new Set(events.map((e) => chainOf(e.merchant_id)))];
    const { rows: heads } = await tx.query<{ chain: string; position: number | null; hash: string | null }>(
      `SELECT c.chain, head.position, head.hash
         FROM unnest($1::text[]) AS c (chain)
         LEFT JOIN LATERAL (
           SELECT position, hash FROM audit_chain WHERE chain = c.chain ORDER BY position DESC LIMIT 1
         ) AS head ON true`,
      [chains],
    );
    const tips = new Map(heads.filter((h) => h.position !== null && h.hash !== null).map((h) => [h.chain, { position: Number(h.position), hash: h.hash ?? '' }]));
    const links = appendLinks(tips, events);
    await tx.query(
      `INSERT INTO audit_chain (chain, position, event_id, content_hash, prev_hash, hash)
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[])`,
      [links.map((l) => l.chain), links.map((l) => l.position), links.map((l) => l.event_id), links.map((l) => l.content_hash), links.map((l) => l.prev_hash), links.map((l) => l.hash)],
    );
    await follower(tx, events);
    await tx.query('DELETE FROM events_to_seal WHERE position = ANY($1::bigint[])', [events.map((e) => e.seal_position)]);
    return events.length;
  });
}
