/**
 * The benchmark's data work in FinCore's database: its own lookup tables, the refund backlog for
 * the worker run, neutralising leftover jobs, reading results from the events and jobs tables,
 * and the bulk load of the scale run. Everything written here is what FinCore itself would have
 * written (same tables, columns, statuses, events), never a shortcut past its constraints.
 */
import { newId } from '../../src/domain/ids.ts';
import type { SeededCharge } from './api.ts';
import type { Sql } from './sql.ts';
import { percentilesOf, type Percentiles } from './util.ts';

/** bench_charges: integer -> seeded charge, for pgbench. bench_backlog: the worker run's jobs. */
export async function createBenchTables(sql: Sql): Promise<void> {
  await sql.exec(`
    CREATE TABLE IF NOT EXISTS bench_charges (n integer PRIMARY KEY, charge_id text NOT NULL, merchant_id text NOT NULL);
    CREATE TABLE IF NOT EXISTS bench_backlog (job_id text PRIMARY KEY, batch integer NOT NULL, refund_id text NOT NULL);
    CREATE INDEX IF NOT EXISTS bench_backlog_batch ON bench_backlog (batch);
  `);
}

/** Numbers the charges from `first` (pgbench picks n in [first, first + count - 1]). */
export async function insertBenchCharges(sql: Sql, charges: SeededCharge[], first: number): Promise<void> {
  const rows = charges.map((c, i) => ({ n: first + i, charge_id: c.id, merchant_id: c.merchant.id }));
  await sql.query(
    `INSERT INTO bench_charges (n, charge_id, merchant_id)
     SELECT n, charge_id, merchant_id FROM jsonb_to_recordset($1::jsonb) AS r(n integer, charge_id text, merchant_id text)`,
    [JSON.stringify(rows)],
  );
}

