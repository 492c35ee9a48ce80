/**
 * SQL for the operator's view (admin key): across merchants, with filters. Every list is
 * newest first by id with a cursor, like the merchant API's lists.
 */
import type { ChargeRecord, RefundRecord } from '../domain/objects.ts';
import { CHARGE_STATUSES, REFUND_STATUSES, type ChargeStatus, type RefundStatus } from '../domain/status.ts';
import type pg from 'pg';
import type { Queryable } from './pool.ts';

export interface AdminFilter {
  merchantId?: string;
  status?: string;
  currency?: string;
  chargeId?: string;
  createdGte?: Date;
  createdLte?: Date;
}

export async function adminListCharges(db: Queryable, filter: AdminFilter, limit: number, startingAfter: string | undefined): Promise<ChargeRecord[]> {
  return adminList<ChargeRecord>(db, 'payments', filter, limit, startingAfter);
}

export async function adminListRefunds(db: Queryable, filter: AdminFilter, limit: number, startingAfter: string | undefined): Promise<RefundRecord[]> {
  return adminList<RefundRecord>(db, 'refunds', filter, limit, startingAfter);
}

/** Each listed table's column naming the row's charge (what `chargeId` filters on). */
const CHARGE_COLUMN = { payments: 'id', refunds: 'payment_id' } as const;

/** `limit + 1` rows, newest first: the extra one says has_more. */
async function adminList<T extends pg.QueryResultRow>(db: Queryable, table: keyof typeof CHARGE_COLUMN, filter: AdminFilter, limit: number, startingAfter: string | undefined): Promise<T[]> {
  const { rows } = await db.query<T>(
    `SELECT * FROM ${table}
      WHERE ($1::text IS NULL OR merchant_id = $1)
        AND ($2::text IS NULL OR status = $2)
        AND ($3::text IS NULL OR currency = $3)
        AND ($4::timestamptz IS NULL OR date_trunc('milliseconds', created_at) >= $4)
        AND ($5::timestamptz IS NULL OR date_trunc('milliseconds', created_at) <= $5)
        AND ($6::text IS NULL OR id < $6)
        AND ($7::text IS NULL OR ${CHARGE_COLUMN[table]} = $7)
      ORDER BY id DESC
      LIMIT $8`,
    [filter.merchantId ?? null, filter.status ?? null, filter.currency ?? null, filter.createdGte ?? null, filter.createdLte ?? null, startingAfter ?? null, filter.chargeId ?? null, limit + 1],
  );
  return rows;
}

export async function findCharge(db: Queryable, chargeId: string): Promise<ChargeRecord | undefined> {
  const { rows } = await db.query<ChargeRecord>('SELECT * FROM payments WHERE id = $1', [chargeId]);
  return rows[0];
}

/** One count per status of the list, zeros included, so a status no row has yet still shows. */
export type StatusCounts<S extends string> = Record<S, number>;

export interface Overview {
  merchants: number;
  /** Every charge status (CHARGE_STATUSES). */
  charges: StatusCounts<ChargeStatus>;
  /** Every refund status (REFUND_STATUSES), canceled and requires_review included. */
  refunds: StatusCounts<RefundStatus>;
  volume: { currency: string; charged: number; refunded: number; refund_pending: number }[];
  queue: { queued: number; running: number; dead: number; oldest_due_age_seconds: number | null };
  audit: { pending_seal: number };
}

/** Keyed by the domain's status list (src/domain/status.ts): a status added there is counted here. */
function counts<S extends string>(statuses: readonly S[], rows: { status: string; n: number }[]): StatusCounts<S> {
  return Object.fromEntries(statuses.map((status) => [status, rows.find((r) => r.status === status)?.n ?? 0])) as StatusCounts<S>;
}

