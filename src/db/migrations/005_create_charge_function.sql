-- The charge write in one round trip, like create_refund_if_unchanged (004): a charge needs no
-- facts re-checked, so the call claims the idempotency key, then writes the charge, its CHARGE
-- job, its charge.created event and the idempotency record the caller built.
CREATE FUNCTION create_charge(
  p_charge_id text, p_merchant_id text, p_amount bigint, p_currency text, p_payment_method text,
  p_description text, p_metadata jsonb, p_created_at timestamptz,
  p_job_id text, p_job_max_attempts integer,
  p_event_id text, p_event_data jsonb, p_cause_type text, p_cause_id text,
  p_idem_scope text, p_idem_key text, p_idem_method text, p_idem_path text, p_idem_hash text,
  p_response_code integer, p_response_body jsonb
) RETURNS TABLE (
  outcome text,            -- created | key_in_use | replay
  stored_method text, stored_path text, stored_hash text, stored_code integer, stored_body jsonb
) LANGUAGE plpgsql AS $$
DECLARE
  stored idempotency_keys%ROWTYPE;
BEGIN
  IF p_idem_key IS NOT NULL THEN
    IF NOT pg_try_advisory_xact_lock(hashtext(p_idem_scope), hashtext(p_idem_key)) THEN
      RETURN QUERY SELECT 'key_in_use', NULL::text, NULL::text, NULL::text, NULL::integer, NULL::jsonb;
      RETURN;
    END IF;
    SELECT * INTO stored FROM idempotency_keys WHERE scope = p_idem_scope AND key = p_idem_key;
    IF FOUND THEN
      RETURN QUERY SELECT 'replay', stored.request_method, stored.request_path, stored.request_hash, stored.response_code, stored.response_body;
      RETURN;
    END IF;
  END IF;

  INSERT INTO payments (id, merchant_id, amount, currency, status, payment_method, description, metadata, created_at, updated_at)
  VALUES (p_charge_id, p_merchant_id, p_amount, p_currency, 'pending', p_payment_method, p_description, p_metadata, p_created_at, p_created_at);
  INSERT INTO jobs (id, job_type, ref, max_attempts) VALUES (p_job_id, 'CHARGE', p_charge_id, p_job_max_attempts);
  INSERT INTO events (id, merchant_id, type, object_type, object_id, data, cause_type, cause_id)
  VALUES (p_event_id, p_merchant_id, 'charge.created', 'charge', p_charge_id, p_event_data, p_cause_type, p_cause_id);
  IF p_idem_key IS NOT NULL THEN
    INSERT INTO idempotency_keys (scope, key, request_method, request_path, request_hash, response_code, response_body)
    VALUES (p_idem_scope, p_idem_key, p_idem_method, p_idem_path, p_idem_hash, p_response_code, p_response_body);
  END IF;
  RETURN QUERY SELECT 'created', NULL::text, NULL::text, NULL::text, NULL::integer, NULL::jsonb;
END;
$$;
