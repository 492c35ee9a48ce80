-- The idempotency epilogue, once for every writer: the answer is stored under the key until
-- now() + p_ttl_hours. An expired record under the key is replaced; a live one is left as it was
-- and the function returns false (the caller replays it or refuses the request).
CREATE OR REPLACE FUNCTION store_idempotency_record(
  p_scope text, p_key text, p_method text, p_path text, p_hash text, p_code integer, p_body jsonb, p_ttl_hours integer
) RETURNS boolean LANGUAGE sql AS $$
  WITH written AS (
    INSERT INTO idempotency_keys AS k (scope, key, request_method, request_path, request_hash, response_code, response_body, created_at, expires_at)
    VALUES (p_scope, p_key, p_method, p_path, p_hash, p_code, p_body, now(), now() + make_interval(hours => coalesce(p_ttl_hours, 24)))
    ON CONFLICT (scope, key) DO UPDATE
       SET request_method = EXCLUDED.request_method, request_path = EXCLUDED.request_path, request_hash = EXCLUDED.request_hash,
           response_code = EXCLUDED.response_code, response_body = EXCLUDED.response_body,
           created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
     WHERE k.expires_at <= now()
    RETURNING 1
  )
  SELECT count(*) = 1 FROM written
$$;
