-- Whether a refund in this status holds part of its charge (the amount its charge's refunds
-- "reserve"): the SQL form of REFUND_HOLDS_AMOUNT in src/domain/refund.ts, compared with it for
-- every status by test/lists-agree.test.ts. Every query that sums a charge's reserved amount
-- calls this instead of spelling the statuses (an IMMUTABLE SQL function is inlined by the
-- planner, so it costs nothing).
CREATE OR REPLACE FUNCTION refund_holds_amount(p_status text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT p_status IN ('pending', 'succeeded', 'requires_review')
$$;
