/**
 * Prometheus metrics (GET /metrics). One registry per process; labels are bounded sets (route
 * templates, statuses, currencies, job types), never ids. Counters count what this process did;
 * the queue gauges are read from the database at scrape time, so they are the same everywhere.
 */
import client from 'prom-client';
import type { Queryable } from './db/pool.ts';

export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry, prefix: 'fincore_' });

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export const httpDuration = new client.Histogram({
  name: 'fincore_http_request_duration_seconds',
  help: 'HTTP requests by route template, method and status code.',
  labelNames: ['route', 'method', 'status'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [registry],
});

export const moneyMovementsCreated = new client.Counter({
  name: 'fincore_created_total',
  help: 'Charges and refunds created (201, not replays), by object and currency.',
  labelNames: ['object', 'currency'] as const,
  registers: [registry],
});

export const moneyMovementsSettled = new client.Counter({
  name: 'fincore_settled_total',
  help: 'Charges and refunds that reached a terminal status, by object, status and currency.',
  labelNames: ['object', 'status', 'currency'] as const,
  registers: [registry],
});

export const settleLatency = new client.Histogram({
  name: 'fincore_settle_latency_seconds',
  help: 'From creation to terminal status, by object and status.',
  labelNames: ['object', 'status'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});

export const jobOutcomes = new client.Counter({
  name: 'fincore_jobs_total',
  help: 'Jobs by type and outcome: claimed, succeeded, retried, dead.',
  labelNames: ['job_type', 'outcome'] as const,
  registers: [registry],
});

export const pspCalls = new client.Histogram({
  name: 'fincore_psp_request_duration_seconds',
  help: 'PSP calls by operation and outcome (ok, or the error class).',
  labelNames: ['operation', 'outcome'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

export const webhookIntake = new client.Counter({
  name: 'fincore_psp_webhooks_total',
  help: 'PSP webhooks received, by result: settled, ignored, duplicate, unknown_object, not_for_fincore, malformed (signed but unreadable, kept), rejected_signature.',
  labelNames: ['result'] as const,
  registers: [registry],
});

export const reconciliationActions = new client.Counter({
  name: 'fincore_reconciliation_actions_total',
  help: 'What reconciliation sweeps did per object checked: settled, resubmitted, undecided, error, ignored.',
  labelNames: ['action'] as const,
  registers: [registry],
});

let queueSource: Queryable | undefined;

/** The queue gauges read the jobs table at scrape time through this connection pool. */
export function observeQueue(db: Queryable): void {
  queueSource = db;
}

new client.Gauge({
  name: 'fincore_queue_jobs',
  help: 'Jobs in the queue by type and status (queued, running, dead).',
  labelNames: ['job_type', 'status'] as const,
  registers: [registry],
  async collect() {
    if (!queueSource) return;
    this.reset();
    // One count per status, each over its partial index: the done jobs (nearly all rows) are never read.
    const { rows } = await queueSource.query<{ job_type: string; status: string; n: number }>(
      `SELECT job_type, 'queued' AS status, count(*)::int AS n FROM jobs WHERE status = 'queued' GROUP BY job_type
       UNION ALL
       SELECT job_type, 'running', count(*)::int FROM jobs WHERE status = 'running' GROUP BY job_type
       UNION ALL
       SELECT job_type, 'dead', count(*)::int FROM jobs WHERE status = 'dead' GROUP BY job_type`,
    );
    for (const row of rows) this.set({ job_type: row.job_type, status: row.status }, row.n);
  },
});

new client.Gauge({
  name: 'fincore_queue_oldest_due_age_seconds',
  help: 'Age of the oldest queued job whose time has come (0 when none is due).',
  registers: [registry],
  async collect() {
    if (!queueSource) return;
    const { rows } = await queueSource.query<{ age: number | null }>(
      `SELECT extract(epoch FROM now() - min(run_at))::float8 AS age FROM jobs WHERE status = 'queued' AND run_at <= now()`,
    );
    this.set(rows[0]?.age ?? 0);
  },
});

/** Seconds since `createdAt`, for settle latency. */
export function secondsSince(createdAt: Date): number {
  return Math.max(0, (Date.now() - createdAt.getTime()) / 1000);
}

let requestsAnswered = 0;

/** HTTP requests this process has answered since it started (the dashboard derives requests/s). */
export function countRequestAnswered(): void {
  requestsAnswered++;
}

export function requestsAnsweredTotal(): number {
  return requestsAnswered;
}

export const refundWriteRaces = new client.Counter({
  name: 'fincore_refund_write_races_total',
  help: 'Refund writes that found their facts moved by a concurrent refund of the same charge: resolved_by="retry" (decided again on the fresh facts) or "charge_lock" (decided under the charge lock after repeated races).',
  labelNames: ['resolved_by'] as const,
  registers: [registry],
});

export const pspReports = new client.Counter({
  name: 'fincore_psp_reports_total',
  help: 'What PSP reports (webhooks, answers, queries) did to charges and refunds: result="applied" | "late_move" (out of a settled status) | "review" (a contradiction, see fincore_reviews_opened_total) | "ignored" (detail: still_pending, already_so, under_review).',
  labelNames: ['object', 'result', 'detail'] as const,
  registers: [registry],
});

export const reviewsOpened = new client.Counter({
  name: 'fincore_reviews_opened_total',
  help: 'Review items opened for an operator, by object (charge, refund, psp_event) and reason.',
  labelNames: ['object', 'reason'] as const,
  registers: [registry],
});

export const reviewsResolved = new client.Counter({
  name: 'fincore_reviews_resolved_total',
  help: 'Review items an operator resolved, by object and decision.',
  labelNames: ['object', 'decision'] as const,
  registers: [registry],
});

export const disputeReports = new client.Counter({
  name: 'fincore_disputes_total',
  help: 'PSP dispute (chargeback) reports, by the dispute status FinCore holds after them (status: open, won, lost; the reported one when nothing changed) and result: created, updated, closed, ignored_unchanged, refused_lost_is_final (a lost dispute reported otherwise later), refused_other_charge, parked (charge unknown or pending).',
  labelNames: ['status', 'result'] as const,
  registers: [registry],
});