export async function countSucceeded(sql: Sql, table: 'payments' | 'refunds', ids: string[]): Promise<number> {
  const rows = await sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE id = ANY($1::text[]) AND status = 'succeeded'`, [ids]);
  return rows[0]?.n ?? 0;
}

/**
 * Jobs the POST benchmarks and pgbench queued (their refunds and charges stay pending, which is
 * harmless: every bench process runs with reconciliation pushed out of the run). Marked done so
 * the settle and worker runs start with an empty queue and measure only their own jobs.
 */
export async function neutraliseQueuedJobs(sql: Sql): Promise<number> {
  const rows = await sql.query<{ n: number }>(
    `WITH done AS (
       UPDATE jobs SET status = 'done', last_error = 'bench: left unexecuted on purpose', locked_by = NULL, locked_until = NULL, updated_at = now()
        WHERE status IN ('queued', 'running') RETURNING 1)
     SELECT count(*)::int AS n FROM done`,
  );
  return rows[0]?.n ?? 0;
}

/**
 * The POST runs' events are waiting for the audit relay (events_to_seal); no relay ran during
 * them (`fincore api` alone). Sealing ~100,000 of them would take the settle and worker runs'
 * CPU, so, like those runs' jobs, they are left unsealed on purpose: their inbox rows are dropped.
 */
export async function neutraliseAuditBacklog(sql: Sql): Promise<number> {
  const rows = await sql.query<{ n: number }>('WITH gone AS (DELETE FROM events_to_seal RETURNING 1) SELECT count(*)::int AS n FROM gone');
  return rows[0]?.n ?? 0;
}

/**
 * `count` pending refunds with their REFUND jobs and refund.created events, written as the API
 * writes them (src/flows/create-refund.ts): FinCore ids, the refund object as event data with
 * the job id, cause api_request. Spread over `charges` (succeeded, known to the simulator),
 * amounts 1..500. Jobs become due in insertion order.
 */
export async function insertRefundBacklog(sql: Sql, batch: number, charges: SeededCharge[], count: number, maxAttempts = 8): Promise<Array<{ refundId: string; chargeId: string }>> {
  const chunk = 5000;
  const inserted: Array<{ refundId: string; chargeId: string }> = [];
  for (let start = 0; start < count; start += chunk) {
    const rows = [];
    for (let i = start; i < Math.min(count, start + chunk); i++) {
      const charge = charges[i % charges.length];
      if (!charge) throw new Error('no charges to refund');
      rows.push({
        i,
        refund_id: newId('re'),
        job_id: newId('job'),
        event_id: newId('evt'),
        request_id: newId('req'),
        charge_id: charge.id,
        merchant_id: charge.merchant.id,
        amount: 1 + ((i * 7919) % 500),
      });
    }
    for (const row of rows) inserted.push({ refundId: row.refund_id, chargeId: row.charge_id });
    await sql.query(
      `WITH input AS (
         SELECT * FROM jsonb_to_recordset($1::jsonb)
           AS r(i integer, refund_id text, job_id text, event_id text, request_id text, charge_id text, merchant_id text, amount bigint)
       ), refunds_in AS (
         INSERT INTO refunds (id, payment_id, merchant_id, amount, currency, status, reason, metadata)
         SELECT refund_id, charge_id, merchant_id, amount, 'usd', 'pending', 'requested_by_customer', '{}' FROM input
         RETURNING *
       ), jobs_in AS (
         INSERT INTO jobs (id, job_type, ref, max_attempts, run_at)
         SELECT job_id, 'REFUND', refund_id, $3::int, now() + make_interval(secs => i / 1e6) FROM input
         RETURNING id
       ), events_in AS (
         INSERT INTO events (id, merchant_id, type, object_type, object_id, data, cause_type, cause_id)
         SELECT input.event_id, r.merchant_id, 'refund.created', 'refund', r.id,
                jsonb_build_object('refund', jsonb_build_object('id', r.id, 'object', 'refund', 'charge_id', r.payment_id, 'amount', r.amount,
                                   'currency', r.currency, 'status', r.status, 'reason', r.reason, 'metadata', r.metadata,
                                   'failure_reason', r.failure_reason, 'created_at', r.created_at, 'updated_at', r.updated_at),
                                   'job_id', input.job_id),
                'api_request', input.request_id
           FROM refunds_in r JOIN input ON input.refund_id = r.id
         RETURNING id
       )
       -- (data-modifying CTEs run whether referenced or not)
       INSERT INTO bench_backlog (job_id, batch, refund_id)
       SELECT job_id, $2::int, refund_id FROM input`,
      [JSON.stringify(rows), batch, maxAttempts],
    );
  }
  return inserted;
}

export interface BacklogProgress {
  total: number;
  done: number;
  /** Refunds of the batch no longer pending (their webhook arrived). */
  settled: number;
  failedRefunds: number;
  /** Jobs that needed more than one attempt. */
  retried: number;
  dead: number;
  firstDoneMs: number | null;
  lastDoneMs: number | null;
}

/**
 * True once no job is queued or running. Polled while workers drain, so it must cost nothing next
 * to what it watches: two probes of the partial indexes jobs_due/jobs_leased, O(1), where
 * backlogProgress joins every job of the batch (20,000 x 2 lookups, five times a second, took a
 * good part of a core from the run it measured). The bench's queue holds only the batch's jobs.
 */
export async function queueIsEmpty(sql: Sql): Promise<boolean> {
  const rows = await sql.query<{ busy: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM jobs WHERE status = 'queued') OR EXISTS (SELECT 1 FROM jobs WHERE status = 'running') AS busy`,
  );
  return rows[0]?.busy === false;
}

