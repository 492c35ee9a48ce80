-- API keys get their own rows so a merchant's key can be rolled (a new key, the old one valid
-- for an overlap) and revoked. A key is valid while expires_at is NULL or in the future; rolling
-- or revoking sets expires_at, never deletes the row (the audit trail names key ids).
CREATE TABLE api_keys (
  id          text PRIMARY KEY,                 -- key_...; never the key itself
  merchant_id text NOT NULL REFERENCES merchants (id),
  key_hash    text NOT NULL UNIQUE,             -- sha256 of the key; the key itself is never stored
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz                       -- NULL: valid until rolled or revoked
);
CREATE INDEX api_keys_of_merchant ON api_keys (merchant_id, created_at);

-- Every existing merchant keeps its key.
INSERT INTO api_keys (id, merchant_id, key_hash, created_at)
SELECT 'key_' || substr(md5(id), 1, 24), id, api_key_hash, created_at FROM merchants WHERE api_key_hash IS NOT NULL;

-- Kept (nullable, no longer written or read) so an API process of the previous release still
-- authenticates during a rolling deploy; a later migration drops it.
ALTER TABLE merchants ALTER COLUMN api_key_hash DROP NOT NULL;
