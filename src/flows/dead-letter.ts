/** Dead-lettering a job after its last attempt, the same on both transports: state and audit event together. */
import { appendEvent } from '../db/events.ts';
import { merchantOfObject } from '../db/merchants.ts';
import { deadLetterJob } from '../db/jobs.ts';
import { inTransaction } from '../db/pool.ts';
import type { FlowContext } from './context.ts';
import { PspPermanentError, PspTransientError } from '../psp/gateway.ts';
import type { JobType } from '../domain/jobs.ts';

/** The job as its queue message carries it (src/jobs/message.ts's JobMessage): copied whole into the event. */
export interface DeadJob {
  job_id: string;
  job_type: JobType;
  ref: string;
  attempt: number;
}

/** What a merchant is told about why a job died: a class, never the error's own text. */
export type DeadLetterFailureClass = 'psp_unavailable' | 'psp_refused' | 'internal_error';

const FAILURE_MESSAGES: Record<DeadLetterFailureClass, string> = {
  psp_unavailable: 'The payment service provider could not be reached or did not answer on any attempt.',
  psp_refused: 'The payment service provider refused the request on every attempt.',
  internal_error: 'The job failed on every attempt because of an internal error; FinCore operators have the details.',
};

export function deadLetterFailureClass(error: unknown): DeadLetterFailureClass {
  if (error instanceof PspTransientError) return 'psp_unavailable';
  if (error instanceof PspPermanentError) return 'psp_refused';
  return 'internal_error';
}

/**
 * Returns false when `consumerId` no longer holds the job (someone else runs it now).
 * `reason` (the error's full text: hosts, ports, driver messages) is kept for operators in the
 * job row (`jobs dead`, GET /v1/admin/jobs) and the logs; the `job.dead_lettered` event, which
 * the merchant reads (events API, webhooks), carries only the failure class and a fixed message.
 */
export function recordDeadLetter(ctx: FlowContext, job: DeadJob, consumerId: string, reason: string, error?: unknown): Promise<boolean> {
  return inTransaction(ctx.pool, async (tx) => {
    if (!(await deadLetterJob(tx, job.job_id, consumerId, reason))) return false;
    // The merchant whose charge or refund the job carries sees it in their events and audit chain.
    const merchantId = await merchantOfObject(tx, job.ref);
    const failureClass = deadLetterFailureClass(error);
    await appendEvent(tx, {
      merchantId,
      type: 'job.dead_lettered',
      objectType: 'job',
      objectId: job.job_id,
      data: { job: { ...job, status: 'dead', failure_class: failureClass, failure_message: FAILURE_MESSAGES[failureClass] } },
      cause: { type: 'job', id: job.job_id },
    });
    return true;
  });
}
