-- Outbound merchant webhooks (issue 7): the endpoints a merchant registers and one delivery row
-- per (endpoint, event), carried out by WEBHOOK jobs on the same queue as charges and refunds.

ALTER TABLE jobs DROP CONSTRAINT jobs_job_type_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_job_type_check CHECK (job_type IN ('CHARGE', 'REFUND', 'WEBHOOK'));

-- The signing secret is kept in clear: FinCore must sign every delivery with it (unlike API keys,
-- which are only ever compared and so are stored as a hash). It leaves the service only in the
-- response that created the endpoint. A deleted endpoint is kept (its delivery log stays readable).
CREATE TABLE webhook_endpoints (
  id             text PRIMARY KEY,
  merchant_id    text NOT NULL REFERENCES merchants (id),
  url            text NOT NULL CHECK (length(url) <= 2048),
  enabled_events text[] NOT NULL CHECK (cardinality(enabled_events) > 0),
  description    text,
  secret         text NOT NULL,
  status         text NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'deleted')),
  created_at     timestamptz NOT NULL DEFAULT now(),
  deleted_at     timestamptz
);
CREATE INDEX webhook_endpoints_merchant_newest ON webhook_endpoints (merchant_id, id DESC);
-- Fan-out looks up the enabled endpoints of the merchants in a batch of events.
CREATE INDEX webhook_endpoints_enabled ON webhook_endpoints (merchant_id) WHERE status = 'enabled';

-- One row per (endpoint, event): the unique constraint makes fan-out idempotent when a batch is
-- handed over again. attempts counts every HTTP attempt ever made; series_started_at is when the
-- current attempt series began (creation, or the last resend): the retry window runs from there.
CREATE TABLE webhook_deliveries (
  id                   text PRIMARY KEY,
  endpoint_id          text NOT NULL REFERENCES webhook_endpoints (id),
  event_id             text NOT NULL REFERENCES events (id),
  event_type           text NOT NULL,
  status               text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
  attempts             integer NOT NULL DEFAULT 0,
  last_attempt_at      timestamptz,
  last_response_status integer,
  last_error           text,
  next_attempt_at      timestamptz DEFAULT now(),
  series_started_at    timestamptz NOT NULL DEFAULT now(),
  created_at           timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT webhook_deliveries_once_per_endpoint UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_of_endpoint ON webhook_deliveries (endpoint_id, id DESC);
CREATE INDEX webhook_deliveries_of_event ON webhook_deliveries (event_id);
