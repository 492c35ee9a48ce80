/**
 * The postgres-transport worker: claims due jobs in batches (FOR UPDATE SKIP LOCKED), runs each
 * through the router, then completes, retries with backoff, or dead-letters it. Woken by
 * NOTIFY / in-process signal, with polling as the fallback. Any number may run side by side.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { claimDueJobs, completeJob, scheduleRetry, type JobRecord } from '../db/jobs.ts';
import type { FlowContext } from '../flows/context.ts';
import { retryDelayMs } from './backoff.ts';
import { recordDeadLetter } from './dead-letter.ts';
import { routeJob } from './router.ts';
import { PollPause } from './wakeup.ts';

export interface WorkerOptions {
  pollIntervalMs: number;
  leaseMs: number;
  batchSize: number;
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

export async function startWorker(ctx: FlowContext, options: WorkerOptions, logger: Logger): Promise<RunningWorker> {
  const workerId = `wrk_${randomBytes(6).toString('hex')}`;
  const log = logger.child({ worker: workerId });
  const pause = new PollPause();
  const unsubscribe = await ctx.wakeup.subscribe(pause.wake);

  async function runJob(job: JobRecord): Promise<void> {
    const message = { job_id: job.id, job_type: job.job_type, ref: job.ref, attempt: job.attempts };
    try {
      if (job.attempts > job.max_attempts) throw new Error('attempts exhausted (the job outlived its lease too often)');
      await routeJob(ctx, message);
      await completeJob(ctx.pool, job.id, workerId);
      log.debug({ job: message }, 'job done');
    } catch (error) {
      const reason = describe(error);
      if (job.attempts >= job.max_attempts) {
        await recordDeadLetter(ctx, message, workerId, reason);
        log.error({ job: message, err: reason }, 'job dead-lettered after its last attempt');
      } else {
        const delay = retryDelayMs(job.attempts, options.backoffBaseMs, options.backoffMaxMs);
        await scheduleRetry(ctx.pool, job.id, workerId, delay, reason);
        log.warn({ job: message, err: reason, retry_in_ms: delay }, 'job failed, retrying');
      }
    }
  }

  const loop = (async () => {
    while (!pause.stopping) {
      pause.beginRound();
      let jobs: JobRecord[] = [];
      try {
        jobs = await claimDueJobs(ctx.pool, workerId, options.batchSize, options.leaseMs);
        await Promise.all(jobs.map((job) => runJob(job).catch((error: unknown) => log.error({ err: describe(error), job: job.id }, 'could not record job result'))));
      } catch (error) {
        log.error({ err: describe(error) }, 'claiming jobs failed; backing off');
        await pause.sleep(options.pollIntervalMs);
        continue;
      }
      // A full batch means more may be due: go again at once.
      if (jobs.length < options.batchSize) await pause.sleep(options.pollIntervalMs);
    }
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
