-- Limits on outbound merchant webhooks (issue 14): a fair webhook lane, a circuit breaker per
-- endpoint, and signing-secret rotation with an overlap window.

-- 1. Fair scheduling: WEBHOOK jobs carry their merchant, so the webhook lane can take each
-- merchant's oldest due job in turn (src/db/jobs.ts claimWebhookJobs) instead of one FIFO where
-- a merchant's backlog of 100,000 jobs sits in front of everyone else's first delivery.
ALTER TABLE jobs ADD COLUMN merchant_id text;
UPDATE jobs j SET merchant_id = e.merchant_id
  FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
 WHERE j.job_type = 'WEBHOOK' AND j.ref = d.id;
ALTER TABLE jobs ADD CONSTRAINT jobs_webhook_has_merchant CHECK (job_type <> 'WEBHOOK' OR merchant_id IS NOT NULL);
-- Which merchants have queued webhook jobs (a skip scan) and each one's oldest due ones.
CREATE INDEX jobs_due_webhooks_by_merchant ON jobs (merchant_id, run_at) WHERE status = 'queued' AND job_type = 'WEBHOOK';
-- How many webhook jobs each merchant has in flight (the per-merchant cap).
CREATE INDEX jobs_running_webhooks_by_merchant ON jobs (merchant_id) WHERE status = 'running' AND job_type = 'WEBHOOK';
-- The webhook lane no longer walks all due webhook jobs in run_at order.
DROP INDEX jobs_due_webhooks;

-- 2. Circuit breaker: consecutive failed attempts since failing_since; paused_until set when the
-- breaker opens (deliveries wait, one probe goes out when it has passed); disabled_reason says
-- why, for the merchant. A success clears all four.
ALTER TABLE webhook_endpoints
  ADD COLUMN consecutive_failures integer NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
  ADD COLUMN failing_since timestamptz,
  ADD COLUMN paused_until timestamptz,
  ADD COLUMN disabled_reason text;

-- 3. Secret rotation: the secret replaced by the last rotation keeps signing (a second v1= in
-- FinCore-Signature) until previous_secret_expires_at, so receivers can switch without a gap.
ALTER TABLE webhook_endpoints
  ADD COLUMN previous_secret text,
  ADD COLUMN previous_secret_expires_at timestamptz,
  ADD CONSTRAINT webhook_endpoints_previous_secret_expires CHECK ((previous_secret IS NULL) = (previous_secret_expires_at IS NULL));

-- 4. The SQS outbox relay leases unpublished jobs in run_at order, up to 15 minutes ahead (SQS's
-- longest DelaySeconds): a webhook deferred further (a long pause or backoff) waits in the outbox
-- without being walked by every relay round. Replaces the created_at index of migration 003.
CREATE INDEX jobs_unpublished_due ON jobs (run_at) WHERE published_at IS NULL AND status = 'queued';
DROP INDEX jobs_unpublished;
