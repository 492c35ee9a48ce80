-- The charge write in one round trip, like create_refund_if_unchanged: a charge needs no facts
-- re-checked, so the call claims the idempotency key (claim_idempotency_key), then writes the
-- charge, its CHARGE job, its charge.created event (with the request's idempotency key) and the
-- idempotency record the caller built (store_idempotency_record, kept p_idem_ttl_hours).
CREATE OR REPLACE FUNCTION create_charge(
  p_charge_id text, p_merchant_id text, p_amount bigint, p_currency text, p_payment_method text,
  p_description text, p_metadata jsonb, p_created_at timestamptz,
  p_job_id text, p_job_max_attempts integer,
  p_event_id text, p_event_data jsonb, p_cause_type text, p_cause_id text,
  p_idem_scope text, p_idem_key text, p_idem_method text, p_idem_path text, p_idem_hash text,
  p_response_code integer, p_response_body jsonb, p_idem_ttl_hours integer,
  p_psp text,
  -- The merchant's reference (migration 019): unique per merchant for ever; NULL: none.
  p_reference text DEFAULT NULL
) RETURNS TABLE (
  outcome text,            -- created | key_in_use | replay | reference_already_used
  stored_method text, stored_path text, stored_hash text, stored_code integer, stored_body jsonb,
  existing_id text         -- reference_already_used: the charge that has the reference
) LANGUAGE plpgsql AS $$
DECLARE
  claim record;
  existing text;
BEGIN
  IF p_idem_key IS NOT NULL THEN
    SELECT * INTO claim FROM claim_idempotency_key(p_idem_scope, p_idem_key);
    IF claim.outcome <> 'claimed' THEN
      RETURN QUERY SELECT claim.outcome, claim.stored_method, claim.stored_path, claim.stored_hash, claim.stored_code, claim.stored_body, NULL::text;
      RETURN;
    END IF;
  END IF;

  -- The unique index (merchant_id, reference) is the guard: a concurrent create with the same
  -- reference waits for the first to commit, then inserts nothing here and names the winner.
  -- The charge row comes first, so a conflict leaves nothing written.
  INSERT INTO payments (id, merchant_id, amount, currency, status, payment_method, description, metadata, psp, created_at, updated_at, reference)
  VALUES (p_charge_id, p_merchant_id, p_amount, p_currency, 'pending', p_payment_method, p_description, p_metadata, p_psp, p_created_at, p_created_at, p_reference)
  ON CONFLICT (merchant_id, reference) WHERE reference IS NOT NULL DO NOTHING;
  IF NOT FOUND THEN
    SELECT p.id INTO existing FROM payments p WHERE p.merchant_id = p_merchant_id AND p.reference = p_reference;
    RETURN QUERY SELECT 'reference_already_used', NULL::text, NULL::text, NULL::text, NULL::integer, NULL::jsonb, existing;
    RETURN;
  END IF;
  INSERT INTO jobs (id, job_type, ref, max_attempts) VALUES (p_job_id, 'CHARGE', p_charge_id, p_job_max_attempts);
  INSERT INTO events (id, merchant_id, type, object_type, object_id, data, cause_type, cause_id, cause_idempotency_key)
  VALUES (p_event_id, p_merchant_id, 'charge.created', 'charge', p_charge_id, p_event_data, p_cause_type, p_cause_id, p_idem_key);
  IF p_idem_key IS NOT NULL AND NOT store_idempotency_record(p_idem_scope, p_idem_key, p_idem_method, p_idem_path, p_idem_hash, p_response_code, p_response_body, p_idem_ttl_hours) THEN
    RAISE EXCEPTION 'idempotency record for % appeared under its held lock', p_idem_key;
  END IF;
  RETURN QUERY SELECT 'created', NULL::text, NULL::text, NULL::text, NULL::integer, NULL::jsonb, NULL::text;
END;
$$;
