/** Dead-lettering a job after its last attempt, the same on both transports: state and audit event together. */
import { appendEvent } from '../db/events.ts';
import { merchantOfObject } from '../db/merchants.ts';
import { deadLetterJob } from '../db/jobs.ts';
import { inTransaction } from '../db/pool.ts';
import type { FlowContext } from '../flows/context.ts';
import type { JobMessage } from './message.ts';

/** Returns false when `consumerId` no longer holds the job (someone else runs it now). */
export function recordDeadLetter(ctx: FlowContext, job: JobMessage, consumerId: string, reason: string): Promise<boolean> {
  return inTransaction(ctx.pool, async (tx) => {
    if (!(await deadLetterJob(tx, job.job_id, consumerId, reason))) return false;
    // The merchant whose charge or refund the job carries sees it in their events and audit chain.
    const merchantId = await merchantOfObject(tx, job.ref);
    await appendEvent(tx, { merchantId, type: 'job.dead_lettered', objectType: 'job', objectId: job.job_id, data: { job: { ...job, status: 'dead', last_error: reason } }, cause: { type: 'job', id: job.job_id } });
    return true;
  });
}
