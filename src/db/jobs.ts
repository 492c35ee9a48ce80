/** SQL for the jobs table: the transactional outbox and the queue of record. */
import { newId } from '../domain/ids.ts';
import { isJobType, type JobType } from '../domain/jobs.ts';
import type { Queryable } from './pool.ts';

export type { JobType } from '../domain/jobs.ts';

export interface JobRecord {
  id: string;
  job_type: JobType;
  ref: string;
  status: 'queued' | 'running' | 'done' | 'dead';
  attempts: number;
  max_attempts: number;
  run_at: Date;
  locked_by: string | null;
  locked_until: Date | null;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
  published_at: Date | null;
  publish_lease_until: Date | null;
  /** WEBHOOK jobs only: the merchant whose endpoint the delivery goes to (fair claim, per-merchant cap). */
  merchant_id: string | null;
}

/** Written in the same transaction as the charge or refund it carries out. */
export async function enqueueJob(db: Queryable, job: { type: JobType; ref: string; maxAttempts: number }): Promise<string> {
  const id = newId('job');
  await db.query('INSERT INTO jobs (id, job_type, ref, max_attempts) VALUES ($1, $2, $3, $4)', [id, job.type, job.ref, job.maxAttempts]);
  return id;
}

/**
 * Claims up to `limit` due jobs: queued ones whose time has come, and running ones whose worker
 * let the lease expire (it died). SKIP LOCKED lets several workers claim side by side.
 * `jobTypes` restricts the claim to a lane (money: CHARGE + REFUND; merchant webhooks: WEBHOOK).
 */
export async function claimDueJobs(db: Queryable, workerId: string, limit: number, leaseMs: number, jobTypes?: readonly JobType[]): Promise<JobRecord[]> {
  const { rows } = await db.query<JobRecord>(
    // Two index-ordered scans (jobs_due, jobs_leased), each stopping at the limit. One query with
    // an OR would read and sort every due job to take a few: with a backlog, the claim itself
    // became the worker's bottleneck. (FOR UPDATE is not allowed on a UNION, hence two CTEs.)
    // The lane's types are written into the SQL (a closed set, checked below) rather than passed
    // as a parameter, so the planner sees them: the webhook lane then walks its own partial index
    // (jobs_due_webhooks) instead of every queued charge and refund (a 160 ms claim behind a
    // 100,000-job backlog, repeated at every wakeup, before migration 008).
    `WITH queued AS (
       SELECT id FROM jobs
        WHERE status = 'queued' AND run_at <= now()${laneFilter(jobTypes)}
        ORDER BY run_at
        LIMIT $2
        FOR UPDATE SKIP LOCKED
     ),
     expired AS (
       SELECT id FROM jobs
        WHERE status = 'running' AND locked_until < now()${laneFilter(jobTypes)}
        ORDER BY locked_until
        LIMIT $2
        FOR UPDATE SKIP LOCKED
     ),
     due AS (
       SELECT id FROM queued UNION ALL SELECT id FROM expired LIMIT $2
     )
     UPDATE jobs
        SET status = 'running', attempts = attempts + 1, locked_by = $1,
            locked_until = now() + make_interval(secs => $3::double precision / 1000), updated_at = now()
       FROM due
      WHERE jobs.id = due.id
     RETURNING jobs.*`,
    [workerId, limit, leaseMs],
  );
  return rows;
}

/**
 * The webhook lane's claim: fair across merchants. Among the merchants in this claim's window
 * (MerchantWindow: all of them unless more than 64 wait), each merchant's due jobs take turns, counting
 * the ones it already has running: a job's turn is (the merchant's jobs running) + (its place
 * among the merchant's due jobs, oldest first). Lowest turn first, oldest first within a turn. A
 * merchant with nothing in flight thus goes ahead of one with a backlog being worked on, however
 * much older that backlog is: its first delivery waits at most for the next free slot, not for
 * the backlog (100,000 jobs once made it wait 64 s). Counting running jobs (not only this claim's)
 * keeps it fair across claims of one job each. A merchant never has more than
 * `merchantCap` jobs running at once (across workers): hanging endpoints of one merchant hold at
 * most that many of the lane's slots.
 *
 * Cost: one index probe per merchant in the window (a skip scan over
 * jobs_due_webhooks_by_merchant, so a merchant's backlog is never walked), plus at most `limit`
 * index entries per merchant. The candidates are then locked with
 * SKIP LOCKED and re-checked (status), as the FIFO claim does. Expired leases are reclaimed
 * oldest first, as in claimDueJobs.
 */
