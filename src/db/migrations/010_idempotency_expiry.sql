-- Idempotency records expire (API.md "Idempotency"): each row carries when it stops counting.
-- An expired row is treated as absent by every reader and replaced by the next request with its
-- key; a periodic purge deletes expired rows in bounded batches (src/flows/idempotency.ts), so
-- the table stays bounded under steady load. Rows written before this migration keep the
-- 24 hours they were promised, counted from when they were written.
ALTER TABLE idempotency_keys ADD COLUMN expires_at timestamptz;
UPDATE idempotency_keys SET expires_at = created_at + interval '24 hours';
ALTER TABLE idempotency_keys ALTER COLUMN expires_at SET NOT NULL;
-- Writers pass their configured TTL; the default only covers a writer that names no expiry.
ALTER TABLE idempotency_keys ALTER COLUMN expires_at SET DEFAULT now() + interval '24 hours';
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

-- The one-call writes now live one per file in src/db/functions/ (re-applied with CREATE OR
-- REPLACE on every migrate) and take the record's TTL: the signatures from migrations 005 and
-- 006 go, so no caller can reach a copy that ignores expiry.
DROP FUNCTION create_refund_if_unchanged(text, text, text, bigint, text, text, jsonb, timestamptz, text, bigint, text, integer, text, jsonb, text, text, text, text, text, text, text, integer, jsonb, jsonb);
DROP FUNCTION create_charge(text, text, bigint, text, text, text, jsonb, timestamptz, text, integer, text, jsonb, text, text, text, text, text, text, text, integer, jsonb);
