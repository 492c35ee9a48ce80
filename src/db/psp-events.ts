/** The inbound webhook inbox: each PSP event is stored once, keyed by the PSP's event id. */
import type { Queryable } from './pool.ts';

/** True when the event is new; false when it was stored before (a duplicate delivery). */
export async function storePspEvent(
  db: Queryable,
  event: { id: string; type: string; objectId: string; payload: unknown; secretFingerprint: string },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO psp_events (id, type, object_id, payload, secret_fingerprint) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (id) DO NOTHING`,
    [event.id, event.type, event.objectId, JSON.stringify(event.payload), event.secretFingerprint],
  );
  return rowCount === 1;
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