export async function claimWebhookJobs(
  db: Queryable,
  workerId: string,
  limit: number,
  leaseMs: number,
  merchantCap: number,
  window: MerchantWindow = { after: '', merchants: MERCHANT_WINDOW },
): Promise<JobRecord[]> {
  const { rows } = await db.query<JobRecord>(
    `WITH RECURSIVE after_cursor AS (
       (SELECT merchant_id, 1 AS depth FROM jobs
         WHERE status = 'queued' AND job_type = 'WEBHOOK' AND merchant_id > $5 ORDER BY merchant_id LIMIT 1)
       UNION ALL
       SELECT (SELECT j.merchant_id FROM jobs j
                WHERE j.status = 'queued' AND j.job_type = 'WEBHOOK' AND j.merchant_id > a.merchant_id
                ORDER BY j.merchant_id LIMIT 1), a.depth + 1
         FROM after_cursor a WHERE a.merchant_id IS NOT NULL AND a.depth < $6
     ),
     window_rest AS (SELECT $6 - count(merchant_id) AS room FROM after_cursor),
     from_start AS (
       (SELECT merchant_id, 1 AS depth FROM jobs
         WHERE status = 'queued' AND job_type = 'WEBHOOK' AND merchant_id <= $5 AND (SELECT room FROM window_rest) > 0
         ORDER BY merchant_id LIMIT 1)
       UNION ALL
       SELECT (SELECT j.merchant_id FROM jobs j
                WHERE j.status = 'queued' AND j.job_type = 'WEBHOOK' AND j.merchant_id > s.merchant_id AND j.merchant_id <= $5
                ORDER BY j.merchant_id LIMIT 1), s.depth + 1
         FROM from_start s WHERE s.merchant_id IS NOT NULL AND s.depth < (SELECT room FROM window_rest)
     ),
     merchant AS (
       SELECT merchant_id FROM after_cursor UNION ALL SELECT merchant_id FROM from_start
     ),
     in_flight AS (
       SELECT merchant_id, count(*) AS running FROM jobs
        WHERE status = 'running' AND job_type = 'WEBHOOK' AND locked_until >= now()
        GROUP BY merchant_id
     ),
     candidate AS (
       SELECT turn.id, turn.run_at, coalesce(f.running, 0) + turn.n AS turn
         FROM merchant m
         LEFT JOIN in_flight f ON f.merchant_id = m.merchant_id
        CROSS JOIN LATERAL (
          SELECT j.id, j.run_at, row_number() OVER (ORDER BY j.run_at) AS n
            FROM jobs j
           WHERE j.merchant_id = m.merchant_id AND j.status = 'queued' AND j.job_type = 'WEBHOOK' AND j.run_at <= now()
           ORDER BY j.run_at
           LIMIT $2
        ) turn
        -- The cap is applied here, not in the LIMIT: a LIMIT the planner cannot estimate made it
        -- walk jobs_due (all merchants' jobs in run_at order) and cross the JIT threshold.
        WHERE m.merchant_id IS NOT NULL AND turn.n <= $4::bigint - coalesce(f.running, 0)
        ORDER BY 3, turn.run_at
        LIMIT $2
     ),
     queued AS (
       SELECT id FROM jobs
        WHERE id IN (SELECT id FROM candidate) AND status = 'queued' AND run_at <= now()
        FOR UPDATE SKIP LOCKED
     ),
     expired AS (
       SELECT id FROM jobs
        WHERE status = 'running' AND locked_until < now() AND job_type = 'WEBHOOK'
        ORDER BY locked_until
        LIMIT $2
        FOR UPDATE SKIP LOCKED
     ),
     due AS (
       SELECT id FROM queued UNION ALL SELECT id FROM expired LIMIT $2
     )
     UPDATE jobs
        SET status = 'running', attempts = attempts + 1, locked_by = $1,
            locked_until = now() + make_interval(secs => $3::double precision / 1000), updated_at = now()
       FROM due
      WHERE jobs.id = due.id
     RETURNING jobs.*`,
    [workerId, limit, leaseMs, merchantCap, window.after, window.merchants],
  );
  return rows;
}

