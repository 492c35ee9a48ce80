-- The idempotency prologue, once for every writer (create_charge, create_refund_if_unchanged and
-- the TypeScript flows through src/db/idempotency.ts): a transaction-scoped lock on the key, taken
-- without waiting, then the live record under it. Outcomes:
--   key_in_use  another request with this key is in flight (the caller answers 409)
--   replay      a live record exists (the caller replays it, or refuses a different request)
--   claimed     the key is this transaction's until it ends; no live record exists
-- An expired record counts as absent: store_idempotency_record replaces it.
CREATE OR REPLACE FUNCTION claim_idempotency_key(p_scope text, p_key text)
RETURNS TABLE (outcome text, stored_method text, stored_path text, stored_hash text, stored_code integer, stored_body jsonb)
LANGUAGE plpgsql AS $$
DECLARE
  stored idempotency_keys%ROWTYPE;
BEGIN
  IF NOT pg_try_advisory_xact_lock(hashtext(p_scope), hashtext(p_key)) THEN
    RETURN QUERY SELECT 'key_in_use', NULL::text, NULL::text, NULL::text, NULL::integer, NULL::jsonb;
    RETURN;
  END IF;
  SELECT * INTO stored FROM idempotency_keys k WHERE k.scope = p_scope AND k.key = p_key AND k.expires_at > now();
  IF FOUND THEN
    RETURN QUERY SELECT 'replay', stored.request_method, stored.request_path, stored.request_hash, stored.response_code, stored.response_body;
    RETURN;
  END IF;
  RETURN QUERY SELECT 'claimed', NULL::text, NULL::text, NULL::text, NULL::integer, NULL::jsonb;
END;
$$;