/** Whole-table counts: fine for an operator's screen refreshed every few seconds, not for a hot path. */
export async function overview(db: Queryable): Promise<Overview> {
  const [merchants, charges, refunds, volume, queue, oldest, seal] = await Promise.all([
    db.query<{ n: number }>('SELECT count(*)::int AS n FROM merchants'),
    db.query<{ status: string; n: number }>('SELECT status, count(*)::int AS n FROM payments GROUP BY status'),
    db.query<{ status: string; n: number }>('SELECT status, count(*)::int AS n FROM refunds GROUP BY status'),
    db.query<Overview['volume'][number]>(
      `SELECT c.currency, c.charged, coalesce(r.refunded, 0)::bigint AS refunded, coalesce(r.refund_pending, 0)::bigint AS refund_pending
         FROM (SELECT currency, sum(amount)::bigint AS charged FROM payments WHERE status = 'succeeded' GROUP BY currency) AS c
         LEFT JOIN (SELECT currency, sum(amount) FILTER (WHERE status = 'succeeded') AS refunded,
                           sum(amount) FILTER (WHERE status = 'pending') AS refund_pending
                      FROM refunds GROUP BY currency) AS r ON r.currency = c.currency
        ORDER BY c.currency`,
    ),
    db.query<{ status: string; n: number }>(
      `SELECT 'queued' AS status, count(*)::int AS n FROM jobs WHERE status = 'queued'
       UNION ALL SELECT 'running', count(*)::int FROM jobs WHERE status = 'running'
       UNION ALL SELECT 'dead', count(*)::int FROM jobs WHERE status = 'dead'`,
    ),
    db.query<{ age: number | null }>(`SELECT extract(epoch FROM now() - min(run_at))::float8 AS age FROM jobs WHERE status = 'queued' AND run_at <= now()`),
    db.query<{ n: number }>('SELECT count(*)::int AS n FROM events_to_seal'),
  ]);
  const queueCount = (status: string) => queue.rows.find((r) => r.status === status)?.n ?? 0;
  return {
    merchants: merchants.rows[0]?.n ?? 0,
    charges: counts(CHARGE_STATUSES, charges.rows),
    refunds: counts(REFUND_STATUSES, refunds.rows),
    volume: volume.rows,
    queue: { queued: queueCount('queued'), running: queueCount('running'), dead: queueCount('dead'), oldest_due_age_seconds: oldest.rows[0]?.age ?? null },
    audit: { pending_seal: seal.rows[0]?.n ?? 0 },
  };
}

export interface Totals {
  charges_created_total: number;
  refunds_created_total: number;
  refunds_settled_total: number;
  settle_latency_ms: { p50: number | null; p99: number | null; count: number; window_seconds: number };
  queue_depth: number;
}

/**
 * Cumulative totals (a caller polling twice derives rates) and recent settle latency, from the
 * database. "Settled" is what the PSP decided (succeeded, failed, or in review of its report): a
 * canceled refund never reached the PSP, so it is neither a settlement nor a settle latency.
 */
export async function totals(db: Queryable, windowSeconds: number): Promise<Totals> {
  const [created, latency, depth] = await Promise.all([
    db.query<{ charges: number; refunds: number; settled: number }>(
      `SELECT (SELECT count(*) FROM payments)::int AS charges, (SELECT count(*) FROM refunds)::int AS refunds,
              (SELECT count(*) FROM refunds WHERE status NOT IN ('pending', 'canceled'))::int AS settled`,
    ),
    db.query<{ p50: number | null; p99: number | null; n: number }>(
      `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99, count(*)::int AS n
         FROM (SELECT extract(epoch FROM updated_at - created_at) * 1000 AS ms
                 FROM refunds WHERE status NOT IN ('pending', 'canceled') AND updated_at > now() - make_interval(secs => $1)) AS settled`,
      [windowSeconds],
    ),
    db.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE status = 'queued'`),
  ]);
  const c = created.rows[0];
  const l = latency.rows[0];
  return {
    charges_created_total: c?.charges ?? 0,
    refunds_created_total: c?.refunds ?? 0,
    refunds_settled_total: c?.settled ?? 0,
    settle_latency_ms: { p50: l?.p50 ?? null, p99: l?.p99 ?? null, count: l?.n ?? 0, window_seconds: windowSeconds },
    queue_depth: depth.rows[0]?.n ?? 0,
  };
}

export async function listMerchants(db: Queryable): Promise<{ id: string; name: string; created_at: Date }[]> {
  const { rows } = await db.query<{ id: string; name: string; created_at: Date }>('SELECT id, name, created_at FROM merchants ORDER BY id DESC LIMIT 1000');
  return rows;
}

export interface AdminEndpointRow {
  id: string;
  merchant_id: string;
  url: string;
  enabled_events: string[];
  status: string;
  created_at: Date;
  pending: number;
  succeeded: number;
  failed: number;
  last_delivery_at: Date | null;
}

export async function listEndpointsWithDeliveries(db: Queryable, merchantId: string | undefined): Promise<AdminEndpointRow[]> {
  const { rows } = await db.query<AdminEndpointRow>(
    // "paused": its circuit breaker is open (as on the merchant's endpoint object).
    `SELECT e.id, e.merchant_id, e.url, e.enabled_events,
            CASE WHEN e.status = 'enabled' AND e.paused_until IS NOT NULL THEN 'paused' ELSE e.status END AS status, e.created_at,
            count(d.id) FILTER (WHERE d.status = 'pending')::int AS pending,
            count(d.id) FILTER (WHERE d.status = 'succeeded')::int AS succeeded,
            count(d.id) FILTER (WHERE d.status = 'failed')::int AS failed,
            max(d.last_attempt_at) AS last_delivery_at
       FROM webhook_endpoints e LEFT JOIN webhook_deliveries d ON d.endpoint_id = e.id
      WHERE ($1::text IS NULL OR e.merchant_id = $1)
      GROUP BY e.id
      ORDER BY e.id DESC
      LIMIT 200`,
    [merchantId ?? null],
  );
  return rows;
}