/**
 * Which merchants one claim looks at: the next `merchants` (in id order, wrapping around) with
 * queued webhook jobs after `after`, the last merchant the previous claim served. Bounds the
 * claim's cost when thousands of merchants wait (one index probe each), and makes the lane a
 * round robin over merchants: each is looked at within (waiting merchants / window) claims.
 */
export interface MerchantWindow {
  after: string;
  merchants: number;
}
export const MERCHANT_WINDOW = 64;

/**
 * Where the next window starts after a claim that found nothing due in this one (its merchants'
 * jobs all wait for their backoff): past this window, or from the start ('') when it reached the
 * end. Without it, more than a window of waiting merchants could hide the due ones behind them.
 */
export async function nextMerchantWindow(db: Queryable, window: MerchantWindow): Promise<string> {
  const { rows } = await db.query<{ merchant_id: string | null; depth: number }>(
    `WITH RECURSIVE after_cursor AS (
       (SELECT merchant_id, 1 AS depth FROM jobs
         WHERE status = 'queued' AND job_type = 'WEBHOOK' AND merchant_id > $1 ORDER BY merchant_id LIMIT 1)
       UNION ALL
       SELECT (SELECT j.merchant_id FROM jobs j
                WHERE j.status = 'queued' AND j.job_type = 'WEBHOOK' AND j.merchant_id > a.merchant_id
                ORDER BY j.merchant_id LIMIT 1), a.depth + 1
         FROM after_cursor a WHERE a.merchant_id IS NOT NULL AND a.depth < $2
     )
     SELECT merchant_id, depth FROM after_cursor WHERE merchant_id IS NOT NULL ORDER BY depth DESC LIMIT 1`,
    [window.after, window.merchants],
  );
  const last = rows[0];
  return last && last.depth >= window.merchants ? (last.merchant_id ?? '') : '';
}

function laneFilter(jobTypes: readonly JobType[] | undefined): string {
  if (!jobTypes) return '';
  for (const type of jobTypes) if (!isJobType(type)) throw new Error(`unknown job type ${String(type)}`);
  return ` AND job_type IN (${jobTypes.map((type) => `'${type}'`).join(', ')})`;
}

/** Only the worker holding the lease may finish a job (a re-claimed job belongs to another). */
export async function completeJobs(db: Queryable, jobIds: string[], workerId: string): Promise<void> {
  await db.query(
    `UPDATE jobs SET status = 'done', locked_by = NULL, locked_until = NULL, updated_at = now()
      WHERE id = ANY($1::text[]) AND locked_by = $2 AND status = 'running'`,
    [jobIds, workerId],
  );
}

export async function scheduleRetry(db: Queryable, jobId: string, workerId: string, delayMs: number, error: string): Promise<void> {
  await db.query(
    `UPDATE jobs
        SET status = 'queued', run_at = now() + make_interval(secs => $3::double precision / 1000),
            last_error = $4, locked_by = NULL, locked_until = NULL, updated_at = now()
      WHERE id = $1 AND locked_by = $2 AND status = 'running'`,
    [jobId, workerId, delayMs, error],
  );
}

