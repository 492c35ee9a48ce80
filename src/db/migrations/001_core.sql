-- FinCore core schema: merchants, charges (table `payments`), refunds, the job outbox/queue,
-- idempotency keys, the PSP webhook inbox and the append-only audit trail.

CREATE TABLE merchants (
  id           text PRIMARY KEY,
  name         text NOT NULL,
  api_key_hash text NOT NULL UNIQUE,           -- sha256 of the key; the key itself is never stored
  created_at   timestamptz NOT NULL DEFAULT now()
);

-- The design names the charges table `payments`; the API calls its rows charges.
CREATE TABLE payments (
  id              text PRIMARY KEY,
  merchant_id     text NOT NULL REFERENCES merchants (id),
  amount          bigint NOT NULL CHECK (amount BETWEEN 1 AND 99999999),
  currency        text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
  status          text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
  payment_method  text NOT NULL,
  description     text,
  metadata        jsonb NOT NULL DEFAULT '{}',
  failure_code    text,
  failure_message text,
  psp_reference   text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_merchant_newest ON payments (merchant_id, id DESC);
CREATE INDEX payments_pending ON payments (created_at) WHERE status = 'pending';

-- Refunds are their own immutable rows: only status, failure_reason, psp_reference and
-- updated_at ever change. A refund never modifies its charge row.
CREATE TABLE refunds (
  id             text PRIMARY KEY,
  payment_id     text NOT NULL REFERENCES payments (id),
  merchant_id    text NOT NULL REFERENCES merchants (id),
  amount         bigint NOT NULL CHECK (amount > 0),
  currency       text NOT NULL,
  status         text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
  reason         text CHECK (reason IN ('duplicate', 'fraudulent', 'requested_by_customer')),
  metadata       jsonb NOT NULL DEFAULT '{}',
  failure_reason text,
  psp_reference  text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refunds_of_payment ON refunds (payment_id, id);
CREATE INDEX refunds_merchant_newest ON refunds (merchant_id, id DESC);
CREATE INDEX refunds_pending ON refunds (created_at) WHERE status = 'pending';

CREATE FUNCTION refunds_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.payment_id <> OLD.payment_id OR NEW.amount <> OLD.amount OR NEW.currency <> OLD.currency
     OR NEW.merchant_id <> OLD.merchant_id OR NEW.created_at <> OLD.created_at THEN
    RAISE EXCEPTION 'refund % : charge, amount and currency never change', OLD.id;
  END IF;
  IF OLD.status <> 'pending' AND NEW.status <> OLD.status THEN
    RAISE EXCEPTION 'refund % is % : terminal states never change', OLD.id, OLD.status;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER refunds_immutable BEFORE UPDATE ON refunds FOR EACH ROW EXECUTE FUNCTION refunds_are_immutable();
CREATE FUNCTION refunds_are_never_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'refunds are never deleted (refund %)', OLD.id;
END $$;
CREATE TRIGGER refunds_never_deleted BEFORE DELETE ON refunds FOR EACH ROW EXECUTE FUNCTION refunds_are_never_deleted();

CREATE FUNCTION payments_only_move_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'charges are never deleted';
  END IF;
  IF NEW.amount <> OLD.amount OR NEW.currency <> OLD.currency OR NEW.merchant_id <> OLD.merchant_id THEN
    RAISE EXCEPTION 'charge % : amount, currency and merchant never change', OLD.id;
  END IF;
  IF OLD.status <> 'pending' AND NEW.status <> OLD.status THEN
    RAISE EXCEPTION 'charge % is % : terminal states never change', OLD.id, OLD.status;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER payments_forward BEFORE UPDATE OR DELETE ON payments FOR EACH ROW EXECUTE FUNCTION payments_only_move_forward();

-- The transactional outbox and the queue of record. A job is written in the same transaction
-- as its charge or refund. `running` jobs whose lease expired are claimed again.
CREATE TABLE jobs (
  id           text PRIMARY KEY,
  job_type     text NOT NULL CHECK (job_type IN ('CHARGE', 'REFUND')),
  ref          text NOT NULL,
  status       text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'dead')),
  attempts     integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL,
  run_at       timestamptz NOT NULL DEFAULT now(),
  locked_by    text,
  locked_until timestamptz,
  last_error   text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_due ON jobs (run_at) WHERE status = 'queued';
CREATE INDEX jobs_leased ON jobs (locked_until) WHERE status = 'running';
CREATE INDEX jobs_dead ON jobs (updated_at) WHERE status = 'dead';
CREATE INDEX jobs_by_ref ON jobs (ref);

-- Idempotency keys, scoped per merchant ('admin' for admin endpoints). Kept at least 24 hours.
CREATE TABLE idempotency_keys (
  scope          text NOT NULL,
  key            text NOT NULL,
  request_method text NOT NULL,
  request_path   text NOT NULL,
  request_hash   text NOT NULL,
  response_code  integer NOT NULL,
  response_body  jsonb NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, key)
);

-- Inbound PSP webhooks, stored once per PSP event id before anything they say is acted on.
CREATE TABLE psp_events (
  id          text PRIMARY KEY,
  type        text NOT NULL,
  object_id   text,
  payload     jsonb NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);

-- The audit trail: one row per state change, with its cause. Append-only.
CREATE TABLE events (
  id          text PRIMARY KEY,
  merchant_id text REFERENCES merchants (id),
  type        text NOT NULL,
  object_type text NOT NULL,
  object_id   text NOT NULL,
  data        jsonb NOT NULL,
  cause_type  text NOT NULL CHECK (cause_type IN ('api_request', 'job', 'psp_event', 'operator')),
  cause_id    text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_of_object ON events (object_id, id);
CREATE INDEX events_merchant_newest ON events (merchant_id, id DESC);

CREATE FUNCTION events_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'events are append-only: % refused', TG_OP;
END $$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events FOR EACH ROW EXECUTE FUNCTION events_are_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events FOR EACH STATEMENT EXECUTE FUNCTION events_are_append_only();
