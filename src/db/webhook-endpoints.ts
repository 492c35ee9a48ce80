/** SQL for outbound merchant webhooks: endpoints, their deliveries, and the fan-out of events to them. */
import type { StoredEvent } from '../domain/objects.ts';
import type { Queryable } from './pool.ts';

export interface WebhookEndpointRecord {
  id: string;
  merchant_id: string;
  url: string;
  enabled_events: string[];
  description: string | null;
  secret: string;
  status: 'enabled' | 'deleted';
  created_at: Date;
  deleted_at: Date | null;
  /** Circuit breaker (src/domain/webhook-breaker.ts): failed attempts in a row, since when, and the pause. */
  consecutive_failures: number;
  failing_since: Date | null;
  paused_until: Date | null;
  disabled_reason: string | null;
  /** The secret the last rotation replaced: it still signs deliveries until it expires. */
  previous_secret: string | null;
  previous_secret_expires_at: Date | null;
}

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed';

export interface WebhookDeliveryRecord {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  status: DeliveryStatus;
  attempts: number;
  last_attempt_at: Date | null;
  last_response_status: number | null;
  last_error: string | null;
  next_attempt_at: Date | null;
  series_started_at: Date;
  created_at: Date;
}

export async function insertWebhookEndpoint(
  db: Queryable,
  endpoint: Pick<WebhookEndpointRecord, 'id' | 'merchant_id' | 'url' | 'enabled_events' | 'description' | 'secret'>,
): Promise<WebhookEndpointRecord> {
  const { rows } = await db.query<WebhookEndpointRecord>(
    `INSERT INTO webhook_endpoints (id, merchant_id, url, enabled_events, description, secret)
     VALUES ($1, $2, $3, $4, $5, $6)
     RETURNING *`,
    [endpoint.id, endpoint.merchant_id, endpoint.url, endpoint.enabled_events, endpoint.description, endpoint.secret],
  );
  return rows[0] as WebhookEndpointRecord;
}

/**
 * Serializes endpoint registrations of one merchant (FOR NO KEY UPDATE: charges and refunds
 * referencing the merchant are not blocked) and counts its enabled endpoints: the cap holds under
 * concurrent registrations.
 */
export async function countEnabledEndpointsLocked(db: Queryable, merchantId: string): Promise<number> {
  await db.query('SELECT 1 FROM merchants WHERE id = $1 FOR NO KEY UPDATE', [merchantId]);
  // A second statement on purpose: under READ COMMITTED it takes a fresh snapshot, after the lock
  // was granted, so it sees the endpoints a registration that held the lock before us committed.
  // (Counted in the locking statement, it would read the snapshot from before the wait.)
  const { rows } = await db.query<{ enabled: number }>(`SELECT count(*)::integer AS enabled FROM webhook_endpoints WHERE merchant_id = $1 AND status = 'enabled'`, [merchantId]);
  return rows[0]?.enabled ?? 0;
}

/** The endpoint, its row locked for the rest of the transaction. */
export async function lockWebhookEndpoint(db: Queryable, merchantId: string, endpointId: string): Promise<WebhookEndpointRecord | undefined> {
  const { rows } = await db.query<WebhookEndpointRecord>('SELECT * FROM webhook_endpoints WHERE id = $1 AND merchant_id = $2 FOR NO KEY UPDATE', [endpointId, merchantId]);
  return rows[0];
}

/**
 * A new signing secret; the current one keeps signing until `previousExpiresInMs` from now (0:
 * it stops at once). A secret still in its overlap from an earlier rotation is dropped: at most
 * two secrets sign at a time.
 */
export async function rotateWebhookSecret(db: Queryable, endpointId: string, newSecret: string, previousExpiresInMs: number): Promise<WebhookEndpointRecord> {
  const { rows } = await db.query<WebhookEndpointRecord>(
    `UPDATE webhook_endpoints
        SET previous_secret = CASE WHEN $3::double precision > 0 THEN secret END,
            previous_secret_expires_at = CASE WHEN $3::double precision > 0 THEN now() + make_interval(secs => $3::double precision / 1000) END,
            secret = $2
      WHERE id = $1
     RETURNING *`,
    [endpointId, newSecret, previousExpiresInMs],
  );
  return rows[0] as WebhookEndpointRecord;
}