/** Returns false when the lease was lost meanwhile (another worker owns the job now). */
export async function deadLetterJob(db: Queryable, jobId: string, workerId: string, error: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE jobs SET status = 'dead', last_error = $3, locked_by = NULL, locked_until = NULL, updated_at = now()
      WHERE id = $1 AND locked_by = $2 AND status = 'running'`,
    [jobId, workerId, error],
  );
  return rowCount === 1;
}

export async function listDeadJobs(db: Queryable, limit: number): Promise<JobRecord[]> {
  const { rows } = await db.query<JobRecord>(`SELECT * FROM jobs WHERE status = 'dead' ORDER BY updated_at DESC LIMIT $1`, [limit]);
  return rows;
}

/**
 * Puts a dead job back in the queue with a fresh set of attempts. Replaying twice is harmless.
 * With the SQS transport the relay publishes it again (published_at is cleared).
 */
export async function requeueDeadJob(db: Queryable, jobId: string): Promise<JobRecord | undefined> {
  const { rows } = await db.query<JobRecord>(
    `UPDATE jobs SET status = 'queued', attempts = 0, run_at = now(), updated_at = now(), published_at = NULL
      WHERE id = $1 AND status = 'dead'
     RETURNING *`,
    [jobId],
  );
  return rows[0];
}

export async function findJob(db: Queryable, jobId: string): Promise<JobRecord | undefined> {
  const { rows } = await db.query<JobRecord>('SELECT * FROM jobs WHERE id = $1', [jobId]);
  return rows[0];
}

/**
 * Queues a finished job of this object again (reconciliation found the PSP has no record of it).
 * Jobs still queued, running or dead are left alone: they are in hand or an operator's call. Only
 * a job that finished before the PSP was asked counts: one finishing while the question was on
 * its way has just reached the PSP, and sending it again would be a second create call. A job
 * withdrawn by a cancel (WITHDRAWN) never runs again: the sweep may have listed its refund as
 * pending just before the cancel committed.
 */
export async function requeueFinishedJobOf(db: Queryable, ref: string, finishedBefore: Date): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE jobs SET status = 'queued', attempts = 0, run_at = now(), updated_at = now(), published_at = NULL
      WHERE ref = $1 AND status = 'done' AND updated_at < $2 AND last_error IS DISTINCT FROM $3`,
    [ref, finishedBefore, WITHDRAWN],
  );
  return (rowCount ?? 0) > 0;
}

// --- Cancel before send (flows/cancel-refund.ts) ------------------------------------------------

/**
 * The jobs carrying out `ref`, locked FOR UPDATE (waiting for a claim that holds one: the claim's
 * UPDATE commits first, and the row is read as it left it). A worker's claim skips a row a cancel
 * holds (SKIP LOCKED) and finds it withdrawn once the cancel commits; an SQS delivery
 * (startQueuedDelivery) waits for it and finds it done.
 */
export async function lockJobsOfRef(db: Queryable, jobType: JobType, ref: string): Promise<LockedJob[]> {
  // untouched is compared in SQL: microseconds apart would read as the same millisecond in JS.
  const { rows } = await db.query<LockedJob>(
    'SELECT *, updated_at = created_at AS untouched FROM jobs WHERE ref = $1 AND job_type = $2 ORDER BY id FOR UPDATE',
    [ref, jobType],
  );
  return rows;
}

/** untouched: updated_at is still the insert's (no claim, retry, requeue or reschedule since). */
export type LockedJob = JobRecord & { untouched: boolean };

/**
 * Whether no worker or queue consumer has ever taken this job: queued, never attempted, and never
 * touched since it was written (every claim, retry, requeue and reschedule sets updated_at; only
 * the outbox relay's publish does not, and publishing is not running). attempts alone would not
 * do: an operator's replay of a dead job and reconciliation's requeue reset it to 0.
 */
export function jobNeverStarted(job: LockedJob): boolean {
  return job.status === 'queued' && job.attempts === 0 && job.last_error === null && job.locked_by === null && job.untouched;
}

export const WITHDRAWN = 'canceled before it was sent (POST /v1/refunds/{id}/cancel)';

/**
 * Withdraws a job no one took (the caller holds its row lock and checked jobNeverStarted): it is
 * marked done, so no claim, relay or queue delivery runs it (a message already relayed to SQS is
 * dropped as a duplicate delivery of a done job). last_error says why it never ran.
 */
