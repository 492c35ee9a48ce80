/**
 * Consuming job messages from SQS: the Lambda handler and the local poller (`fincore worker` with
 * FINCORE_QUEUE=sqs) both hand each message here. It routes by job_type through the same router
 * and flows as the postgres worker, and records the outcome on the job row. SQS does the rest:
 * a message reported as failed becomes visible again after the visibility timeout (the backoff),
 * and after `maxReceiveCount` receives SQS moves it to the dead-letter queue.
 */
import type { Message } from '@aws-sdk/client-sqs';
import type { Logger } from 'pino';
import { completeJobs, findJob, rescheduleForPublish, scheduleRetry, startQueuedDelivery } from '../db/jobs.ts';
import { RetryAfter } from './backoff.ts';
import type { FlowContext } from '../flows/context.ts';
import { recordDeadLetter } from '../flows/dead-letter.ts';
import { MalformedJobMessage, parseJobMessage } from './message.ts';
import { routeJob } from './router.ts';
import type { JobQueue } from './sqs.ts';
import { describe, logRetry } from './worker.ts';

export interface QueueRecord {
  messageId: string;
  body: string;
  /** SQS ApproximateReceiveCount: 1 on the first delivery. */
  receiveCount: number;
}

export interface ConsumerOptions {
  /** The queue's redrive maxReceiveCount: the receive that is the job's last attempt. */
  maxReceiveCount: number;
  /** How long a delivery holds the job row (at least the visibility timeout). */
  leaseMs: number;
}

/**
 * done: handled (or a duplicate of a finished job): delete the message.
 * rescheduled: the handler asked for a later run (RetryAfter); the job is back in the outbox and
 * will be published again: delete this message.
 * retry / dead / malformed: report it failed; SQS redelivers it or moves it to the DLQ.
 */
export type RecordOutcome = 'done' | 'duplicate' | 'rescheduled' | 'retry' | 'dead' | 'malformed';

export function isFailure(outcome: RecordOutcome): boolean {
  return outcome === 'retry' || outcome === 'dead' || outcome === 'malformed';
}

export async function handleQueueRecord(ctx: FlowContext, record: QueueRecord, options: ConsumerOptions, logger: Logger): Promise<RecordOutcome> {
  let message;
  try {
    message = parseJobMessage(record.body);
  } catch (error) {
    if (!(error instanceof MalformedJobMessage)) throw error;
    // Retrying cannot fix a bad message: it fails every receive and ends in the DLQ for a person to read.
    logger.error({ message_id: record.messageId, err: error.message, receive_count: record.receiveCount }, 'malformed job message; left to the dead-letter queue');
    return 'malformed';
  }
  const job = await findJob(ctx.pool, message.job_id);
  if (!job || job.job_type !== message.job_type || job.ref !== message.ref) {
    logger.error({ message_id: record.messageId, job: message }, 'job message matches no job in the outbox; left to the dead-letter queue');
    return 'malformed';
  }
  const consumerId = `sqs_${record.messageId}`;
  const started = await startQueuedDelivery(ctx.pool, job.id, consumerId, options.leaseMs);
  if (!started) {
    logger.info({ job: message }, 'job already done; duplicate delivery dropped');
    return 'duplicate';
  }
  // A webhook's attempt is the job row's (its backoff grows across re-published messages, whose
  // receive count starts again at 1); other jobs count receives, as SQS's redrive does.
  const delivery = { ...message, attempt: job.job_type === 'WEBHOOK' ? started.attempts : record.receiveCount };
  try {
    await routeJob(ctx, delivery);
    await completeJobs(ctx.pool, [job.id], consumerId);
    return 'done';
  } catch (error) {
    const reason = describe(error);
    // What SQS can and cannot do for the webhook rules (they live in deliverWebhook, so they are
    // checked at handle time on this transport as on the postgres one):
    // - A paused endpoint's delivery and a merchant over its in-flight cap are not attempted; the
    //   job is re-published with a delay (RetryAfter), not left to the visibility timeout, so
    //   waiting never counts toward maxReceiveCount and the DLQ.
    // - SQS cannot reorder a queue per merchant. Messages of a merchant with a backlog are still
    //   received ahead of another merchant's, but each one beyond the merchant's cap costs a
    //   receive and a re-publish, not a delivery, so another merchant's first delivery waits for
    //   those cheap receives only. On AWS the relay also sets MessageGroupId = merchant id on
    //   webhook messages, which SQS fair queues use to keep one noisy merchant from raising the
    //   others' dwell time.
    // - The per-merchant cap is counted across concurrent handlers (Lambda instances): each marks
    //   its job running (startQueuedDelivery, committed) and then counts the merchant's running
    //   jobs that started before it; the first ones go, the later ones wait. Two marks committing
    //   in the same instant can let one delivery past the cap: a bound, not a lock.
    // - A delay longer than SQS's 15 minutes is kept in the outbox until it is near.
    // - SQS does not know about the postgres transport's wake-up when an endpoint resumes: a
    //   deferred job already published keeps its delay (at most the pause).
    // Other failures are left to SQS as before: visibility timeout, then the DLQ.
    if (error instanceof RetryAfter) {
      if (await rescheduleForPublish(ctx.pool, job.id, consumerId, error.delayMs, reason)) {
        ctx.wakeup.jobsCommitted(job.job_type);
        logRetry(logger, error, { job: delivery, err: reason, retry_in_ms: error.delayMs }, 'job rescheduled; the relay publishes it again when due');
        return 'rescheduled';
      }
    }
    if (record.receiveCount >= options.maxReceiveCount) {
      await recordDeadLetter(ctx, delivery, consumerId, reason, error);
      logger.error({ job: delivery, err: reason }, 'job failed on its last receive; SQS moves it to the dead-letter queue');
      return 'dead';
    }
    // Back to queued for the record; published_at stays set, so the relay does not send it again.
    await scheduleRetry(ctx.pool, job.id, consumerId, 0, reason);
    logger.warn({ job: delivery, err: reason }, 'job failed; SQS redelivers it after the visibility timeout');
    return 'retry';
  }
}

export function recordFromMessage(message: Message): QueueRecord {
  const count = Number(message.Attributes?.ApproximateReceiveCount ?? '1');
  return { messageId: message.MessageId ?? 'unknown', body: message.Body ?? '', receiveCount: Number.isInteger(count) && count > 0 ? count : 1 };
}

/**
 * A local stand-in for Lambda's SQS event source: long-polls the queue, hands each message to
 * handleQueueRecord, deletes those handled, leaves the others to SQS.
 */
export function startSqsPoller(ctx: FlowContext, queue: JobQueue, options: ConsumerOptions & { waitSeconds: number }, logger: Logger): { stop(): Promise<void> } {
  let stopping = false;
  const loop = (async () => {
    while (!stopping) {
      try {
        const messages = await queue.receive(10, options.waitSeconds);
        await Promise.all(
          messages.map(async (message) => {
            const outcome = await handleQueueRecord(ctx, recordFromMessage(message), options, logger);
            if (!isFailure(outcome) && message.ReceiptHandle) await queue.delete(message.ReceiptHandle);
          }),
        );
      } catch (error) {
        logger.error({ err: describe(error) }, 'SQS poll failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  })();
  return {
    async stop() {
      stopping = true;
      await loop;
    },
  };
}
