-- A merchant's reference on charges and refunds (issue 17 item 3): optional, and unique for ever
-- (per merchant for charges, per charge for refunds), unlike an Idempotency-Key, whose record is
-- purged after its retention. The unique indexes are the guard under any concurrency:
-- create_charge and create_refund_if_unchanged (src/db/functions/) insert ON CONFLICT DO NOTHING
-- and answer `reference_already_used` with the existing id, writing nothing. Both functions grow a
-- parameter (last, DEFAULT NULL) and a result column, so their old signatures go; the functions
-- are re-applied after the migrations.
ALTER TABLE payments ADD COLUMN IF NOT EXISTS reference text;
ALTER TABLE refunds ADD COLUMN IF NOT EXISTS reference text;
CREATE UNIQUE INDEX IF NOT EXISTS payments_merchant_reference ON payments (merchant_id, reference) WHERE reference IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS refunds_charge_reference ON refunds (payment_id, reference) WHERE reference IS NOT NULL;
DROP FUNCTION IF EXISTS create_refund_if_unchanged(text, text, text, bigint, text, text, jsonb, timestamptz, text, bigint, text, integer, text, jsonb, text, text, text, text, text, text, text, integer, jsonb, integer, jsonb, boolean, bigint);
DROP FUNCTION IF EXISTS create_charge(text, text, bigint, text, text, text, jsonb, timestamptz, text, integer, text, jsonb, text, text, text, text, text, text, text, integer, jsonb, integer, text);
