-- The refund write in one round trip. FinCore decides a refund in TypeScript (src/domain/refund.ts)
-- on facts it read a moment before: the charge's status, the amount its refunds reserve, whether
-- a dispute of it is open and how much lost disputes took (src/domain/dispute.ts). This
-- function writes that decision only if those facts still hold, checked under the charge's row
-- lock, so the decision and the write are as safe as in one locked transaction. It holds no
-- refund rule of its own: it claims the idempotency key (claim_idempotency_key), compares, then
-- writes the refund, its job, its event (with the request's idempotency key), its reservation in
-- the ledger (postings built by the caller) and the idempotency record (store_idempotency_record,
-- kept p_idem_ttl_hours). If the facts moved (a concurrent refund of the same charge committed
-- first) it writes nothing and returns the fresh facts for the caller to decide again. PL/pgSQL
-- runs each statement with a fresh snapshot, so the sum below sees every refund committed before
-- the lock was granted.
CREATE OR REPLACE FUNCTION create_refund_if_unchanged(
  p_refund_id text, p_charge_id text, p_merchant_id text, p_amount bigint, p_currency text,
  p_reason text, p_metadata jsonb, p_created_at timestamptz,
  p_expected_status text, p_expected_reserved bigint,
  p_job_id text, p_job_max_attempts integer,
  p_event_id text, p_event_data jsonb, p_cause_type text, p_cause_id text,
  p_idem_scope text, p_idem_key text, p_idem_method text, p_idem_path text, p_idem_hash text,
  p_response_code integer, p_response_body jsonb, p_idem_ttl_hours integer,
  p_ledger jsonb,
  -- The dispute facts (migration 014). Their defaults say "no dispute": a caller that does not
  -- pass them is refused ('changed') on a disputed charge, never let through.
  p_expected_disputed boolean DEFAULT false, p_expected_lost bigint DEFAULT 0,
  -- The merchant's reference (migration 019): unique per charge for ever; NULL: none.
  p_reference text DEFAULT NULL
) RETURNS TABLE (
  outcome text,            -- created | changed | no_such_charge | key_in_use | replay | reference_already_used
  charge_status text, charge_amount bigint, charge_currency text, reserved bigint,
  stored_method text, stored_path text, stored_hash text, stored_code integer, stored_body jsonb,
  disputed boolean, lost bigint,
  existing_id text         -- reference_already_used: the refund that has the reference
) LANGUAGE plpgsql AS $$
DECLARE
  existing text;
  charge payments%ROWTYPE;
  claim record;
  now_reserved bigint;
  now_disputed boolean;
  now_lost bigint;
BEGIN
  IF p_idem_key IS NOT NULL THEN
    SELECT * INTO claim FROM claim_idempotency_key(p_idem_scope, p_idem_key);
    IF claim.outcome <> 'claimed' THEN
      RETURN QUERY SELECT claim.outcome, NULL::text, NULL::bigint, NULL::text, NULL::bigint, claim.stored_method, claim.stored_path, claim.stored_hash, claim.stored_code, claim.stored_body, NULL::boolean, NULL::bigint, NULL::text;
      RETURN;
    END IF;
  END IF;

  SELECT * INTO charge FROM payments WHERE id = p_charge_id AND merchant_id = p_merchant_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'no_such_charge', NULL::text, NULL::bigint, NULL::text, NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::integer, NULL::jsonb, NULL::boolean, NULL::bigint, NULL::text;
    RETURN;
  END IF;
  -- A used reference is the answer whatever the facts say: the refund it names was made. Refunds
  -- of the charge are written under its row lock, so this sees every one committed before it.
  IF p_reference IS NOT NULL THEN
    SELECT r.id INTO existing FROM refunds r WHERE r.payment_id = p_charge_id AND r.reference = p_reference;
    IF FOUND THEN
      RETURN QUERY SELECT 'reference_already_used', charge.status, charge.amount, charge.currency, NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::integer, NULL::jsonb, NULL::boolean, NULL::bigint, existing;
      RETURN;
    END IF;
  END IF;
  SELECT coalesce(sum(amount), 0) INTO now_reserved FROM refunds WHERE payment_id = p_charge_id AND refund_holds_amount(status);
  -- Disputes are written under the same row lock (flows/disputes.ts), so these hold until commit.
  SELECT coalesce(bool_or(status = 'open'), false), coalesce(sum(amount) FILTER (WHERE status = 'lost'), 0)
    INTO now_disputed, now_lost FROM disputes WHERE charge_id = p_charge_id;
  IF charge.status IS DISTINCT FROM p_expected_status OR now_reserved <> p_expected_reserved OR charge.currency <> p_currency
     OR now_disputed IS DISTINCT FROM coalesce(p_expected_disputed, false) OR now_lost <> coalesce(p_expected_lost, 0) THEN
    RETURN QUERY SELECT 'changed', charge.status, charge.amount, charge.currency, now_reserved, NULL::text, NULL::text, NULL::text, NULL::integer, NULL::jsonb, now_disputed, now_lost, NULL::text;
    RETURN;
  END IF;

  -- The unique index (payment_id, reference) is the guard even for a writer that skipped the
  -- lock: a conflict writes nothing (the refund row comes first) and names the refund that won.
  INSERT INTO refunds (id, payment_id, merchant_id, amount, currency, status, reason, metadata, created_at, updated_at, reference)
  VALUES (p_refund_id, p_charge_id, p_merchant_id, p_amount, p_currency, 'pending', p_reason, p_metadata, p_created_at, p_created_at, p_reference)
  ON CONFLICT (payment_id, reference) WHERE reference IS NOT NULL DO NOTHING;
  IF NOT FOUND THEN
    SELECT r.id INTO existing FROM refunds r WHERE r.payment_id = p_charge_id AND r.reference = p_reference;
    RETURN QUERY SELECT 'reference_already_used', charge.status, charge.amount, charge.currency, NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::integer, NULL::jsonb, NULL::boolean, NULL::bigint, existing;
    RETURN;
  END IF;
  INSERT INTO jobs (id, job_type, ref, max_attempts) VALUES (p_job_id, 'REFUND', p_refund_id, p_job_max_attempts);
  INSERT INTO events (id, merchant_id, type, object_type, object_id, data, cause_type, cause_id, cause_idempotency_key)
  VALUES (p_event_id, p_merchant_id, 'refund.created', 'refund', p_refund_id, p_event_data, p_cause_type, p_cause_id, p_idem_key);
  INSERT INTO ledger_entries (event_id, merchant_id, movement, account, currency, amount, charge_id, refund_id)
  SELECT p_event_id, p_merchant_id, 'refund_reserved', posting.account, p_currency, posting.amount, p_charge_id, p_refund_id
    FROM jsonb_to_recordset(p_ledger) AS posting (account text, amount bigint);
  IF p_idem_key IS NOT NULL AND NOT store_idempotency_record(p_idem_scope, p_idem_key, p_idem_method, p_idem_path, p_idem_hash, p_response_code, p_response_body, p_idem_ttl_hours) THEN
    RAISE EXCEPTION 'idempotency record for % appeared under its held lock', p_idem_key;
  END IF;
  RETURN QUERY SELECT 'created', charge.status, charge.amount, charge.currency, now_reserved + p_amount, NULL::text, NULL::text, NULL::text, NULL::integer, NULL::jsonb, now_disputed, now_lost, NULL::text;
END;
$$;
