-- The audit trail made readable and verifiable (issue 7): a per-object sequence on events, the
-- idempotency key of the request that caused an event, a double-entry ledger, and a hash chain
-- per merchant over the events.

-- 1. Events: sequence per object and the causing request's idempotency key --------------------

ALTER TABLE events ADD COLUMN sequence integer;
ALTER TABLE events ADD COLUMN cause_idempotency_key text;

ALTER TABLE events DISABLE TRIGGER events_append_only;
UPDATE events e SET sequence = numbered.sequence
  FROM (SELECT id, row_number() OVER (PARTITION BY object_id ORDER BY id) AS sequence FROM events) AS numbered
 WHERE numbered.id = e.id;
ALTER TABLE events ENABLE TRIGGER events_append_only;
ALTER TABLE events ALTER COLUMN sequence SET NOT NULL;

-- Unique: two changes of one object can never claim the same number. Every writer of an event
-- holds the object's row lock (or, for a new object, is its only writer), so max + 1 is safe;
-- the index is the proof, not the mechanism.
CREATE UNIQUE INDEX events_object_sequence ON events (object_id, sequence);
DROP INDEX events_of_object;
CREATE INDEX events_merchant_type_newest ON events (merchant_id, type, id DESC);

-- The audit relay's inbox: every event committed and not yet appended to its chain (below).
-- Filled by the trigger, so no writer of events (PL/pgSQL functions included) can forget it.
CREATE TABLE events_to_seal (
  position bigserial PRIMARY KEY,
  event_id text NOT NULL UNIQUE
);

CREATE FUNCTION events_before_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.sequence IS NULL THEN
    SELECT coalesce(max(sequence), 0) + 1 INTO NEW.sequence FROM events WHERE object_id = NEW.object_id;
  END IF;
  INSERT INTO events_to_seal (event_id) VALUES (NEW.id);
  RETURN NEW;
END $$;
CREATE TRIGGER events_sequence_and_seal BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION events_before_insert();

-- 2. The double-entry ledger ------------------------------------------------------------------
-- One row per posting; the postings of one money movement share its event (the journal entry)
-- and sum to zero. amount > 0 debits the account, < 0 credits it. Accounts (per merchant and
-- currency): psp_clearing (money the PSP holds for us), merchant_balance (what we owe the
-- merchant; a credit balance), refunds_reserved (refunds accepted but not yet paid out).
-- Which movement posts what is decided in src/domain/ledger.ts, not here.
CREATE TABLE ledger_entries (
  id          bigserial PRIMARY KEY,
  event_id    text NOT NULL REFERENCES events (id),
  merchant_id text NOT NULL REFERENCES merchants (id),
  movement    text NOT NULL CHECK (movement IN ('charge_succeeded', 'refund_reserved', 'refund_succeeded', 'refund_released')),
  account     text NOT NULL CHECK (account IN ('psp_clearing', 'merchant_balance', 'refunds_reserved')),
  currency    text NOT NULL,
  amount      bigint NOT NULL CHECK (amount <> 0),
  charge_id   text NOT NULL REFERENCES payments (id),
  refund_id   text REFERENCES refunds (id),
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_entries_of_charge ON ledger_entries (charge_id);
CREATE INDEX ledger_entries_of_event ON ledger_entries (event_id);

-- A journal entry is written by one INSERT; it must balance per currency when that statement ends.
CREATE FUNCTION ledger_entries_balance() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  unbalanced record;
BEGIN
  SELECT event_id, currency, sum(amount) AS total INTO unbalanced
    FROM inserted GROUP BY event_id, currency HAVING sum(amount) <> 0 LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'ledger entry of event % does not balance in %: % left over', unbalanced.event_id, unbalanced.currency, unbalanced.total;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER ledger_entries_balanced AFTER INSERT ON ledger_entries
  REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_balance();

CREATE FUNCTION append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END $$;
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries FOR EACH ROW EXECUTE FUNCTION append_only();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries FOR EACH STATEMENT EXECUTE FUNCTION append_only();

-- 3. The hash chain ---------------------------------------------------------------------------
-- One chain per merchant ('operator' for events of no merchant). Link n stores the event's
-- content hash and hash = sha256(previous hash, position, event id, content hash), computed by
-- the audit relay (src/audit/) in the order it seals events, shortly after they commit. Sealing
-- after commit keeps the chain off the money path: appending inside each money transaction would
-- serialize all of a merchant's charges and refunds on one row lock held through COMMIT.
CREATE TABLE audit_chain (
  chain        text NOT NULL,
  position     bigint NOT NULL CHECK (position >= 1),
  event_id     text NOT NULL UNIQUE REFERENCES events (id),
  content_hash text NOT NULL,
  prev_hash    text NOT NULL,
  hash         text NOT NULL,
  sealed_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chain, position)
);
CREATE TRIGGER audit_chain_append_only BEFORE UPDATE OR DELETE ON audit_chain FOR EACH ROW EXECUTE FUNCTION append_only();
CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain FOR EACH STATEMENT EXECUTE FUNCTION append_only();

