-- bench/fincore_refund.sql -- FINCORE'S OWN FORM of the refund, as a pgbench script
-- requires-function: create_refund_if_unchanged
--
-- bench/reference_refund.sql is the fixed yardstick (plain statements in one transaction). This
-- file is the other yardstick: the same refund in the form FinCore's hot path sends it, so the
-- bench shows how far FinCore (Node, HTTP, JSON, pool) is from the best the database can do with
-- FinCore's own SQL. Unlike the reference it FOLLOWS FinCore: when the hot path's SQL changes,
-- change this file (bench/run.ts runs it only if the function named on the `requires-function:`
-- line above exists in the migrated database).
--
-- Mirrors src/flows/create-refund.ts + src/db/refunds.ts (the function's one file:
-- src/db/functions/create_refund_if_unchanged.sql), steady state: the API process remembers each charge's facts
-- (status, amount, currency, reserved amount; src/flows/refund-facts-cache.ts), so a refund of a
-- charge it has seen is ONE round trip, autocommit:
--   SELECT * FROM create_refund_if_unchanged(...)   -- re-checks the facts under the charge's
--   row lock, then writes refund + job + event + idempotency record.
-- pgbench cannot remember facts between transactions, so the expected facts are read by
-- subqueries of the same statement (index probes, no lock, no extra round trip): slightly more
-- database work than FinCore's cached path, the same round trips. A concurrent refund of the
-- same charge committing in between makes the function answer 'changed' and write nothing (FinCore
-- would retry); bench/run.ts counts the refunds actually inserted per run to show how rare that is.
-- (A charge FinCore has not seen yet costs one more round trip: readRefundFacts. Not measured here.)
-- Ids are time-ordered like FinCore's ULIDs, the idempotency key random, the response body and
-- event data built once per refund, as FinCore builds them in TypeScript. As in the reference,
-- bench_charges maps pgbench's random integer to a seeded charge. Needs -M prepared.

\set n random(:nlo, :nhi)
\set amount random(1, 500)
\set k random(1, 9223372036854775806)
SELECT f.outcome
  FROM bench_charges c,
       LATERAL (SELECT p.status, p.currency,
                       (SELECT coalesce(sum(r.amount), 0) FROM refunds r WHERE r.payment_id = p.id AND r.status <> 'failed') AS reserved
                  FROM payments p WHERE p.id = c.charge_id AND p.merchant_id = c.merchant_id) facts,
       LATERAL (SELECT 're_' || lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000000)::bigint), 14, '0') || '_f' || :client_id AS rid,
                       'job_' || lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000000)::bigint), 14, '0') || '_f' || :client_id AS jid,
                       'evt_' || lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000000)::bigint), 14, '0') || '_f' || :client_id AS eid,
                       'pgf_' || :client_id || '_' || :k AS ikey,
                       clock_timestamp() AS at) ids,
       LATERAL (SELECT jsonb_build_object('id', ids.rid, 'object', 'refund', 'charge_id', c.charge_id, 'amount', (:amount)::bigint,
                                          'currency', facts.currency, 'status', 'pending', 'reason', 'requested_by_customer',
                                          'metadata', '{}'::jsonb, 'failure_reason', NULL, 'created_at', ids.at, 'updated_at', ids.at) AS body) b,
       LATERAL create_refund_if_unchanged(
         ids.rid, c.charge_id, c.merchant_id, (:amount)::bigint, facts.currency, 'requested_by_customer'::text, '{}'::jsonb, ids.at,
         facts.status, facts.reserved::bigint,
         ids.jid, 8,
         ids.eid, jsonb_build_object('refund', b.body, 'job_id', ids.jid), 'api_request'::text, 'req_pgbench_' || :client_id,
         c.merchant_id, ids.ikey, 'POST'::text, '/v1/refunds'::text, '4f2d0c1e9a7b3c5d6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5'::text, 201, b.body, 24,
         jsonb_build_array(jsonb_build_object('account', 'merchant_balance', 'amount', (:amount)::bigint),
                           jsonb_build_object('account', 'refunds_reserved', 'amount', -(:amount)::bigint))) f
 WHERE c.n = :n;
