/** The append-only audit trail: every state change, with what caused it. */
import type { CauseType } from '../domain/events.ts';
import { newId } from '../domain/ids.ts';
import type { PageCursor } from './charges.ts';
import type { Queryable } from './pool.ts';

export interface Cause {
  type: CauseType;
  /** The request id, job id, PSP event id, operator action or reconciliation sweep. */
  id: string;
  /** For an API request: the Idempotency-Key it carried, if any. */
  idempotencyKey?: string | null;
}

/** An events row as stored. `sequence` counts the changes of its object: 1, 2, 3, ... */
export interface EventRow {
  id: string;
  merchant_id: string | null;
  type: string;
  object_type: 'charge' | 'refund' | 'job' | 'merchant' | 'reconciliation' | 'webhook_endpoint' | 'review' | 'dispute' | 'psp_event';
  object_id: string;
  sequence: number;
  data: Record<string, unknown>;
  cause_type: Cause['type'];
  cause_id: string;
  cause_idempotency_key: string | null;
  created_at: Date;
}

export interface NewEvent {
  merchantId: string | null;
  type: string;
  objectType: EventRow['object_type'];
  objectId: string;
  data: unknown;
  cause: Cause;
}

/** Returns the event's id. Its `sequence` is set by the database (migration 006). */
export async function appendEvent(db: Queryable, event: NewEvent): Promise<string> {
  const id = newId('evt');
  await db.query(
    `INSERT INTO events (id, merchant_id, type, object_type, object_id, data, cause_type, cause_id, cause_idempotency_key)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [id, event.merchantId, event.type, event.objectType, event.objectId, JSON.stringify(event.data), event.cause.type, event.cause.id, event.cause.idempotencyKey ?? null],
  );
  return id;
}

export interface EventFilter {
  type?: string;
  objectId?: string;
  createdGte?: Date;
  createdLte?: Date;
}

/** A merchant's events, newest first, or oldest first after an `endingBefore` cursor (`limit + 1` rows: the extra one says has_more). */
export async function listEvents(db: Queryable, merchantId: string, filter: EventFilter, limit: number, cursor: PageCursor): Promise<EventRow[]> {
  const order = cursor.endingBefore ? 'ASC' : 'DESC';
  const { rows } = await db.query<EventRow>(
    `SELECT * FROM events
      WHERE merchant_id = $1
        AND ($2::text IS NULL OR type = $2)
        AND ($3::text IS NULL OR object_id = $3)
        -- Compared at the millisecond precision the API shows, so created[lte]=<an event's created_at> includes it.
        AND ($4::timestamptz IS NULL OR date_trunc('milliseconds', created_at) >= $4)
        AND ($5::timestamptz IS NULL OR date_trunc('milliseconds', created_at) <= $5)
        AND ($6::text IS NULL OR id < $6)
        AND ($8::text IS NULL OR id > $8)
      ORDER BY id ${order}
      LIMIT $7`,
    [merchantId, filter.type ?? null, filter.objectId ?? null, filter.createdGte ?? null, filter.createdLte ?? null, cursor.startingAfter ?? null, limit + 1, cursor.endingBefore ?? null],
  );
  return rows;
}

export async function findEventOfMerchant(db: Queryable, merchantId: string, eventId: string): Promise<EventRow | undefined> {
  const { rows } = await db.query<EventRow>('SELECT * FROM events WHERE id = $1 AND merchant_id = $2', [eventId, merchantId]);
  return rows[0];
}

/** An object's events in the order they happened (its timeline). */
/** The events of these objects (a charge and some of its refunds), oldest first. */
export async function eventsOfObjects(db: Queryable, objectIds: readonly string[]): Promise<EventRow[]> {
  const { rows } = await db.query<EventRow>('SELECT * FROM events WHERE object_id = ANY($1::text[]) ORDER BY created_at, id', [objectIds]);
  return rows;
}
