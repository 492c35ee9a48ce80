/**
 * The postgres-transport worker: claims due jobs in batches (FOR UPDATE SKIP LOCKED), runs each
 * through the router, then completes, retries with backoff, or dead-letters it. Woken by
 * NOTIFY / in-process signal, with polling as the fallback. Any number may run side by side.
 *
 * Jobs run in a window of `concurrency`: a new batch is claimed as soon as a batch's worth of
 * room is free, so one slow PSP call never holds back the jobs claimed with it. Finished jobs
 * are marked done in groups (one statement for all that finished while the previous group was
 * being written), which turns one commit per job into one per group under load.
 *
 * Three more batching layers, each measured to pay for itself (bench/README.md, "Worker batching"),
 * are put into the flows' context here: a claimed batch's jobs read their charges and refunds in
 * one query (grouped-reads.ts), pending answers' PSP references are recorded, each with its
 * event, one transaction per group (grouped-psp-references.ts), and the PSP attempt history's
 * starts and completions are written one statement per group (grouped-attempts.ts).
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { claimDueJobs, claimWebhookJobs, completeJobs, MERCHANT_WINDOW, nextMerchantWindow, scheduleRetry, type JobRecord, type JobType } from '../db/jobs.ts';
import type { Queryable } from '../db/pool.ts';
import type { FlowContext } from '../flows/context.ts';
import { RetryAfter, retryDelayMs } from './backoff.ts';
import { groupedAttempts } from './grouped-attempts.ts';
import { groupedPspReferences } from './grouped-psp-references.ts';
import { groupedJobReads } from './grouped-reads.ts';
import { GroupedWrites } from './grouped-writes.ts';
import { recordDeadLetter } from '../flows/dead-letter.ts';
import { webhookFailureLog } from './failure-log.ts';
import { jobOutcomes } from '../metrics.ts';
import { routeJob } from './router.ts';
import { PollPause } from '../db/wakeup.ts';
import { lanesOf } from '../domain/jobs.ts';

export interface WorkerOptions {
  pollIntervalMs: number;
  leaseMs: number;
  batchSize: number;
  /** Jobs in flight at most (at least batchSize). */
  concurrency: number;
  /** Only these job types (a lane of its own, e.g. merchant webhooks apart from money); default all. */
  jobTypes?: readonly JobType[];
  /** The webhook lane: claim fairly across merchants, at most this many running per merchant (claimWebhookJobs). */
  merchantCap?: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
}

export interface RunningWorker {
  id: string;
  /** Stops claiming, waits for jobs in flight, then resolves. */
  stop(): Promise<void>;
}

export function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * A retry's log line. A handler's own schedule (RetryAfter with a logKey: a webhook endpoint) is
 * logged at most once a minute per key, with the count of attempts left out; a wait that made no
 * attempt (paused endpoint, merchant at its cap) only at debug level. Both transports use this.
 */
export function logRetry(log: Logger, error: unknown, fields: Record<string, unknown>, message: string): void {
  if (!(error instanceof RetryAfter) || error.logKey === undefined) {
    log.warn(fields, message);
    return;
  }
  if (error.deferred) {
    log.debug(fields, message);
    return;
  }
  const noted = webhookFailureLog.note(error.logKey);
  if (noted.log) log.warn({ ...fields, failures_not_logged: noted.suppressed }, `${message} (at most one line per ${error.logKey} a minute)`);
}

/** Marks finished jobs done, many per statement (see GroupedWrites). */
export class CompletionBatch extends GroupedWrites<string> {
  constructor(db: Queryable, workerId: string) {
    super((jobIds) => completeJobs(db, jobIds, workerId));
  }

  /** Resolves once the job is marked done; only under this worker's lease. */
  complete(jobId: string): Promise<void> {
    return this.add(jobId);
  }
}