export async function findWebhookEndpoint(db: Queryable, merchantId: string, endpointId: string): Promise<WebhookEndpointRecord | undefined> {
  const { rows } = await db.query<WebhookEndpointRecord>('SELECT * FROM webhook_endpoints WHERE id = $1 AND merchant_id = $2', [endpointId, merchantId]);
  return rows[0];
}

/** Newest first; one row more than `limit` tells whether there is a next page. */
export async function listWebhookEndpoints(db: Queryable, merchantId: string, limit: number, startingAfter: string | undefined): Promise<WebhookEndpointRecord[]> {
  const { rows } = await db.query<WebhookEndpointRecord>(
    `SELECT * FROM webhook_endpoints
      WHERE merchant_id = $1 AND ($2::text IS NULL OR id < $2)
      ORDER BY id DESC
      LIMIT $3`,
    [merchantId, startingAfter ?? null, limit + 1],
  );
  return rows;
}

/**
 * Deletes (keeps, marked deleted) the merchant's endpoint and stops its pending deliveries, in one
 * statement. Deleting again returns the endpoint as it is; another merchant's endpoint: undefined.
 */
export async function deleteWebhookEndpoint(db: Queryable, merchantId: string, endpointId: string): Promise<WebhookEndpointRecord | undefined> {
  const { rows } = await db.query<WebhookEndpointRecord>(
    `WITH deleted AS (
       UPDATE webhook_endpoints SET status = 'deleted', deleted_at = coalesce(deleted_at, now())
        WHERE id = $1 AND merchant_id = $2
       RETURNING *
     ),
     stopped AS (
       UPDATE webhook_deliveries
          SET status = 'failed', last_error = 'endpoint deleted', next_attempt_at = NULL
        WHERE endpoint_id IN (SELECT id FROM deleted) AND status = 'pending'
     )
     SELECT * FROM deleted`,
    [endpointId, merchantId],
  );
  return rows[0];
}

export async function listWebhookDeliveries(db: Queryable, endpointId: string, limit: number, startingAfter: string | undefined): Promise<WebhookDeliveryRecord[]> {
  const { rows } = await db.query<WebhookDeliveryRecord>(
    `SELECT * FROM webhook_deliveries
      WHERE endpoint_id = $1 AND ($2::text IS NULL OR id < $2)
      ORDER BY id DESC
      LIMIT $3`,
    [endpointId, startingAfter ?? null, limit + 1],
  );
  return rows;
}

export async function findWebhookDelivery(db: Queryable, deliveryId: string): Promise<WebhookDeliveryRecord | undefined> {
  const { rows } = await db.query<WebhookDeliveryRecord>('SELECT * FROM webhook_deliveries WHERE id = $1', [deliveryId]);
  return rows[0];
}

/**
 * Starts a new attempt series for a delivery of an enabled endpoint of this merchant: pending
 * again, due now, its retry window restarting. Its WEBHOOK job is put back in the queue, or a new
 * one written when none is waiting (the old one finished or is running right now).
 * `undefined`: no such delivery of that merchant's endpoint.
 */
export async function restartWebhookDelivery(
  db: Queryable,
  merchantId: string,
  endpointId: string,
  deliveryId: string,
  job: { id: string; maxAttempts: number },
): Promise<WebhookDeliveryRecord | undefined> {
  const { rows } = await db.query<WebhookDeliveryRecord>(
    `WITH restarted AS (
       UPDATE webhook_deliveries d
          SET status = 'pending', next_attempt_at = now(), series_started_at = now()
         FROM webhook_endpoints e
        WHERE d.id = $1 AND d.endpoint_id = $2 AND e.id = d.endpoint_id AND e.merchant_id = $3 AND e.status = 'enabled'
       RETURNING d.*
     ),
     requeued AS (
       UPDATE jobs SET run_at = now(), attempts = 0, updated_at = now(), published_at = NULL
        WHERE job_type = 'WEBHOOK' AND ref IN (SELECT id FROM restarted) AND status = 'queued'
       RETURNING id
     ),
     written AS (
       INSERT INTO jobs (id, job_type, ref, max_attempts, merchant_id)
       SELECT $4, 'WEBHOOK', id, $5, $3 FROM restarted WHERE NOT EXISTS (SELECT 1 FROM requeued)
     )
     SELECT * FROM restarted`,
    [deliveryId, endpointId, merchantId, job.id, job.maxAttempts],
  );
  return rows[0];
}

