-- A refund canceled by its merchant before any PSP call (POST /v1/refunds/{id}/cancel): the
-- refunds.status CHECK follows REFUND_STATUSES (src/domain/status.ts; test/lists-agree.test.ts
-- compares them). refund_holds_amount() and status_move_allowed() (src/db/functions/) are
-- re-applied on every start. The canceled refund's REFUND job is withdrawn as 'done' (no new job
-- status: every claim and delivery already skips done jobs).
ALTER TABLE refunds DROP CONSTRAINT refunds_status_check;
ALTER TABLE refunds ADD CONSTRAINT refunds_status_check CHECK (status IN ('pending', 'succeeded', 'failed', 'requires_review', 'canceled'));
