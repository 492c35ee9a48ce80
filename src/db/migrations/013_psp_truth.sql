-- The PSP's truth wins, visibly (issue 16): statuses and moves after settlement, review items,
-- events parked until their object is known, refunds made at the PSP, disputes, and which PSP
-- took each charge. Lists here are compared with src/domain/ by test/lists-agree.test.ts.

-- requires_review: a PSP report FinCore cannot apply safely (src/domain/psp-report.ts).
ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments ADD CONSTRAINT payments_status_check CHECK (status IN ('pending', 'succeeded', 'failed', 'requires_review'));
ALTER TABLE refunds DROP CONSTRAINT refunds_status_check;
ALTER TABLE refunds ADD CONSTRAINT refunds_status_check CHECK (status IN ('pending', 'succeeded', 'failed', 'requires_review'));
ALTER TABLE payments ADD COLUMN review_reason text;
ALTER TABLE refunds ADD COLUMN review_reason text;

-- Which PSP took the charge: its refunds, queries and reconciliation go there, whatever the
-- configured default is later. Charges from before this column are the default PSP's.
ALTER TABLE payments ADD COLUMN psp text;
-- create_charge (src/db/functions/) takes the PSP as a new last parameter: the old signature goes.
DROP FUNCTION IF EXISTS create_charge(text, text, bigint, text, text, text, jsonb, timestamptz, text, integer, text, jsonb, text, text, text, text, text, text, text, integer, jsonb, integer);

-- Refunds made at the PSP (an operator in its dashboard) are imported: origin 'psp', deduplicated
-- on the PSP's refund id.
ALTER TABLE refunds ADD COLUMN origin text NOT NULL DEFAULT 'api' CHECK (origin IN ('api', 'psp'));
CREATE UNIQUE INDEX refunds_psp_reference ON refunds (psp_reference) WHERE psp_reference IS NOT NULL;
CREATE INDEX payments_psp_reference ON payments (psp_reference) WHERE psp_reference IS NOT NULL;

-- The journal entries of moves after settlement (src/domain/ledger.ts MOVEMENTS).
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_movement_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_movement_check CHECK (movement IN (
  'charge_succeeded', 'charge_reversed', 'refund_reserved', 'refund_succeeded', 'refund_released',
  'refund_reversed', 'refund_held_for_review', 'dispute_lost'));

-- Status changes follow the transition tables (status_move_allowed(), src/db/functions/), not
-- "terminal never changes": a refund fails after it succeeded when the PSP says so, and review
-- moves settled objects.
CREATE OR REPLACE FUNCTION refunds_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.payment_id <> OLD.payment_id OR NEW.amount <> OLD.amount OR NEW.currency <> OLD.currency
     OR NEW.merchant_id <> OLD.merchant_id OR NEW.created_at <> OLD.created_at OR NEW.origin <> OLD.origin THEN
    RAISE EXCEPTION 'refund % : charge, amount, currency and origin never change', OLD.id;
  END IF;
  IF NEW.status <> OLD.status AND NOT status_move_allowed('refund', OLD.status, NEW.status) THEN
    RAISE EXCEPTION 'refund % : % -> % is not an allowed move', OLD.id, OLD.status, NEW.status;
  END IF;
  RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION payments_only_move_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'charges are never deleted';
  END IF;
  IF NEW.amount <> OLD.amount OR NEW.currency <> OLD.currency OR NEW.merchant_id <> OLD.merchant_id THEN
    RAISE EXCEPTION 'charge % : amount, currency and merchant never change', OLD.id;
  END IF;
  IF NEW.status <> OLD.status AND NOT status_move_allowed('charge', OLD.status, NEW.status) THEN
    RAISE EXCEPTION 'charge % : % -> % is not an allowed move', OLD.id, OLD.status, NEW.status;
  END IF;
  RETURN NEW;
END $$;

-- Review items: what an operator must decide. One open item per object at a time.
CREATE TABLE reviews (
  id            text PRIMARY KEY,
  -- Null only for an event FinCore could not tie to any merchant's object.
  merchant_id   text REFERENCES merchants (id),
  object_type   text CHECK (object_type IN ('charge', 'refund')),
  object_id     text,
  psp_event_id  text REFERENCES psp_events (id),
  reason        text NOT NULL CHECK (reason IN ('amount_mismatch', 'currency_mismatch', 'succeeded_after_failed', 'failed_after_succeeded', 'object_mismatch', 'unmatched_event', 'over_refund')),
  status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
  -- The object's status when the review opened, and what the PSP said.
  status_before text,
  psp_status    text,
  psp_amount    bigint,
  psp_currency  text,
  details       jsonb NOT NULL DEFAULT '{}',
  decision      text CHECK (decision IN ('accept_psp', 'keep_fincore')),
  note          text,
  resolved_at   timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'open') = (decision IS NULL AND resolved_at IS NULL))
);
CREATE UNIQUE INDEX reviews_one_open_per_object ON reviews (object_id) WHERE status = 'open' AND object_id IS NOT NULL;
CREATE INDEX reviews_open ON reviews (created_at) WHERE status = 'open';
CREATE INDEX reviews_of_merchant ON reviews (merchant_id, id DESC);

-- What each verified PSP event did. 'parked': about an object FinCore does not know yet; matched
-- when the object appears (the worker records its PSP reference) or by the sweep, and a review
-- item after FINCORE_PARKED_EVENT_WINDOW_MS.
ALTER TABLE psp_events ADD COLUMN result text;
ALTER TABLE psp_events ADD COLUMN psp text;
ALTER TABLE psp_events ADD COLUMN object_type text;
ALTER TABLE psp_events ADD COLUMN psp_object_id text;
ALTER TABLE psp_events ADD COLUMN matched_at timestamptz;
CREATE INDEX psp_events_parked ON psp_events (received_at) WHERE result = 'parked';
CREATE INDEX psp_events_parked_object ON psp_events (psp_object_id) WHERE result = 'parked';

-- Disputes (chargebacks), one row per PSP dispute, on the charge they pull money back from.
CREATE TABLE disputes (
  id            text PRIMARY KEY,
  charge_id     text NOT NULL REFERENCES payments (id),
  merchant_id   text NOT NULL REFERENCES merchants (id),
  psp_reference text NOT NULL UNIQUE,
  amount        bigint NOT NULL CHECK (amount > 0),
  currency      text NOT NULL,
  status        text NOT NULL CHECK (status IN ('open', 'won', 'lost')),
  psp_status    text NOT NULL,
  reason        text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX disputes_of_charge ON disputes (charge_id, id);

-- The verified event as FinCore mapped it (src/psp/gateway.ts PspWebhookEvent without the raw
-- payload): what a parked event is applied from once its object is known.
ALTER TABLE psp_events ADD COLUMN report jsonb;
