/** The append-only audit trail: every state change, with what caused it. */
import { newId } from '../domain/ids.ts';
import type { Queryable } from './pool.ts';

export interface Cause {
  type: 'api_request' | 'job' | 'psp_event' | 'operator' | 'reconciliation';
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
  object_type: 'charge' | 'refund' | 'job' | 'merchant' | 'reconciliation';
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
