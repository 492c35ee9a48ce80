/** The inbound webhook inbox: each PSP event is stored once, keyed by the PSP's event id. */
import type { Queryable } from './pool.ts';

/** True when the event is new; false when it was stored before (a duplicate delivery). */
export async function storePspEvent(db: Queryable, event: { id: string; type: string; objectId: string; payload: unknown }): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO psp_events (id, type, object_id, payload) VALUES ($1, $2, $3, $4)
     ON CONFLICT (id) DO NOTHING`,
    [event.id, event.type, event.objectId, JSON.stringify(event.payload)],
  );
  return rowCount === 1;
}
