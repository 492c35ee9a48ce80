-- Reconciliation of canceled refunds (src/flows/reconcile.ts): a canceled refund is one the PSP
-- must never have. One its PSP holds anyway is a review item of its own reason; the list is
-- REVIEW_REASONS (src/domain/psp-report.ts), compared with this CHECK by test/lists-agree.test.ts.
ALTER TABLE reviews DROP CONSTRAINT reviews_reason_check;
ALTER TABLE reviews ADD CONSTRAINT reviews_reason_check CHECK (reason IN (
  'amount_mismatch', 'currency_mismatch', 'succeeded_after_failed', 'failed_after_succeeded',
  'object_mismatch', 'unmatched_event', 'over_refund', 'canceled_refund_at_psp'));

-- The sweep reads the refunds canceled within its window, newest first (as 015 does for the
-- settled ones), without scanning every refund.
CREATE INDEX refunds_canceled_updated ON refunds (updated_at) WHERE status = 'canceled';