/** What one delivery attempt needs: the delivery, where it goes, and the stored event it carries. */
export interface DeliveryTarget {
  delivery: Pick<WebhookDeliveryRecord, 'id' | 'status' | 'series_started_at'>;
  endpoint: Pick<WebhookEndpointRecord, 'id' | 'merchant_id' | 'url' | 'status' | 'consecutive_failures' | 'failing_since' | 'paused_until' | 'disabled_reason'> & {
    /** Every secret that signs now: the current one first, then one still in its rotation overlap. */
    signingSecrets: string[];
  };
  event: StoredEvent;
  /** The merchant's WEBHOOK jobs running now (leases not expired) that started before this one. */
  merchantInFlight: number;
  /** The database's clock when this was read: breaker decisions use it, not the worker's. */
  now: Date;
}

export async function findDeliveryTarget(db: Queryable, deliveryId: string, jobId: string): Promise<DeliveryTarget | undefined> {
  // to_jsonb(ev): the whole stored event (sequence and cause included) for eventObject();
  // created_at is read as a column so it is parsed like every other timestamp.
  const { rows } = await db.query<{
    id: string;
    status: WebhookDeliveryRecord['status'];
    series_started_at: Date;
    endpoint: Omit<WebhookEndpointRecord, 'created_at' | 'deleted_at' | 'failing_since' | 'paused_until' | 'previous_secret_expires_at'>;
    failing_since: Date | null;
    paused_until: Date | null;
    previous_secret_valid: boolean;
    event: Omit<StoredEvent, 'created_at'>;
    event_created_at: Date;
    merchant_in_flight: number;
    now: Date;
  }>(
    `SELECT d.id, d.status, d.series_started_at,
            jsonb_build_object('id', e.id, 'merchant_id', e.merchant_id, 'url', e.url, 'secret', e.secret, 'status', e.status,
                               'consecutive_failures', e.consecutive_failures, 'disabled_reason', e.disabled_reason,
                               'previous_secret', e.previous_secret) AS endpoint,
            e.failing_since, e.paused_until, coalesce(e.previous_secret_expires_at > now(), false) AS previous_secret_valid,
            to_jsonb(ev) AS event, ev.created_at AS event_created_at, now() AS now,
            -- Only the running jobs that started before this one (claim time, then id): when
            -- several started together past the cap, the first ones go and the rest wait,
            -- instead of each counting all the others and every one of them waiting.
            (SELECT count(*)::integer FROM jobs j, jobs me
              WHERE me.id = $2 AND j.merchant_id = e.merchant_id AND j.status = 'running' AND j.job_type = 'WEBHOOK'
                AND j.locked_until >= now() AND (j.updated_at, j.id) < (me.updated_at, me.id)) AS merchant_in_flight
       FROM webhook_deliveries d
       JOIN webhook_endpoints e ON e.id = d.endpoint_id
       JOIN events ev ON ev.id = d.event_id
      WHERE d.id = $1`,
    [deliveryId, jobId],
  );
  const row = rows[0];
  if (!row) return undefined;
  const { secret, previous_secret: previousSecret, ...endpoint } = row.endpoint;
  return {
    delivery: { id: row.id, status: row.status, series_started_at: row.series_started_at },
    endpoint: {
      ...endpoint,
      failing_since: row.failing_since,
      paused_until: row.paused_until,
      signingSecrets: row.previous_secret_valid && previousSecret ? [secret, previousSecret] : [secret],
    },
    event: { ...row.event, created_at: row.event_created_at },
    merchantInFlight: row.merchant_in_flight,
    now: row.now,
  };
}

/** The breaker's part of an endpoint, locked for the transaction, with the database's clock. */
export async function lockEndpointBreaker(db: Queryable, endpointId: string): Promise<(BreakerColumns & { merchant_id: string; now: Date }) | undefined> {
  const { rows } = await db.query<BreakerColumns & { merchant_id: string; now: Date }>(
    `SELECT merchant_id, consecutive_failures, failing_since, paused_until, disabled_reason, now() AS now
       FROM webhook_endpoints WHERE id = $1 AND status = 'enabled' FOR NO KEY UPDATE`,
    [endpointId],
  );
  return rows[0];
}

