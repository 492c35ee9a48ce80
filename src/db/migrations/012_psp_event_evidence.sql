-- Which webhook secret verified each PSP event (a fingerprint, never the secret), and signed
-- events FinCore could not read: kept as the bytes the PSP sent, with why, instead of being
-- refused (a refused event is resent by the PSP for days and is then lost).
ALTER TABLE psp_events ADD COLUMN secret_fingerprint text;
ALTER TABLE psp_events ADD COLUMN malformed_reason text;
ALTER TABLE psp_events ADD COLUMN raw_body bytea;
ALTER TABLE psp_events ALTER COLUMN payload DROP NOT NULL;
ALTER TABLE psp_events ADD CONSTRAINT psp_events_readable_or_kept_raw
  CHECK ((payload IS NOT NULL AND malformed_reason IS NULL) OR (payload IS NULL AND malformed_reason IS NOT NULL AND raw_body IS NOT NULL));
