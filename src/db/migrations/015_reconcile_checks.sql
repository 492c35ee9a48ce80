-- Reconciliation of terminal objects (issue 16 item 6, src/flows/reconcile.ts): when the sweep
-- last re-read each settled charge or refund from its PSP. A table of its own, not a column:
-- the rows of payments and refunds only move through their status (their triggers refuse any
-- other change of a terminal row), and a check is not a change of the object.
CREATE TABLE reconcile_checks (
  object_id   text PRIMARY KEY,
  object_type text NOT NULL CHECK (object_type IN ('charge', 'refund')),
  checked_at  timestamptz NOT NULL,
  -- What the PSP said at that check ('unknown': it had never seen the object).
  psp_status  text NOT NULL
);

-- The sweep reads the objects that turned terminal within its window, newest first.
CREATE INDEX payments_terminal_updated ON payments (updated_at) WHERE status IN ('succeeded', 'failed');
CREATE INDEX refunds_terminal_updated ON refunds (updated_at) WHERE status IN ('succeeded', 'failed');
