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
 * Records that calls start, many in one statement (the postgres worker groups the calls its jobs
 * start in one turn: jobs/grouped-attempts.ts); returns each one's attempt number, in order (1
 * for an object's first call). Numbers continue the object's history; two calls for one object
 * in a group get consecutive numbers. Two workers on one object (a lease that expired mid-call)
 * may race for a number: the primary key refuses the statement, which is then tried again.
 */
export async function startAttempts(db: Queryable, attempts: readonly StartAttempt[]): Promise<number[]> {
  if (attempts.length === 0) return [];
  for (let tries = 0; ; tries++) {
    try {
      const { rows } = await db.query<{ ord: string; attempt_number: number }>(
        `WITH started AS (
           SELECT a.*,
                  COALESCE((SELECT max(p.attempt_number) FROM psp_attempts p WHERE p.object_id = a.object_id), 0)
                    + row_number() OVER (PARTITION BY a.object_id ORDER BY a.ord) AS attempt_number
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
                  WITH ORDINALITY AS a(object_type, object_id, merchant_id, psp, idempotency_key, ord)
         ), inserted AS (
           INSERT INTO psp_attempts (object_type, object_id, merchant_id, attempt_number, psp, idempotency_key)
           SELECT object_type, object_id, merchant_id, attempt_number, psp, idempotency_key FROM started
           RETURNING 1
         )
         SELECT ord, attempt_number FROM started ORDER BY ord`,
        [
          attempts.map((a) => a.objectType),
          attempts.map((a) => a.objectId),
          attempts.map((a) => a.merchantId),
          attempts.map((a) => a.psp),
          attempts.map((a) => a.idempotencyKey),
        ],
      );
      return rows.map((row) => Number(row.attempt_number));
    } catch (error) {
      if (tries < 3 && (error as { code?: string }).code === '23505') continue;
      throw error;
    }
  }
}

/** Records that one call starts; returns its attempt number (startAttempts, for one). */
export async function startAttempt(db: Queryable, attempt: StartAttempt): Promise<number> {
  return (await startAttempts(db, [attempt]))[0]!;
}

export interface FinishAttempt {
  objectId: string;
  attemptNumber: number;
  outcome: AttemptOutcome;
  /** How long the PSP call took, as the caller timed it around the call. */
  latencyMs: number;
  pspCode: string | null;
  fincoreCode: string | null;
  message: string | null;
}

/**
 * Completes started attempts, many in one statement. finished_at is the database clock when the
 * completion is written (like started_at); latency_ms is the call's own duration, timed around
 * it, so writing many completions together does not add to it.
 */
export async function finishAttempts(db: Queryable, attempts: readonly FinishAttempt[]): Promise<void> {
  if (attempts.length === 0) return;
  await db.query(
    `UPDATE psp_attempts a
        SET finished_at = clock_timestamp(), latency_ms = f.latency_ms,
            outcome = f.outcome, psp_code = f.psp_code, fincore_code = f.fincore_code, message = left(f.message, 1000)
       FROM unnest($1::text[], $2::integer[], $3::integer[], $4::text[], $5::text[], $6::text[], $7::text[])
            AS f(object_id, attempt_number, latency_ms, outcome, psp_code, fincore_code, message)
      WHERE a.object_id = f.object_id AND a.attempt_number = f.attempt_number AND a.finished_at IS NULL`,
    [
      attempts.map((a) => a.objectId),
      attempts.map((a) => a.attemptNumber),
      attempts.map((a) => Math.max(0, Math.round(a.latencyMs))),
      attempts.map((a) => a.outcome),
      attempts.map((a) => a.pspCode),
      attempts.map((a) => a.fincoreCode),
      attempts.map((a) => a.message),
    ],
  );
}

/** Completes one started attempt (finishAttempts, for one). */
export async function finishAttempt(db: Queryable, attempt: FinishAttempt): Promise<void> {
  await finishAttempts(db, [attempt]);
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
  /** The outcomes of the attempts before the latest (null: still in flight), for mayHaveReachedPsp. */
  earlier_outcomes: (AttemptOutcome | null)[];
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
            -- The earlier calls' outcomes: whether one may have reached the PSP is the domain's
            -- rule (mayHaveReachedPsp), not repeated here.
            ARRAY(SELECT e.outcome FROM psp_attempts e WHERE e.object_id = o.id AND e.attempt_number < a.attempt_number) AS earlier_outcomes,
            j.status AS job_status, j.run_at AS job_run_at, j.locked_until AS job_locked_until,
            now() AS now
       FROM unnest($1::text[]) AS o(id)
       LEFT JOIN LATERAL (
         SELECT outcome, finished_at, object_id, attempt_number FROM psp_attempts WHERE object_id = o.id ORDER BY attempt_number DESC LIMIT 1
       ) a ON true
       LEFT JOIN LATERAL (
         SELECT status, run_at, locked_until FROM jobs WHERE ref = o.id AND job_type IN ('CHARGE', 'REFUND') ORDER BY created_at DESC LIMIT 1
       ) j ON true`,
    [objectIds],
  );
  return new Map(rows.map((row) => [row.object_id, row]));
}
