/** Routes a job to its handler by job_type. Handlers call flows; flows reach the PSP. */
import type { JobType } from '../domain/jobs.ts';
import type { FlowContext } from '../flows/context.ts';
import { executeCharge } from '../flows/execute-charge.ts';
import { executeRefund } from '../flows/execute-refund.ts';
import { deliverWebhook } from '../webhooks/deliver.ts';
import type { JobMessage } from './message.ts';

export type { JobMessage } from './message.ts';

type JobHandler = (ctx: FlowContext, job: JobMessage) => Promise<void>;

/** One handler per declared job type (src/domain/jobs.ts): the Record makes a missing one a compile error. */
export const JOB_HANDLERS: Readonly<Record<JobType, JobHandler>> = {
  CHARGE: (ctx, job) => executeCharge(ctx, job.ref, { type: 'job', id: job.job_id }),
  REFUND: (ctx, job) => executeRefund(ctx, job.ref, { type: 'job', id: job.job_id }),
  WEBHOOK: (ctx, job) => deliverWebhook(ctx, job.ref, job.attempt, job.job_id),
};

export function routeJob(ctx: FlowContext, job: JobMessage): Promise<void> {
  return JOB_HANDLERS[job.job_type](ctx, job);
}
