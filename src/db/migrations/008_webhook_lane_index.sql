-- The webhook lane claims only WEBHOOK jobs: its own partial index, so its claim never walks the
-- money lane's queued charges and refunds (which jobs_due orders by run_at for the money lane).
CREATE INDEX jobs_due_webhooks ON jobs (run_at) WHERE status = 'queued' AND job_type = 'WEBHOOK';
