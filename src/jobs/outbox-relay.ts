/**
 * The outbox relay of the `sqs` transport, running in the API service: it leases job rows SQS has
 * not accepted yet, publishes them, and marks them published only after SQS said yes. The jobs
 * table stays the source of truth; a crash between publish and mark sends a message twice, which
 * job handlers tolerate. Woken when jobs commit, with polling as the fallback.
 */
import type { Logger } from 'pino';
import { leaseUnpublishedJobs, markJobsPublished, SQS_MAX_DELAY_SECONDS, type JobRecord } from '../db/jobs.ts';
import type { Queryable } from '../db/pool.ts';
import { PollPause, type JobWakeup } from '../db/wakeup.ts';
import type { JobMessage } from './message.ts';
import type { PublishableJob, PublishResult } from './sqs.ts';

export interface RelayOptions {
  pollIntervalMs: number;
  /** Rows leased per round (published in batches of 10). */
  batchSize: number;
  /** A relay that died holding rows releases them after this. */
  leaseMs: number;
}

export interface OutboxPublisher {
  publish(messages: PublishableJob[]): Promise<PublishResult>;
}

export interface RelayRound {
  leased: number;
  sent: number;
  failed: number;
  /** Age of the oldest job in the round when it was sent: how far SQS lags the outbox. */
  lagMs: number;
}

/** Lag worth a warning: jobs waiting this long to reach the queue mean the relay is behind. */
const LAG_WARNING_MS = 5000;

function toMessage(job: JobRecord, nowMs: number): PublishableJob {
  const delaySeconds = Math.min(SQS_MAX_DELAY_SECONDS, Math.max(0, Math.ceil((job.run_at.getTime() - nowMs) / 1000)));
  return {
    job_id: job.id,
    job_type: job.job_type,
    ref: job.ref,
    attempt: job.attempts + 1,
    ...(delaySeconds > 0 ? { delaySeconds } : {}),
    ...(job.merchant_id ? { groupId: job.merchant_id } : {}),
  };
}

/** One round: lease, publish, mark. Rows SQS refused keep their lease and go again after it. */
export async function relayOnce(db: Queryable, publisher: OutboxPublisher, options: Pick<RelayOptions, 'batchSize' | 'leaseMs'>): Promise<RelayRound & { refused: PublishResult['failed'] }> {
  const jobs = await leaseUnpublishedJobs(db, options.batchSize, options.leaseMs);
  if (jobs.length === 0) return { leased: 0, sent: 0, failed: 0, lagMs: 0, refused: [] };
  const oldest = Math.min(...jobs.map((job) => job.created_at.getTime()));
  const now = Date.now();
  const result = await publisher.publish(jobs.map((job) => toMessage(job, now)));
  await markJobsPublished(db, result.sent);
  return { leased: jobs.length, sent: result.sent.length, failed: result.failed.length, lagMs: Date.now() - oldest, refused: result.failed };
}

export function startOutboxRelay(db: Queryable, publisher: OutboxPublisher, wakeup: JobWakeup, options: RelayOptions, logger: Logger): { stop(): Promise<void> } {
  const pause = new PollPause();
  const unsubscribing = wakeup.subscribe(pause.wake);

  const loop = (async () => {
    await unsubscribing;
    while (!pause.stopping) {
      pause.beginRound();
      try {
        const round = await relayOnce(db, publisher, options);
        if (round.failed > 0) logger.warn({ refused: round.refused }, 'SQS refused some job messages; they are sent again after their lease');
        if (round.leased > 0) logger[round.lagMs > LAG_WARNING_MS ? 'warn' : 'debug']({ sent: round.sent, lag_ms: round.lagMs }, 'outbox relayed to SQS');
        // A full round means more may be waiting: go again at once.
        if (round.leased === options.batchSize && round.failed === 0) continue;
      } catch (error) {
        logger.error({ err: error instanceof Error ? error.message : String(error) }, 'outbox relay round failed; retrying at the next poll');
      }
      await pause.sleep(options.pollIntervalMs);
    }
  })();

  return {
    async stop() {
      pause.stop();
      await loop;
      await (await unsubscribing)();
    },
  };
}
