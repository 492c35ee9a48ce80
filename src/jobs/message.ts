/**
 * The job message, the same on both transports (DESIGN.md §4):
 * `{ "job_id": "job_...", "job_type": "REFUND", "ref": "re_...", "attempt": 1 }`.
 * On SQS, job_type is also a message attribute.
 */
import type { JobType } from '../db/jobs.ts';

export interface JobMessage {
  job_id: string;
  job_type: JobType;
  ref: string;
  attempt: number;
}

const REF_PREFIX: Record<JobType, string> = { CHARGE: 'ch_', REFUND: 're_', WEBHOOK: 'whd_' };

export class MalformedJobMessage extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedJobMessage';
  }
}

function isJobType(value: unknown): value is JobType {
  return value === 'CHARGE' || value === 'REFUND' || value === 'WEBHOOK';
}

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
  if (!isJobType(jobType)) throw new MalformedJobMessage('job_type must be CHARGE, REFUND or WEBHOOK');
  if (typeof ref !== 'string' || !ref.startsWith(REF_PREFIX[jobType])) throw new MalformedJobMessage(`ref must be a ${REF_PREFIX[jobType]}... id for a ${jobType} job`);
  if (attempt !== undefined && (typeof attempt !== 'number' || !Number.isInteger(attempt) || attempt < 1)) throw new MalformedJobMessage('attempt must be a positive integer');
  return { job_id: jobId, job_type: jobType, ref, attempt: typeof attempt === 'number' ? attempt : 1 };
}

export function encodeJobMessage(message: JobMessage): string {
  return JSON.stringify({ job_id: message.job_id, job_type: message.job_type, ref: message.ref, attempt: message.attempt });
}
