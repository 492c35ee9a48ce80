/** Routes a job to its handler by job_type. Handlers call flows; flows reach the PSP. */
import type { JobType } from '../domain/jobs.ts';
import type { FlowContext } from '../flows/context.ts';
import { deliverWebhook } from '../flows/deliver-webhook.ts';
import { executeCharge } from '../flows/execute-charge.ts';
import { executeRefund } from '../flows/execute-refund.ts';
import { RetryAfter, retryDelayMs } from './backoff.ts';
import type { JobMessage } from './message.ts';

export type { JobMessage } from './message.ts';

type JobHandler = (ctx: FlowContext, job: JobMessage) => Promise<void>;

/** One handler per declared job type (src/domain/jobs.ts): the Record makes a missing one a compile error. */
export const JOB_HANDLERS: Readonly<Record<JobType, JobHandler>> = {
  CHARGE: (ctx, job) => executeCharge(ctx, job.ref, { type: 'job', id: job.job_id }),
  REFUND: (ctx, job) => executeRefund(ctx, job.ref, { type: 'job', id: job.job_id }),
  WEBHOOK: (ctx, job) => deliverMerchantWebhook(ctx, job),
};

/**
 * A delivery keeps its own retry schedule: the flow is told when the next attempt would run (the
 * webhook backoff for this attempt) and answers when to run the job again, which the worker does
 * instead of its generic backoff.
 */
async function deliverMerchantWebhook(ctx: FlowContext, job: JobMessage): Promise<void> {
  const retryInMs = retryDelayMs(job.attempt, ctx.webhooks.backoffBaseMs, ctx.webhooks.backoffMaxMs);
  const retry = await deliverWebhook(ctx, job.ref, job.job_id, retryInMs);
  if (retry) throw new RetryAfter(retry.delayMs, retry.reason, retry.logKey, retry.deferred);
}

export function routeJob(ctx: FlowContext, job: JobMessage): Promise<void> {
  return JOB_HANDLERS[job.job_type](ctx, job);
}