export async function backlogProgress(sql: Sql, batch: number): Promise<BacklogProgress> {
  const rows = await sql.query<{ total: number; done: number; settled: number; failed: number; retried: number; dead: number; first_ms: number | null; last_ms: number | null }>(
    `SELECT count(*)::int AS total,
            count(*) FILTER (WHERE j.status = 'done')::int AS done,
            count(*) FILTER (WHERE r.status <> 'pending')::int AS settled,
            count(*) FILTER (WHERE r.status = 'failed')::int AS failed,
            count(*) FILTER (WHERE j.attempts > 1)::int AS retried,
            count(*) FILTER (WHERE j.status = 'dead')::int AS dead,
            (extract(epoch FROM min(j.updated_at) FILTER (WHERE j.status = 'done')) * 1000)::float8 AS first_ms,
            (extract(epoch FROM max(j.updated_at) FILTER (WHERE j.status = 'done')) * 1000)::float8 AS last_ms
       FROM bench_backlog b JOIN jobs j ON j.id = b.job_id JOIN refunds r ON r.id = b.refund_id
      WHERE b.batch = $1`,
    [batch],
  );
  const row = rows[0];
  return {
    total: row?.total ?? 0,
    done: row?.done ?? 0,
    settled: row?.settled ?? 0,
    failedRefunds: row?.failed ?? 0,
    retried: row?.retried ?? 0,
    dead: row?.dead ?? 0,
    firstDoneMs: row?.first_ms ?? null,
    lastDoneMs: row?.last_ms ?? null,
  };
}

export interface SettleLatency {
  refunds: number;
  succeeded: number;
  failed: number;
  /** Still pending when measured. */
  unsettled: number;
  /** refund.created -> refund.succeeded, from the two events' created_at, ms. */
  latencyMs: Percentiles;
}

/**
 * Settle latency from the audit trail: created_at of the refund.created event and of the
 * refund.succeeded event of the same refund. Both are now() of their transactions, i.e. the
 * transaction START: the API's and the webhook's.
 */
export async function settleLatency(sql: Sql, refundIds: string[]): Promise<SettleLatency> {
  const rows = await sql.query<{ type: string | null; ms: number | null }>(
    `SELECT s.type, (extract(epoch FROM (s.created_at - c.created_at)) * 1000)::float8 AS ms
       FROM unnest($1::text[]) AS r(id)
       JOIN events c ON c.object_id = r.id AND c.type = 'refund.created'
       LEFT JOIN events s ON s.object_id = r.id AND s.type IN ('refund.succeeded', 'refund.failed')`,
    [refundIds],
  );
  const succeeded = rows.filter((r) => r.type === 'refund.succeeded');
  return {
    refunds: refundIds.length,
    succeeded: succeeded.length,
    failed: rows.filter((r) => r.type === 'refund.failed').length,
    unsettled: rows.filter((r) => r.type === null).length,
    latencyMs: percentilesOf(succeeded.map((r) => Number(r.ms))),
  };
}

export async function tableRows(sql: Sql): Promise<Record<string, number>> {
  const rows = await sql.query<{ name: string; n: number }>(
    `SELECT 'merchants' AS name, count(*)::int AS n FROM merchants
     UNION ALL SELECT 'payments', count(*)::int FROM payments
     UNION ALL SELECT 'refunds', count(*)::int FROM refunds
     UNION ALL SELECT 'jobs', count(*)::int FROM jobs
     UNION ALL SELECT 'events', count(*)::int FROM events
     UNION ALL SELECT 'idempotency_keys', count(*)::int FROM idempotency_keys
     UNION ALL SELECT 'psp_events', count(*)::int FROM psp_events`,
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.n]));
}

/**
 * The scale run's history: `charges` succeeded charges and `refunds` refunds (5 per charge at
 * the defaults; 1 in 20 failed, the rest succeeded), each with what FinCore would have kept of
 * it: its job (done), its events (created + settled), its idempotency record and the PSP webhook
 * that settled it. Spread over the given merchants, dated over the past weeks; ids are
 * ULID-shaped and sort before every id FinCore makes now (the "00" time prefix), as history does.
 * The triggers refuse UPDATE/DELETE on refunds, payments and events: this only INSERTs.
 * The events go in with their sequence numbers and with triggers off (session_replication_role
 * = replica): history is not queued for the audit relay, which would otherwise spend the measured
 * runs sealing 2.4 M events. Nor does it get ledger postings: the hot path only inserts into the
 * ledger, so its size does not change what a refund costs. (So `fincore audit verify` is not
 * meant to pass on a scaled bench database.)
 */
