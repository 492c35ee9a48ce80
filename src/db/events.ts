/** The append-only audit trail: every state change, with what caused it. */
import { newId } from '../domain/ids.ts';
import type { Queryable } from './pool.ts';

export interface Cause {
  type: 'api_request' | 'job' | 'psp_event' | 'operator' | 'reconciliation';
  id: string;
}

export interface NewEvent {
  merchantId: string | null;
  type: string;
  objectType: 'charge' | 'refund' | 'job' | 'merchant';
  objectId: string;
  data: unknown;
  cause: Cause;
}

export async function appendEvent(db: Queryable, event: NewEvent): Promise<void> {
  await db.query(
    `INSERT INTO events (id, merchant_id, type, object_type, object_id, data, cause_type, cause_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [newId('evt'), event.merchantId, event.type, event.objectType, event.objectId, JSON.stringify(event.data), event.cause.type, event.cause.id],
  );
}