export async function withdrawJob(db: Queryable, jobId: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE jobs SET status = 'done', last_error = $2, publish_lease_until = NULL, updated_at = now()
      WHERE id = $1 AND status = 'queued' AND attempts = 0`,
    [jobId, WITHDRAWN],
  );
  return rowCount === 1;
}

/**
 * Withdraws a job whose every attempt failed before reaching the PSP (attempts all `not_sent`;
 * the caller holds its row lock and checked the history): waiting for its retry (queued) or
 * dead-lettered, it is marked done, like withdrawJob, so no claim, relay or queue delivery runs it.
 */
export async function withdrawUnsentJob(db: Queryable, jobId: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE jobs SET status = 'done', last_error = $2, locked_by = NULL, locked_until = NULL, publish_lease_until = NULL, updated_at = now()
      WHERE id = $1 AND status IN ('queued', 'dead')`,
    [jobId, WITHDRAWN],
  );
  return rowCount === 1;
}

// --- SQS transport: the jobs table as outbox -------------------------------------------------

/**
 * Leases up to `limit` jobs not yet accepted by the queue, oldest first. Leasing (instead of
 * holding row locks across the SQS call) keeps the transaction short; SKIP LOCKED lets several
 * relays run side by side.
 */
export async function leaseUnpublishedJobs(db: Queryable, limit: number, leaseMs: number): Promise<JobRecord[]> {
  const { rows } = await db.query<JobRecord>(
    // A job due more than SQS's longest DelaySeconds (15 min) from now waits here: a webhook
    // deferred for its paused endpoint or backing off, re-published when its time is near. In
    // run_at order (jobs_unpublished_due, migration 009): the scan stops at the first job not yet
    // near, instead of walking every deferred job at each round. A new job's run_at is its
    // creation time, so for them this is the oldest-first order it always was.
    `WITH unsent AS (
       SELECT id FROM jobs
        WHERE published_at IS NULL AND status = 'queued'
          AND (publish_lease_until IS NULL OR publish_lease_until < now())
          AND run_at <= now() + interval '${SQS_MAX_DELAY_SECONDS} seconds'
        ORDER BY run_at
        LIMIT $1
        FOR UPDATE SKIP LOCKED
     )
     UPDATE jobs SET publish_lease_until = now() + make_interval(secs => $2::double precision / 1000)
       FROM unsent
      WHERE jobs.id = unsent.id
     RETURNING jobs.*`,
    [limit, leaseMs],
  );
  return rows;
}

/** SQS DelaySeconds is at most 15 minutes. */
export const SQS_MAX_DELAY_SECONDS = 900;

/**
 * SQS transport: a job its handler asked to run later (RetryAfter: a webhook's backoff or its
 * endpoint's pause). Its message is deleted and the job goes back to the outbox, due at
 * now + delay, to be published again (with that delay, up to 15 minutes). A fresh message starts
 * at receive count 1: waiting never pushes a delivery into the dead-letter queue, which
 * redelivering the same message (visibility timeout) would after maxReceiveCount receives.
 */
export async function rescheduleForPublish(db: Queryable, jobId: string, consumerId: string, delayMs: number, error: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE jobs
        SET status = 'queued', run_at = now() + make_interval(secs => $3::double precision / 1000),
            last_error = $4, locked_by = NULL, locked_until = NULL, published_at = NULL, publish_lease_until = NULL, updated_at = now()
      WHERE id = $1 AND locked_by = $2 AND status = 'running'`,
    [jobId, consumerId, delayMs, error],
  );
  return rowCount === 1;
}

/** Called only after SQS accepted the messages. */
export async function markJobsPublished(db: Queryable, jobIds: string[]): Promise<void> {
  if (jobIds.length === 0) return;
  await db.query(`UPDATE jobs SET published_at = now(), publish_lease_until = NULL WHERE id = ANY($1::text[])`, [jobIds]);
}

/**
 * A queue message arrived for this job: mark it running under `consumerId`. A job already done
 * is not run again (a duplicate delivery); a dead one runs (an operator redrove its message).
 */
export async function startQueuedDelivery(db: Queryable, jobId: string, consumerId: string, leaseMs: number): Promise<JobRecord | undefined> {
  const { rows } = await db.query<JobRecord>(
    `UPDATE jobs
        SET status = 'running', attempts = attempts + 1, locked_by = $2,
            locked_until = now() + make_interval(secs => $3::double precision / 1000), updated_at = now()
      WHERE id = $1 AND status <> 'done'
     RETURNING *`,
    [jobId, consumerId, leaseMs],
  );
  return rows[0];
}