export async function bulkLoad(sql: Sql, merchantIds: string[], charges: number, refunds: number): Promise<void> {
  const id = (prefix: string, expr: string) => `'${prefix}_00' || lpad((${expr})::text, 24, '0')`;
  const C = Math.trunc(charges);
  const R = Math.trunc(refunds);
  const m = [merchantIds];
  await sql.query(
    `INSERT INTO payments (id, merchant_id, amount, currency, status, payment_method, description, metadata, psp_reference, created_at, updated_at)
     SELECT ${id('ch', 'g')}, ($1::text[])[1 + g % cardinality($1::text[])], 1000 + (g * 7919) % 99000, 'usd', 'succeeded', 'pm_card_visa',
            'bulk charge ' || g, '{}', 'simch_bulk' || g,
            now() - interval '40 days' + g * (interval '30 days' / ${C}), now() - interval '40 days' + g * (interval '30 days' / ${C}) + interval '80 ms'
       FROM generate_series(1, ${C}) g`,
    m,
  );
  // Refund g belongs to charge 1 + (g - 1) % charges; amounts 1..100, at most 5 x 100 < 1000.
  const refundSelect = `
     SELECT g, c, ${id('re', 'g')} AS rid, ${id('ch', 'c')} AS cid, ($1::text[])[1 + c % cardinality($1::text[])] AS mid,
            1 + g % 100 AS amount, CASE WHEN g % 20 = 0 THEN 'failed' ELSE 'succeeded' END AS status,
            now() - interval '40 days' + c * (interval '30 days' / ${C}) + (1 + (g - 1) / ${C}) * interval '1 hour' AS at
       FROM generate_series(1, ${R}) g, LATERAL (SELECT 1 + (g - 1) % ${C} AS c) cc`;
  await sql.query(
    `INSERT INTO refunds (id, payment_id, merchant_id, amount, currency, status, reason, metadata, failure_reason, psp_reference, created_at, updated_at)
     SELECT rid, cid, mid, amount, 'usd', status, 'requested_by_customer', '{}',
            CASE WHEN status = 'failed' THEN 'The card issuer declined the refund.' END, 'simre_bulk' || g, at, at + interval '70 ms'
       FROM (${refundSelect}) s`,
    m,
  );
  await sql.query(
    `INSERT INTO jobs (id, job_type, ref, status, attempts, max_attempts, run_at, created_at, updated_at)
     SELECT ${id('job', 'g')}, 'CHARGE', ${id('ch', 'g')}, 'done', 1, 8, p.created_at, p.created_at, p.created_at + interval '20 ms'
       FROM generate_series(1, ${C}) g JOIN payments p ON p.id = ${id('ch', 'g')}
     UNION ALL
     SELECT ${id('job', `${C} + g`)}, 'REFUND', rid, 'done', 1, 8, at, at, at + interval '20 ms' FROM (${refundSelect}) s`,
    m,
  );
  const chargeObject = `jsonb_build_object('id', p.id, 'object', 'charge', 'amount', p.amount, 'currency', p.currency, 'status', ST,
      'payment_method', p.payment_method, 'description', p.description, 'metadata', p.metadata, 'amount_refunded', 0, 'refunded', false,
      'failure_code', NULL, 'failure_message', NULL, 'created_at', p.created_at, 'updated_at', p.created_at)`;
  const refundObject = `jsonb_build_object('id', r.id, 'object', 'refund', 'charge_id', r.payment_id, 'amount', r.amount, 'currency', r.currency,
      'status', ST, 'reason', r.reason, 'metadata', r.metadata, 'failure_reason', FR, 'created_at', r.created_at, 'updated_at', r.created_at)`;
  await sql.exec('SET session_replication_role = replica');
  await sql.query(
    `INSERT INTO events (id, merchant_id, type, object_type, object_id, data, cause_type, cause_id, created_at, sequence)
     SELECT ${id('evt', '4 * g')}, p.merchant_id, 'charge.created', 'charge', p.id,
            jsonb_build_object('charge', ${chargeObject.replace('ST', "'pending'")}, 'job_id', ${id('job', 'g')}), 'api_request', ${id('req', 'g')}, p.created_at, 1
       FROM generate_series(1, ${C}) g JOIN payments p ON p.id = ${id('ch', 'g')}
     UNION ALL
     SELECT ${id('evt', '4 * g + 1')}, p.merchant_id, 'charge.succeeded', 'charge', p.id,
            jsonb_build_object('charge', ${chargeObject.replace('ST', "'succeeded'")}), 'psp_event', ${id('simevt', 'g')}, p.updated_at, 2
       FROM generate_series(1, ${C}) g JOIN payments p ON p.id = ${id('ch', 'g')}`,
    [],
  );
  await sql.query(
    `INSERT INTO events (id, merchant_id, type, object_type, object_id, data, cause_type, cause_id, created_at, sequence)
     SELECT ${id('evt', `4 * (${C} + g) + 2`)}, r.merchant_id, 'refund.created', 'refund', r.id,
            jsonb_build_object('refund', ${refundObject.replace('ST', "'pending'").replace('FR', 'NULL')}, 'job_id', ${id('job', `${C} + g`)}),
            'api_request', ${id('req', `${C} + g`)}, r.created_at, 1
       FROM generate_series(1, ${R}) g JOIN refunds r ON r.id = ${id('re', 'g')}
     UNION ALL
     SELECT ${id('evt', `4 * (${C} + g) + 3`)}, r.merchant_id, 'refund.' || r.status, 'refund', r.id,
            jsonb_build_object('refund', ${refundObject.replace('ST', 'r.status').replace('FR', 'r.failure_reason')}), 'psp_event', ${id('simevt', `${C} + g`)}, r.updated_at, 2
       FROM generate_series(1, ${R}) g JOIN refunds r ON r.id = ${id('re', 'g')}`,
    [],
  );
  await sql.exec('SET session_replication_role = DEFAULT');
  await sql.query(
    `INSERT INTO idempotency_keys (scope, key, request_method, request_path, request_hash, response_code, response_body, created_at)
     SELECT p.merchant_id, 'bulk-' || md5('c' || g), 'POST', '/v1/charges', md5('hc' || g) || md5('hc2' || g), 201,
            ${chargeObject.replace('ST', "'pending'")}, p.created_at
       FROM generate_series(1, ${C}) g JOIN payments p ON p.id = ${id('ch', 'g')}
     UNION ALL
     SELECT r.merchant_id, 'bulk-' || md5('r' || g), 'POST', '/v1/refunds', md5('hr' || g) || md5('hr2' || g), 201,
            ${refundObject.replace('ST', "'pending'").replace('FR', 'NULL')}, r.created_at
       FROM generate_series(1, ${R}) g JOIN refunds r ON r.id = ${id('re', 'g')}`,
    [],
  );
  await sql.query(
    `INSERT INTO psp_events (id, type, object_id, payload, received_at)
     SELECT ${id('simevt', 'g')}, 'charge.succeeded', ${id('ch', 'g')},
            jsonb_build_object('id', ${id('simevt', 'g')}, 'type', 'charge.succeeded', 'data', jsonb_build_object('object', jsonb_build_object('id', 'simch_bulk' || g, 'reference', ${id('ch', 'g')}, 'status', 'succeeded'))),
            now() - interval '40 days' + g * (interval '30 days' / ${C}) + interval '80 ms'
       FROM generate_series(1, ${C}) g
     UNION ALL
     SELECT ${id('simevt', `${C} + g`)}, 'refund.' || status, rid,
            jsonb_build_object('id', ${id('simevt', `${C} + g`)}, 'type', 'refund.' || status, 'data', jsonb_build_object('object', jsonb_build_object('id', 'simre_bulk' || g, 'reference', rid, 'status', status))),
            at + interval '70 ms'
       FROM (${refundSelect}) s`,
    m,
  );
}
