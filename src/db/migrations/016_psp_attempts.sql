-- One row per PSP call for a charge or refund (issue 17): written when the call starts (so an
-- in-flight call is visible) and completed when it ends. Lists: src/domain/attempts.ts.
CREATE TABLE psp_attempts (
  object_type     text NOT NULL CHECK (object_type IN ('charge', 'refund')),
  object_id       text NOT NULL,
  merchant_id     text NOT NULL,
  attempt_number  integer NOT NULL CHECK (attempt_number >= 1),
  psp             text NOT NULL,
  idempotency_key text NOT NULL,
  started_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  finished_at     timestamptz,
  latency_ms      integer CHECK (latency_ms >= 0),
  outcome         text CHECK (outcome IN ('success', 'pending', 'decline', 'timeout', 'server_error', 'network')),
  psp_code        text,
  fincore_code    text,
  message         text,
  PRIMARY KEY (object_id, attempt_number),
  CHECK ((finished_at IS NULL) = (outcome IS NULL))
);
CREATE INDEX psp_attempts_in_flight ON psp_attempts (started_at) WHERE finished_at IS NULL;