-- 4. The one-call writes record the request's idempotency key on their event, and the refund
-- its reservation in the ledger (postings built by the caller) --------------------------------
DROP FUNCTION create_refund_if_unchanged(text, text, text, bigint, text, text, jsonb, timestamptz, text, bigint, text, integer, text, jsonb, text, text, text, text, text, text, text, integer, jsonb);
CREATE FUNCTION create_refund_if_unchanged(
  p_refund_id text, p_charge_id text, p_merchant_id text, p_amount bigint, p_currency text,
  p_reason text, p_metadata jsonb, p_created_at timestamptz,
  p_expected_status text, p_expected_reserved bigint,
  p_job_id text, p_job_max_attempts integer,
  p_event_id text, p_event_data jsonb, p_cause_type text, p_cause_id text,
  p_idem_scope text, p_idem_key text, p_idem_method text, p_idem_path text, p_idem_hash text,
  p_response_code integer, p_response_body jsonb,
  p_ledger jsonb
) RETURNS TABLE (
  outcome text,            -- created | changed | no_such_charge | key_in_use | replay
  charge_status text, charge_amount bigint, charge_currency text, reserved bigint,
  stored_method text, stored_path text, stored_hash text, stored_code integer, stored_body jsonb
) LANGUAGE plpgsql AS $$
DECLARE
  charge payments%ROWTYPE;
  stored idempotency_keys%ROWTYPE;
  now_reserved bigint;
BEGIN
  IF p_idem_key IS NOT NULL THEN
    IF NOT pg_try_advisory_xact_lock(hashtext(p_idem_scope), hashtext(p_idem_key)) THEN
      RETURN QUERY SELECT 'key_in_use', NULL::text, NULL::bigint, NULL::text, NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::integer, NULL::jsonb;
      RETURN;
    END IF;
    SELECT * INTO stored FROM idempotency_keys WHERE scope = p_idem_scope AND key = p_idem_key;
    IF FOUND THEN
      RETURN QUERY SELECT 'replay', NULL::text, NULL::bigint, NULL::text, NULL::bigint, stored.request_method, stored.request_path, stored.request_hash, stored.response_code, stored.response_body;
      RETURN;
    END IF;
  END IF;

  SELECT * INTO charge FROM payments WHERE id = p_charge_id AND merchant_id = p_merchant_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'no_such_charge', NULL::text, NULL::bigint, NULL::text, NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::integer, NULL::jsonb;
    RETURN;
  END IF;
  SELECT coalesce(sum(amount), 0) INTO now_reserved FROM refunds WHERE payment_id = p_charge_id AND status <> 'failed';
  IF charge.status IS DISTINCT FROM p_expected_status OR now_reserved <> p_expected_reserved OR charge.currency <> p_currency THEN
    RETURN QUERY SELECT 'changed', charge.status, charge.amount, charge.currency, now_reserved, NULL::text, NULL::text, NULL::text, NULL::integer, NULL::jsonb;
    RETURN;
  END IF;

  INSERT INTO refunds (id, payment_id, merchant_id, amount, currency, status, reason, metadata, created_at, updated_at)
  VALUES (p_refund_id, p_charge_id, p_merchant_id, p_amount, p_currency, 'pending', p_reason, p_metadata, p_created_at, p_created_at);
  INSERT INTO jobs (id, job_type, ref, max_attempts) VALUES (p_job_id, 'REFUND', p_refund_id, p_job_max_attempts);
  INSERT INTO events (id, merchant_id, type, object_type, object_id, data, cause_type, cause_id, cause_idempotency_key)
  VALUES (p_event_id, p_merchant_id, 'refund.created', 'refund', p_refund_id, p_event_data, p_cause_type, p_cause_id, p_idem_key);
  INSERT INTO ledger_entries (event_id, merchant_id, movement, account, currency, amount, charge_id, refund_id)
  SELECT p_event_id, p_merchant_id, 'refund_reserved', posting.account, p_currency, posting.amount, p_charge_id, p_refund_id
    FROM jsonb_to_recordset(p_ledger) AS posting (account text, amount bigint);
  IF p_idem_key IS NOT NULL THEN
    INSERT INTO idempotency_keys (scope, key, request_method, request_path, request_hash, response_code, response_body)
    VALUES (p_idem_scope, p_idem_key, p_idem_method, p_idem_path, p_idem_hash, p_response_code, p_response_body);
  END IF;
  RETURN QUERY SELECT 'created', charge.status, charge.amount, charge.currency, now_reserved + p_amount, NULL::text, NULL::text, NULL::text, NULL::integer, NULL::jsonb;
