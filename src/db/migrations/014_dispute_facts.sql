-- Disputes are refund facts (issue 16 item 5): create_refund_if_unchanged (src/db/functions/)
-- re-checks, under the charge's row lock, whether a dispute of the charge is open and how much
-- lost disputes took, next to its status and reserved amount. Its signature grows by two
-- parameters (and two result columns), so the old one goes; the functions are re-applied after
-- the migrations.
DROP FUNCTION IF EXISTS create_refund_if_unchanged(text, text, text, bigint, text, text, jsonb, timestamptz, text, bigint, text, integer, text, jsonb, text, text, text, text, text, text, text, integer, jsonb, integer, jsonb);
