-- Reconciliation settles objects from the PSP's answer to a query: its own cause type.
ALTER TABLE events DROP CONSTRAINT events_cause_type_check;
ALTER TABLE events ADD CONSTRAINT events_cause_type_check
  CHECK (cause_type IN ('api_request', 'job', 'psp_event', 'operator', 'reconciliation'));