END;
$$;

CREATE OR REPLACE FUNCTION create_charge(
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
  INSERT INTO events (id, merchant_id, type, object_type, object_id, data, cause_type, cause_id, cause_idempotency_key)
  VALUES (p_event_id, p_merchant_id, 'charge.created', 'charge', p_charge_id, p_event_data, p_cause_type, p_cause_id, p_idem_key);
  IF p_idem_key IS NOT NULL THEN
    INSERT INTO idempotency_keys (scope, key, request_method, request_path, request_hash, response_code, response_body)
    VALUES (p_idem_scope, p_idem_key, p_idem_method, p_idem_path, p_idem_hash, p_response_code, p_response_body);
  END IF;
  RETURN QUERY SELECT 'created', NULL::text, NULL::text, NULL::text, NULL::integer, NULL::jsonb;
END;
$$;

-- 5. What was there before this migration -----------------------------------------------------
-- Existing events are sealed like new ones; existing money movements get their ledger postings,
-- each tied to the event that recorded it (same postings as src/domain/ledger.ts).
INSERT INTO events_to_seal (event_id) SELECT id FROM events ORDER BY id;

INSERT INTO ledger_entries (event_id, merchant_id, movement, account, currency, amount, charge_id, refund_id, created_at)
SELECT e.id, p.merchant_id, 'charge_succeeded', leg.account, p.currency, leg.sign * p.amount, p.id, NULL, e.created_at
  FROM events e JOIN payments p ON p.id = e.object_id
 CROSS JOIN (VALUES ('psp_clearing', 1), ('merchant_balance', -1)) AS leg (account, sign)
 WHERE e.type = 'charge.succeeded';

INSERT INTO ledger_entries (event_id, merchant_id, movement, account, currency, amount, charge_id, refund_id, created_at)
SELECT e.id, r.merchant_id, m.movement, leg.account, r.currency, leg.sign * r.amount, r.payment_id, r.id, e.created_at
  FROM events e JOIN refunds r ON r.id = e.object_id
  JOIN (VALUES ('refund.created', 'refund_reserved'), ('refund.succeeded', 'refund_succeeded'), ('refund.failed', 'refund_released')) AS m (type, movement)
    ON m.type = e.type
  JOIN (VALUES ('refund_reserved', 'merchant_balance', 1), ('refund_reserved', 'refunds_reserved', -1),
               ('refund_succeeded', 'refunds_reserved', 1), ('refund_succeeded', 'psp_clearing', -1),
               ('refund_released', 'refunds_reserved', 1), ('refund_released', 'merchant_balance', -1)) AS leg (movement, account, sign)
    ON leg.movement = m.movement;