export type BreakerColumns = Pick<WebhookEndpointRecord, 'consecutive_failures' | 'failing_since' | 'paused_until' | 'disabled_reason'>;

export async function writeEndpointBreaker(db: Queryable, endpointId: string, state: BreakerColumns): Promise<WebhookEndpointRecord | undefined> {
  const { rows } = await db.query<WebhookEndpointRecord>(
    `UPDATE webhook_endpoints SET consecutive_failures = $2, failing_since = $3, paused_until = $4, disabled_reason = $5
      WHERE id = $1
     RETURNING *`,
    [endpointId, state.consecutive_failures, state.failing_since, state.paused_until, state.disabled_reason],
  );
  return rows[0];
}

/**
 * The half-open probe: of all the deliveries due once the pause has passed, exactly one wins this
 * update (it moves paused_until on by `leaseMs`, so the others keep waiting) and is attempted.
 */
export async function claimEndpointProbe(db: Queryable, endpointId: string, leaseMs: number): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE webhook_endpoints SET paused_until = now() + make_interval(secs => $2::double precision / 1000)
      WHERE id = $1 AND status = 'enabled' AND paused_until <= now()`,
    [endpointId, leaseMs],
  );
  return rowCount === 1;
}

/**
 * A delivery waits for its paused endpoint without an attempt: due again at `until`, or failed if
 * that falls after its retry window. Returns the delivery's state, or undefined when it was no
 * longer pending.
 */
export async function deferWebhookDelivery(db: Queryable, deliveryId: string, until: Date, retryWindowMs: number): Promise<DeliveryStatus | undefined> {
  const { rows } = await db.query<{ status: DeliveryStatus }>(
    `UPDATE webhook_deliveries
        SET status = CASE WHEN $2 <= series_started_at + make_interval(secs => $3::double precision / 1000) THEN 'pending' ELSE 'failed' END,
            next_attempt_at = CASE WHEN $2 <= series_started_at + make_interval(secs => $3::double precision / 1000) THEN $2 END,
            last_error = CASE WHEN $2 <= series_started_at + make_interval(secs => $3::double precision / 1000) THEN last_error
                              ELSE 'endpoint paused (circuit breaker open) until the retry window ended' END
      WHERE id = $1 AND status = 'pending'
     RETURNING status`,
    [deliveryId, until, retryWindowMs],
  );
  return rows[0]?.status;
}

/**
 * The endpoint answers again: its pending deliveries (waiting out the pause or a backoff meant
 * for an endpoint that was down) become due now. Postgres transport only; on SQS their messages
 * come back on their own delay.
 */
export async function wakeEndpointDeliveries(db: Queryable, endpointId: string): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE jobs SET run_at = now(), updated_at = now()
      WHERE job_type = 'WEBHOOK' AND status = 'queued' AND run_at > now() AND published_at IS NULL
        AND ref IN (SELECT id FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 'pending')`,
    [endpointId],
  );
  return rowCount ?? 0;
}

export interface AttemptOutcome {
  delivered: boolean;
  responseStatus: number | null;
  error: string | null;
  /** When to try again if this attempt failed. */
  retryInMs: number;
  retryWindowMs: number;
}

/**
 * Logs one attempt on a pending delivery and decides its state, on the database's clock: delivered
 * -> succeeded; failed, with the next attempt still inside the retry window -> pending (due then);
 * otherwise -> failed. Returns the new state, or undefined when the delivery was no longer pending
 * (its endpoint was deleted meanwhile): nothing is changed then.
 */
