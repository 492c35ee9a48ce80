-- The idempotency epilogue, once for every writer: the answer is stored under the key until
-- now() + p_ttl_hours. An expired record under the key is replaced; a live one is left as it was
-- and the function returns false (the caller replays it or refuses the request).
-- PL/pgSQL, not LANGUAGE sql: PostgreSQL parses and plans a SQL-language function's body on
-- every call that cannot be inlined (an INSERT never can), while PL/pgSQL keeps the plan for the
-- session. Every POST of a charge or a refund calls this, and the SQL form's parse and plan were
-- about a tenth of the database's CPU in `npm run bench`'s refund run (perf, bench/README.md).
CREATE OR REPLACE FUNCTION store_idempotency_record(
  p_scope text, p_key text, p_method text, p_path text, p_hash text, p_code integer, p_body jsonb, p_ttl_hours integer
) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO idempotency_keys AS k (scope, key, request_method, request_path, request_hash, response_code, response_body, created_at, expires_at)
  VALUES (p_scope, p_key, p_method, p_path, p_hash, p_code, p_body, now(), now() + make_interval(hours => coalesce(p_ttl_hours, 24)))
  ON CONFLICT (scope, key) DO UPDATE
     SET request_method = EXCLUDED.request_method, request_path = EXCLUDED.request_path, request_hash = EXCLUDED.request_hash,
         response_code = EXCLUDED.response_code, response_body = EXCLUDED.response_body,
         created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
   WHERE k.expires_at <= now();
  -- FOUND: a row was inserted, or an expired one replaced; false when the live record stayed.
  RETURN FOUND;
END;
$$;
