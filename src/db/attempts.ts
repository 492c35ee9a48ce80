/** SQL for psp_attempts (migration 016): one row per PSP call, and what psp_status derives from. */
import type { AttemptObjectType, AttemptOutcome, AttemptRecord } from '../domain/attempts.ts';
import type { Queryable } from './pool.ts';

export interface StartAttempt {
  objectType: AttemptObjectType;
  objectId: string;
  merchantId: string;
  psp: string;
  idempotencyKey: string;
}

/**
 * Records that a call starts; returns its attempt number (1 for the object's first call). Two
 * workers on one object (a lease that expired mid-call) may race for a number: the primary key
 * refuses the second, which takes the next one.
 */
export async function startAttempt(db: Queryable, attempt: StartAttempt): Promise<number> {
  for (let tries = 0; ; tries++) {
    try {
      const { rows } = await db.query<{ attempt_number: number }>(
        `INSERT INTO psp_attempts (object_type, object_id, merchant_id, attempt_number, psp, idempotency_key)
         SELECT $1, $2, $3, COALESCE(max(attempt_number), 0) + 1, $4, $5 FROM psp_attempts WHERE object_id = $2
         RETURNING attempt_number`,
        [attempt.objectType, attempt.objectId, attempt.merchantId, attempt.psp, attempt.idempotencyKey],
      );
      return rows[0]!.attempt_number;
    } catch (error) {
      if (tries < 3 && (error as { code?: string }).code === '23505') continue;
      throw error;
    }
  }
}

export interface FinishAttempt {
  objectId: string;
  attemptNumber: number;
  outcome: AttemptOutcome;
  pspCode: string | null;
  fincoreCode: string | null;
  message: string | null;
}

/** Completes a started attempt; latency measured by the database clock, like started_at. */
export async function finishAttempt(db: Queryable, attempt: FinishAttempt): Promise<void> {
  await db.query(
    `UPDATE psp_attempts
        SET finished_at = clock_timestamp(),
            latency_ms = GREATEST(0, round(extract(epoch FROM clock_timestamp() - started_at) * 1000))::integer,
            outcome = $3, psp_code = $4, fincore_code = $5, message = left($6, 1000)
      WHERE object_id = $1 AND attempt_number = $2 AND finished_at IS NULL`,
    [attempt.objectId, attempt.attemptNumber, attempt.outcome, attempt.pspCode, attempt.fincoreCode, attempt.message],
  );
}

/** Every attempt for one object of the merchant, newest first (a handful per object). */
export async function attemptsOf(db: Queryable, merchantId: string, objectType: AttemptObjectType, objectId: string): Promise<AttemptRecord[]> {
  const { rows } = await db.query<AttemptRecord>(
    `SELECT * FROM psp_attempts WHERE object_id = $1 AND object_type = $2 AND merchant_id = $3 ORDER BY attempt_number DESC`,
    [objectId, objectType, merchantId],
  );
  return rows;
}

/** Attempts of many objects (the admin charge detail: a charge and its refunds), newest first. */
export async function attemptsOfObjects(db: Queryable, objectIds: readonly string[]): Promise<AttemptRecord[]> {
  const { rows } = await db.query<AttemptRecord>(
    `SELECT * FROM psp_attempts WHERE object_id = ANY($1::text[]) ORDER BY started_at DESC, attempt_number DESC`,
    [objectIds],
  );
  return rows;
}

export interface PspProgressRow {
  object_id: string;
  attempt_outcome: AttemptOutcome | null;
  attempt_finished_at: Date | null;
  has_attempt: boolean;
  job_status: string | null;
  job_run_at: Date | null;
  job_locked_until: Date | null;
  now: Date;
}

/** For each object: its latest attempt and its CHARGE/REFUND job (the newest one), with the database's now. */
export async function pspProgressRows(db: Queryable, objectIds: readonly string[]): Promise<Map<string, PspProgressRow>> {
  if (objectIds.length === 0) return new Map();
  const { rows } = await db.query<PspProgressRow>(
    `SELECT o.id AS object_id,
            a.outcome AS attempt_outcome, a.finished_at AS attempt_finished_at, (a.object_id IS NOT NULL) AS has_attempt,
            j.status AS job_status, j.run_at AS job_run_at, j.locked_until AS job_locked_until,
            now() AS now
       FROM unnest($1::text[]) AS o(id)
       LEFT JOIN LATERAL (
         SELECT outcome, finished_at, object_id FROM psp_attempts WHERE object_id = o.id ORDER BY attempt_number DESC LIMIT 1
       ) a ON true
       LEFT JOIN LATERAL (
         SELECT status, run_at, locked_until FROM jobs WHERE ref = o.id AND job_type IN ('CHARGE', 'REFUND') ORDER BY created_at DESC LIMIT 1
       ) j ON true`,
    [objectIds],
  );
  return new Map(rows.map((row) => [row.object_id, row]));
}

/**
 * Every attempt of one refund, oldest first, for POST /v1/refunds/{id}/cancel: read inside the
 * cancel's transaction after the refund and its job are locked (flows/cancel-refund.ts says why
 * what it reads then cannot change under it).
 */
export async function attemptOutcomesOfRefund(db: Queryable, refundId: string): Promise<{ attempt_number: number; outcome: AttemptOutcome | null }[]> {
  const { rows } = await db.query<{ attempt_number: number; outcome: AttemptOutcome | null }>(
    `SELECT attempt_number, outcome FROM psp_attempts WHERE object_id = $1 AND object_type = 'refund' ORDER BY attempt_number`,
    [refundId],
  );
  return rows;
}
