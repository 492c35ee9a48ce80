/** The inbound webhook inbox: each PSP event is stored once, keyed by the PSP's event id. */
import { namedStatement, type Queryable } from './pool.ts';

/** True when the event is new; false when it was stored before (a duplicate delivery). */
export async function storePspEvent(
  db: Queryable,
  event: { id: string; type: string; objectId: string | null; objectType: string; pspObjectId: string; psp: string; report: unknown; payload: unknown; secretFingerprint: string },
): Promise<boolean> {
  // Named statements here and below: one per PSP webhook, the same text each time, an insert or a
  // primary-key update whatever the table holds (db/pool.ts namedStatement).
  const { rowCount } = await db.query(namedStatement(
    db,
    'store_psp_event',
    `INSERT INTO psp_events (id, type, object_id, object_type, psp_object_id, psp, report, payload, secret_fingerprint) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (id) DO NOTHING`,
    [event.id, event.type, event.objectId, event.objectType, event.pspObjectId, event.psp, JSON.stringify(event.report), JSON.stringify(event.payload), event.secretFingerprint],
  ));
  return rowCount === 1;
}

/** What applying the event did (applied, parked, imported, review_opened, ...); a parked event matched later gets matched_at. */
export async function recordPspEventResult(db: Queryable, eventId: string, result: string, matched: boolean): Promise<void> {
  await db.query(namedStatement(db, 'record_psp_event_result', `UPDATE psp_events SET result = $2, matched_at = CASE WHEN $3 THEN now() ELSE matched_at END WHERE id = $1`, [eventId, result, matched]));
}

export interface ParkedPspEvent {
  id: string;
  psp: string | null;
  report: unknown;
  received_at: Date;
}

/**
 * Parked events, oldest first, locked so two sweeps never apply one twice (SKIP LOCKED: a sweep
 * takes what another is not holding). `pspObjectIds` narrows them to objects just recorded.
 */
export async function lockParkedPspEvents(db: Queryable, limit: number, pspObjectIds?: readonly string[]): Promise<ParkedPspEvent[]> {
  const { rows } = await db.query<ParkedPspEvent>(
    `SELECT id, psp, report, received_at FROM psp_events
      WHERE result = 'parked' AND ($2::text[] IS NULL OR psp_object_id = ANY($2::text[]))
      ORDER BY received_at, id
      LIMIT $1
      FOR UPDATE SKIP LOCKED`,
    [limit, pspObjectIds ?? null],
  );
  return rows;
}

/**
 * A signed event FinCore could not read, kept byte for byte under an id made from its content, so
 * the PSP's redeliveries of the same bytes are duplicates. True when it was not stored before.
 */
export async function storeMalformedPspEvent(
  db: Queryable,
  event: { id: string; rawBody: Buffer; reason: string; secretFingerprint: string },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO psp_events (id, type, object_id, payload, raw_body, malformed_reason, secret_fingerprint)
     VALUES ($1, 'malformed', NULL, NULL, $2, $3, $4)
     ON CONFLICT (id) DO NOTHING`,
    [event.id, event.rawBody, event.reason, event.secretFingerprint],
  );
  return rowCount === 1;
}

export interface ExpiredPspEvent {
  id: string;
  type: string;
  psp: string | null;
  object_type: string | null;
  object_id: string | null;
  psp_object_id: string | null;
  received_at: Date;
  psp_status: string | null;
  psp_amount: number | null;
  psp_currency: string | null;
}

/** Parked events older than the window become 'unmatched' (the caller opens their review items). */
export async function expireParkedPspEvents(db: Queryable, windowMs: number, limit: number): Promise<ExpiredPspEvent[]> {
  const { rows } = await db.query<ExpiredPspEvent>(
    `UPDATE psp_events SET result = 'unmatched'
      WHERE id IN (SELECT id FROM psp_events
                    WHERE result = 'parked' AND received_at < now() - make_interval(secs => $1::double precision / 1000)
                    ORDER BY received_at
                    LIMIT $2
                    FOR UPDATE SKIP LOCKED)
      RETURNING id, type, psp, object_type, object_id, psp_object_id, received_at,
                coalesce(report->'outcome'->>'status', report->>'status') AS psp_status,
                coalesce(report->'outcome'->>'amount', report->>'amount')::bigint AS psp_amount,
                coalesce(report->'outcome'->>'currency', report->>'currency') AS psp_currency`,
    [windowMs, limit],
  );
  return rows.map((row) => ({ ...row, psp_amount: row.psp_amount === null ? null : Number(row.psp_amount) }));
}
