-- Whether a charge or refund may move from one status to another, by anyone: the SQL form of the
-- transition tables in src/domain/status.ts (test/lists-agree.test.ts compares every pair). The
-- row triggers on payments and refunds (payments_only_move_forward.sql, refunds_are_immutable.sql) refuse any other status change, so a bug
-- or a hand-written UPDATE cannot move money state the tables do not name. Who may make a move
-- (the PSP or an operator) is the flows' check; the database knows only that it is allowed.
CREATE OR REPLACE FUNCTION status_move_allowed(p_kind text, p_from text, p_to text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT (p_kind, p_from, p_to) IN (
    ('charge', 'pending', 'succeeded'), ('charge', 'pending', 'failed'), ('charge', 'pending', 'requires_review'),
    ('charge', 'succeeded', 'requires_review'),
    ('charge', 'failed', 'requires_review'),
    ('charge', 'requires_review', 'pending'), ('charge', 'requires_review', 'succeeded'), ('charge', 'requires_review', 'failed'),
    ('refund', 'pending', 'succeeded'), ('refund', 'pending', 'failed'), ('refund', 'pending', 'requires_review'), ('refund', 'pending', 'canceled'),
    ('refund', 'succeeded', 'failed'), ('refund', 'succeeded', 'requires_review'),
    ('refund', 'failed', 'requires_review'),
    ('refund', 'requires_review', 'pending'), ('refund', 'requires_review', 'succeeded'), ('refund', 'requires_review', 'failed')
  )
$$;