export async function recordDeliveryAttempt(db: Queryable, deliveryId: string, outcome: AttemptOutcome): Promise<WebhookDeliveryRecord | undefined> {
  const { rows } = await db.query<WebhookDeliveryRecord>(
    `WITH next AS (
       SELECT id, now() + make_interval(secs => $5::double precision / 1000) AS attempt_at,
              series_started_at + make_interval(secs => $6::double precision / 1000) AS window_ends_at
         FROM webhook_deliveries WHERE id = $1 AND status = 'pending'
     )
     UPDATE webhook_deliveries d
        SET attempts = d.attempts + 1,
            last_attempt_at = now(),
            last_response_status = $3,
            last_error = $4,
            status = CASE WHEN $2 THEN 'succeeded' WHEN next.attempt_at <= next.window_ends_at THEN 'pending' ELSE 'failed' END,
            next_attempt_at = CASE WHEN NOT $2 AND next.attempt_at <= next.window_ends_at THEN next.attempt_at END
       FROM next
      WHERE d.id = next.id AND d.status = 'pending'
     RETURNING d.*`,
    [deliveryId, outcome.delivered, outcome.responseStatus, outcome.error, outcome.retryInMs, outcome.retryWindowMs],
  );
  return rows[0];
}

/** Marks a pending delivery failed without an attempt (its endpoint is gone). */
export async function stopWebhookDelivery(db: Queryable, deliveryId: string, reason: string): Promise<void> {
  await db.query(`UPDATE webhook_deliveries SET status = 'failed', last_error = $2, next_attempt_at = NULL WHERE id = $1 AND status = 'pending'`, [deliveryId, reason]);
}

/** One matching (event, endpoint) pair of a fan-out, in event order. */
export interface FanOutPair {
  event_id: string;
  event_type: string;
  endpoint_id: string;
}

/**
 * The enabled endpoints each event goes to: its merchant's, subscribed to its type or to "*",
 * registered before the event happened (events reach the fan-out moments after they commit; an
 * endpoint registered in between must not receive the past). Events without a merchant go
 * nowhere. Ordered by the events' position in the batch.
 */
export async function matchEndpoints(db: Queryable, events: readonly { id: string; merchant_id: string | null; type: string; created_at: Date }[]): Promise<FanOutPair[]> {
  const { rows } = await db.query<FanOutPair>(
    `SELECT ev.event_id, ev.event_type, e.id AS endpoint_id
       FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) WITH ORDINALITY AS ev (event_id, merchant_id, event_type, created_at, position)
       JOIN webhook_endpoints e
         ON e.merchant_id = ev.merchant_id AND e.status = 'enabled' AND date_trunc('milliseconds', e.created_at) <= ev.created_at
        AND (ev.event_type = ANY (e.enabled_events) OR '*' = ANY (e.enabled_events))
      ORDER BY ev.position, e.id`,
    [events.map((e) => e.id), events.map((e) => e.merchant_id), events.map((e) => e.type), events.map((e) => e.created_at)],
  );
  return rows;
}

/**
 * Writes a delivery and its WEBHOOK job for each pair, in one statement. A pair already delivered
 * to (the batch handed over again) writes nothing, nor does an endpoint deleted since it was matched.
 * Returns the deliveries written.
 */
export async function insertDeliveries(
  db: Queryable,
  pairs: readonly (FanOutPair & { delivery_id: string; job_id: string })[],
  maxAttempts: number,
): Promise<number> {
  if (pairs.length === 0) return 0;
  const { rows } = await db.query<{ written: number }>(
    `WITH pair AS (
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
                AS p (delivery_id, job_id, endpoint_id, event_id, event_type)
     ),
     delivery AS (
       INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type)
       SELECT p.delivery_id, p.endpoint_id, p.event_id, p.event_type
         FROM pair p JOIN webhook_endpoints e ON e.id = p.endpoint_id AND e.status = 'enabled'
       ON CONFLICT ON CONSTRAINT webhook_deliveries_once_per_endpoint DO NOTHING
       RETURNING id
     ),
     job AS (
       INSERT INTO jobs (id, job_type, ref, max_attempts, merchant_id)
       SELECT p.job_id, 'WEBHOOK', p.delivery_id, $6, e.merchant_id
         FROM pair p JOIN delivery d ON d.id = p.delivery_id JOIN webhook_endpoints e ON e.id = p.endpoint_id
       RETURNING id
     )
     SELECT count(*)::integer AS written FROM job`,
    [pairs.map((p) => p.delivery_id), pairs.map((p) => p.job_id), pairs.map((p) => p.endpoint_id), pairs.map((p) => p.event_id), pairs.map((p) => p.event_type), maxAttempts],
  );
  return rows[0]?.written ?? 0;
}
