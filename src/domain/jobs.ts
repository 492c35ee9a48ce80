/**
 * Every job type, declared once, with the worker lane that claims it and the id prefix of the
 * object it works on. The JobType type, the queue message's check (jobs/message.ts), the router's
 * handler table (jobs/router.ts, typed Record<JobType, ...>: a type without a handler does not
 * compile), the lanes main.ts starts (jobTypesOfLane) and, by test/lists-agree.test.ts, the
 * jobs.job_type CHECK derive from it. Adding a job type: a line here, its handler, its test.
 *
 * Lanes: `money` (charges and refunds) and `webhook` (merchant webhooks, claimed fairly across
 * merchants): a slow merchant endpoint holds only the webhook lane's slots.
 */
import type { IdPrefix } from './ids.ts';

export const JOB_LANES = ['money', 'webhook'] as const;
export type JobLane = (typeof JOB_LANES)[number];

export const JOBS = {
  CHARGE: { lane: 'money', ref: 'ch' },
  REFUND: { lane: 'money', ref: 're' },
  WEBHOOK: { lane: 'webhook', ref: 'whd' },
} as const satisfies Record<string, { lane: JobLane; ref: IdPrefix }>;

export type JobType = keyof typeof JOBS;

export const JOB_TYPES = Object.keys(JOBS) as JobType[];

export function isJobType(value: unknown): value is JobType {
  return typeof value === 'string' && Object.hasOwn(JOBS, value);
}

/** The lanes of these job types (a worker's, for its wakeups), in declaration order. */
export function lanesOf(types: readonly JobType[]): JobLane[] {
  return JOB_LANES.filter((lane) => types.some((type) => JOBS[type].lane === lane));
}

/** The job types one lane's worker claims, in declaration order. */
export function jobTypesOfLane(lane: JobLane): JobType[] {
  return JOB_TYPES.filter((type) => JOBS[type].lane === lane);
}
