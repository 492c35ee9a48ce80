-- With the SQS transport the jobs table is the outbox: a relay publishes each row to the queue
-- and records when SQS accepted it. publish_lease_until keeps two relays from sending one row at
-- the same time; a relay that dies mid-publish loses its lease and the row is sent again (a
-- duplicate message, which job handlers tolerate). The postgres transport ignores both columns.
ALTER TABLE jobs ADD COLUMN published_at timestamptz;
ALTER TABLE jobs ADD COLUMN publish_lease_until timestamptz;
CREATE INDEX jobs_unpublished ON jobs (created_at) WHERE published_at IS NULL AND status = 'queued';
