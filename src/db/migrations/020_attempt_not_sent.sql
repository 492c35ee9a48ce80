-- A PSP call whose connection could not be opened (refused, host not resolved, no route) is its
-- own outcome, `not_sent`: no byte of the request left FinCore, so the PSP cannot hold the object
-- and a refund whose calls all ended so may still be canceled (issue 17). The outcome CHECK
-- follows ATTEMPT_OUTCOMES (src/domain/attempts.ts; test/lists-agree.test.ts compares them).
-- NOT VALID then VALIDATE: the check of existing rows does not block attempts being written.
ALTER TABLE psp_attempts DROP CONSTRAINT psp_attempts_outcome_check;
ALTER TABLE psp_attempts ADD CONSTRAINT psp_attempts_outcome_check
  CHECK (outcome IN ('success', 'pending', 'decline', 'timeout', 'server_error', 'network', 'not_sent')) NOT VALID;
ALTER TABLE psp_attempts VALIDATE CONSTRAINT psp_attempts_outcome_check;
