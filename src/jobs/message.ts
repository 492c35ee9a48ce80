/**
 * The job message, the same on both transports (DESIGN.md §4):
 * `{ "job_id": "job_...", "job_type": "REFUND", "ref": "re_...", "attempt": 1 }`.
 * On SQS, job_type is also a message attribute.
 */
import { isJobType, JOB_TYPES, JOBS, type JobType } from '../domain/jobs.ts';

export interface JobMessage {
  job_id: string;
  job_type: JobType;
  ref: string;
  attempt: number;
}

export class MalformedJobMessage extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedJobMessage';
  }
}

/** `CHARGE, REFUND or WEBHOOK`: the declared types, in words. */
const TYPES_IN_WORDS = JOB_TYPES.length === 1 ? JOB_TYPES[0] : `${JOB_TYPES.slice(0, -1).join(', ')} or ${JOB_TYPES.at(-1)}`;

/** Parses a message body from the queue; anything else is a permanent failure, never retried into success. */
export function parseJobMessage(body: string): JobMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new MalformedJobMessage('body is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new MalformedJobMessage('body is not a JSON object');
  const { job_id: jobId, job_type: jobType, ref, attempt } = parsed as Record<string, unknown>;
  if (typeof jobId !== 'string' || !jobId.startsWith('job_')) throw new MalformedJobMessage('job_id must be a job id (job_...)');
  if (!isJobType(jobType)) throw new MalformedJobMessage(`job_type must be ${TYPES_IN_WORDS}`);
  const prefix = `${JOBS[jobType].ref}_`;
  if (typeof ref !== 'string' || !ref.startsWith(prefix)) throw new MalformedJobMessage(`ref must be a ${prefix}... id for a ${jobType} job`);
  if (attempt !== undefined && (typeof attempt !== 'number' || !Number.isInteger(attempt) || attempt < 1)) throw new MalformedJobMessage('attempt must be a positive integer');
  return { job_id: jobId, job_type: jobType, ref, attempt: typeof attempt === 'number' ? attempt : 1 };
}

export function encodeJobMessage(message: JobMessage): string {
  return JSON.stringify({ job_id: message.job_id, job_type: message.job_type, ref: message.ref, attempt: message.attempt });
}