export async function startWorker(ctx: FlowContext, options: WorkerOptions, logger: Logger): Promise<RunningWorker> {
  const workerId = `wrk_${randomBytes(6).toString('hex')}`;
  const log = logger.child({ worker: workerId });
  const pause = new PollPause();
  const unsubscribe = await ctx.wakeup.subscribe(pause.wake, options.jobTypes ? lanesOf(options.jobTypes) : undefined);
  const completions = new CompletionBatch(ctx.pool, workerId);
  const jobCtx: FlowContext = { ...ctx, jobReads: groupedJobReads(ctx.pool), pspReferences: groupedPspReferences(ctx.pool), attempts: groupedAttempts(ctx.pool) };
  const window = Math.max(options.concurrency, options.batchSize);
  const inFlight = new Set<Promise<void>>();
  let merchantCursor = '';

  async function runJob(job: JobRecord): Promise<void> {
    const message = { job_id: job.id, job_type: job.job_type, ref: job.ref, attempt: job.attempts };
    try {
      if (job.attempts > job.max_attempts) throw new Error('attempts exhausted (the job outlived its lease too often)');
      await routeJob(jobCtx, message);
      await completions.complete(job.id);
      jobOutcomes.inc({ job_type: job.job_type, outcome: 'succeeded' });
      log.debug({ job: message }, 'job done');
    } catch (error) {
      const reason = describe(error);
      if (job.attempts >= job.max_attempts) {
        await recordDeadLetter(ctx, message, workerId, reason, error);
        jobOutcomes.inc({ job_type: job.job_type, outcome: 'dead' });
        log.error({ job: message, err: reason }, 'job dead-lettered after its last attempt');
      } else {
        const delay = error instanceof RetryAfter ? error.delayMs : retryDelayMs(job.attempts, options.backoffBaseMs, options.backoffMaxMs);
        await scheduleRetry(ctx.pool, job.id, workerId, delay, reason);
        jobOutcomes.inc({ job_type: job.job_type, outcome: 'retried' });
        logRetry(log, error, { job: message, err: reason, retry_in_ms: delay }, 'job failed, retrying');
      }
    }
  }

  function launch(job: JobRecord): void {
    const running: Promise<void> = runJob(job)
      .catch((error: unknown) => log.error({ err: describe(error), job: job.id }, 'could not record job result'))
      .finally(() => inFlight.delete(running));
    inFlight.add(running);
  }

  const loop = (async () => {
    while (!pause.stopping) {
      // Claim only when a whole batch fits: fewer, fuller claims.
      while (inFlight.size > window - options.batchSize) await Promise.race(inFlight);
      pause.beginRound();
      let jobs: JobRecord[] = [];
      try {
        jobs =
          options.merchantCap === undefined
            ? await claimDueJobs(ctx.pool, workerId, options.batchSize, options.leaseMs, options.jobTypes)
            : await claimWebhookJobs(ctx.pool, workerId, options.batchSize, options.leaseMs, options.merchantCap, { after: merchantCursor, merchants: MERCHANT_WINDOW });
        // Round robin: the next claim looks at the merchants after the last one served (or, when
        // none in this window had a job due, at the next window).
        if (options.merchantCap !== undefined) {
          merchantCursor =
            jobs.length > 0
              ? jobs.reduce((last, job) => (job.merchant_id !== null && job.merchant_id > last ? job.merchant_id : last), '')
              : await nextMerchantWindow(ctx.pool, { after: merchantCursor, merchants: MERCHANT_WINDOW });
        }
      } catch (error) {
        log.error({ err: describe(error) }, 'claiming jobs failed; backing off');
        await pause.sleep(options.pollIntervalMs);
        continue;
      }
      for (const job of jobs) {
        jobOutcomes.inc({ job_type: job.job_type, outcome: 'claimed' });
        launch(job);
      }
      // A full batch means more may be due: go again as soon as there is room.
      if (jobs.length < options.batchSize) await pause.sleep(options.pollIntervalMs);
    }
    await Promise.all(inFlight);
  })();

  log.info('worker started');
  return {
    id: workerId,
    async stop() {
      pause.stop();
      await loop;
      await unsubscribe();
      log.info('worker stopped');
    },
  };
}
