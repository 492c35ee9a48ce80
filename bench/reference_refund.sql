-- bench/reference_refund.sql -- THE REFERENCE REFUND TRANSACTION (pgbench script)
--
-- What a refund costs the database when the work is sent as plain statements in one
-- transaction: the yardstick `npm run bench` divides FinCore's POST /v1/refunds throughput by.
-- This file stays FIXED whatever FinCore's own SQL becomes (a CTE, a function, other queries):
-- it measures the database, not FinCore. Do not "optimise" it; if FinCore's hot path takes
-- another form, that form goes in bench/fincore_refund.sql and is measured next to this one.
--
-- The work, on the real FinCore tables and columns (src/db/migrations), one round trip each:
--   1. idempotency-key lookup (SELECT on idempotency_keys; the key is fresh, so no row)
--   2. SELECT ... FOR UPDATE of the charge (table payments): refunds of a charge serialize here
--   3. sum of the charge's live refunds (pending + succeeded)
--   4. INSERT the refund (pending)          5. INSERT its REFUND job (queued)
--   6. INSERT its refund.created event      7. INSERT the idempotency record (the 201 response)
--   then COMMIT (durable: synchronous_commit as the server has it). The refund rule (charge
--   succeeded, amount <= charge amount - live refunds) is judged by pgbench's \if between 3 and 4.
--
-- How it addresses data (run by bench/run.ts, which passes -D nlo=.. -D nhi=..):
--   * bench_charges (n integer PRIMARY KEY, charge_id, merchant_id) maps integers to the
--     succeeded charges the benchmark seeded through the API, so pgbench can pick a random one;
--     the lookup rides in statement 1 (same round trip, a primary-key probe of a tiny table).
--   * Refund amounts are random 1..500 on charges of 99,999,999: the rule never refuses.
--   * Fresh ids per transaction: refund/job/event ids are time-ordered like FinCore's ULIDs
--     (microseconds since the epoch in hex + the pgbench client id), so index inserts land
--     where FinCore's do; the idempotency key is random, as a client's would be.
--   * The response body (the refund object) is built once from the inserted row and reused for
--     the event data and the idempotency record, as FinCore serializes it once.
-- Needs -M prepared (bench/run.ts uses it): \gset values are passed as parameters.
-- Not in this transaction (FinCore does them outside the database or not at all): API-key
-- authentication, request validation, the advisory lock on the key, NOTIFY to the workers.

\set n random(:nlo, :nhi)
\set amount random(1, 500)
\set k random(1, 9223372036854775806)
BEGIN;
SELECT b.merchant_id AS mid, b.charge_id AS cid, 'pgb_' || :client_id || '_' || :k AS ikey,
       (SELECT k.response_code FROM idempotency_keys k
         WHERE k.scope = b.merchant_id AND k.key = 'pgb_' || :client_id || '_' || :k) AS stored_code
  FROM bench_charges b WHERE b.n = :n \gset
SELECT amount AS c_amount, currency AS c_currency, (status = 'succeeded')::int AS c_ok
  FROM payments WHERE id = :cid AND merchant_id = :mid FOR UPDATE \gset
SELECT coalesce(sum(amount), 0) AS reserved
  FROM refunds WHERE payment_id = :cid AND status IN ('pending', 'succeeded') \gset
\if :c_ok = 1 and :reserved + :amount <= :c_amount
INSERT INTO refunds (id, payment_id, merchant_id, amount, currency, status, reason, metadata)
VALUES ('re_' || lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000000)::bigint), 14, '0') || '_' || :client_id,
        :cid, :mid, :amount, :c_currency, 'pending', 'requested_by_customer', '{}')
RETURNING id AS rid,
          json_build_object('id', id, 'object', 'refund', 'charge_id', payment_id, 'amount', amount,
                            'currency', currency, 'status', status, 'reason', reason, 'metadata', metadata,
                            'failure_reason', failure_reason, 'created_at', created_at, 'updated_at', updated_at) AS body \gset
INSERT INTO jobs (id, job_type, ref, max_attempts)
VALUES ('job_' || lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000000)::bigint), 14, '0') || '_' || :client_id,
        'REFUND', :rid, 8)
RETURNING id AS jid \gset
INSERT INTO events (id, merchant_id, type, object_type, object_id, data, cause_type, cause_id)
VALUES ('evt_' || lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000000)::bigint), 14, '0') || '_' || :client_id,
        :mid, 'refund.created', 'refund', :rid,
        jsonb_build_object('refund', (:body)::jsonb, 'job_id', (:jid)::text), 'api_request', 'req_pgbench_' || :client_id);
INSERT INTO idempotency_keys (scope, key, request_method, request_path, request_hash, response_code, response_body)
VALUES (:mid, :ikey, 'POST', '/v1/refunds', '4f2d0c1e9a7b3c5d6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5', 201, (:body)::jsonb);
COMMIT;
\else
ROLLBACK;
\endif
