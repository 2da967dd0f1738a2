-- The gateway's transaction in two statements instead of nine
-- (services/worker/gateway.c, docs/GATEWAY.md "One call, two statements").
-- Every statement is a round trip between a worker thread and its backend,
-- with the executor set up and torn down around it; at a thousand calls a
-- second on two CPUs these fixed costs were a third of the work. A keyed call
-- now reads everything it needs with gateway_target and writes everything
-- with gateway_finish, in the caller's transaction.

-- What a gateway key opens, with everything the pipeline reads before it
-- writes: the key and its endpoint (as resolve_api_key), the endpoint's
-- name, the environment's fields and webhook, and the account's plan and
-- this period's usage (as the quota step read them, without locking the
-- counter). SECURITY DEFINER like resolve_api_key, since no account is known
-- before the key is resolved: it answers only for the key whose hash the
-- caller holds, and every join is pinned to that key's account, endpoint and
-- environment. The period is computed inline (usage_period's arithmetic).
CREATE FUNCTION gateway_target(p_hash bytea)
  RETURNS TABLE (api_key_id uuid, endpoint_id uuid, account_id uuid, slug text, environment text, kind text,
                 collaboration_key_id uuid, endpoint_active boolean, prod_version integer, key_active boolean,
                 collab_active boolean, can_create boolean, can_read boolean, can_update boolean,
                 can_delete boolean, fields text, endpoint_name text, webhook_url text,
                 webhook_auth_header_name text, webhook_auth_value_enc bytea, webhook_secret_enc bytea,
                 webhook_enabled boolean, plan_limit bigint, plan_hard boolean, period_calls bigint,
                 period_end timestamptz)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public AS $$
BEGIN
  RETURN QUERY
  SELECT k.id, k.endpoint_id, k.account_id, e.slug, k.environment, k.kind, k.collaboration_key_id, e.active,
         e.prod_version, k.active, coalesce(c.active, true), coalesce(c.can_create, true),
         coalesce(c.can_read, true), coalesce(c.can_update, true), coalesce(c.can_delete, true),
         cfg.fields::text, e.name, w.url, w.auth_header_name, w.auth_value_enc, w.secret_enc, w.enabled,
         p.monthly_limit, p.hard_limit, coalesce(u.calls, 0), a.created_at + (per.n + 1) * interval '30 days'
    FROM api_keys k
    JOIN endpoints e ON e.id = k.endpoint_id AND e.account_id = k.account_id AND e.deleted_at IS NULL
    JOIN accounts a ON a.id = k.account_id AND a.deleted_at IS NULL
    LEFT JOIN collaboration_keys c ON c.id = k.collaboration_key_id AND c.account_id = k.account_id
    CROSS JOIN LATERAL (SELECT greatest(0, floor(extract(epoch FROM now() - a.created_at) / 2592000))::int AS n) per
    LEFT JOIN subscriptions s ON s.account_id = a.id
    LEFT JOIN plans p ON p.code = coalesce(s.plan_code, 'free')
    LEFT JOIN usage_counters u ON u.account_id = a.id AND u.period_start = a.created_at + per.n * interval '30 days'
    LEFT JOIN endpoint_configs cfg ON cfg.endpoint_id = k.endpoint_id AND cfg.environment = k.environment
                                  AND cfg.account_id = k.account_id
    LEFT JOIN webhooks w ON w.endpoint_id = k.endpoint_id AND w.environment = k.environment
                        AND w.account_id = k.account_id
   WHERE k.key_hash = p_hash;
END $$;

-- Everything a logged call writes, in one statement, in the caller's
-- transaction (row-level security applies: SECURITY INVOKER, app.account_id
-- set by the caller):
--   1. the idempotency record with the answer (p_request_id NULL: none). If
--      the request id was already applied, nothing is written and the stored
--      answer is returned (r_replayed); the caller rolls back what it did.
--   2. a POST's record (p_record_id NULL: none);
--   3. the call log, with the id the caller chose (the answer and the webhook
--      body already carry it);
--   4. the webhook delivery (p_webhook_url NULL: none);
--   5. last, the rows every call of the account or endpoint waits for: the
--      usage counter (p_counted), the endpoint's sandbox call count and the
--      daily statistics. Held from here to COMMIT only.
-- Returns the usage counter's new count, whether its 80 % and 100 % alerts
-- are still unsent, and its period (for the usage alerts), or NULLs when not
-- counted.
CREATE FUNCTION gateway_finish(
    p_request_id bytea, p_result jsonb,
    p_record_id text, p_record_payload jsonb, p_record_search text, p_created_by uuid,
    p_log_id uuid, p_account uuid, p_endpoint uuid, p_environment text, p_method text, p_path_kind text,
    p_log_record_id text, p_caller_kind text, p_api_key uuid, p_collab uuid, p_status smallint, p_outcome text,
    p_error_code text, p_error_message text, p_latency integer, p_request_body text, p_request_bytes integer,
    p_request_truncated boolean, p_response_body text, p_response_bytes integer, p_response_truncated boolean,
    p_ip text, p_webhook_status text, p_search text,
    p_webhook_url text, p_webhook_auth_header text, p_webhook_auth_value bytea, p_webhook_secret bytea,
    p_webhook_body text,
    p_success integer, p_counted boolean, p_write integer, p_hard boolean, p_limit bigint)
  RETURNS TABLE (r_replayed boolean, r_stored text, r_calls bigint, r_alert80_due boolean, r_alert100_due boolean,
                 r_period_start text, r_period_end text)
  LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = public AS $$
DECLARE
  v_created timestamptz;
  v_calls bigint;
  v_a80 boolean;
  v_a100 boolean;
  v_ps timestamptz;
  v_pe timestamptz;
BEGIN
  IF p_request_id IS NOT NULL THEN
    INSERT INTO applied_requests (request_id, account_id, name, ok, result)
    VALUES (p_request_id, p_account, 'gateway.call', true, p_result)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
      RETURN QUERY SELECT true, ar.result::text, NULL::bigint, NULL::boolean, NULL::boolean, NULL::text, NULL::text
                     FROM applied_requests ar WHERE ar.request_id = p_request_id;
      RETURN;
    END IF;
  END IF;

  IF p_record_id IS NOT NULL THEN
    INSERT INTO records (id, account_id, endpoint_id, environment, payload, search, created_by_key)
    VALUES (p_record_id, p_account, p_endpoint, p_environment, p_record_payload,
            to_tsvector('simple', p_record_search), p_created_by);
  END IF;

  INSERT INTO call_logs (id, account_id, endpoint_id, environment, method, path_kind, record_id, caller_kind,
                         api_key_id, collaboration_key_id, status_code, outcome, error_code, error_message,
                         latency_ms, request_body, request_bytes, request_truncated, response_body, response_bytes,
                         response_truncated, ip, webhook_status, search, processed_at)
  VALUES (p_log_id, p_account, p_endpoint, p_environment, p_method, p_path_kind, p_log_record_id, p_caller_kind,
          p_api_key, p_collab, p_status, p_outcome, p_error_code, p_error_message, p_latency, p_request_body,
          p_request_bytes, p_request_truncated, p_response_body, p_response_bytes, p_response_truncated, p_ip,
          p_webhook_status, to_tsvector('simple', p_search), now())
  RETURNING created_at INTO v_created;

  IF p_webhook_url IS NOT NULL THEN
    INSERT INTO webhook_deliveries (account_id, endpoint_id, environment, call_log_id, call_log_created_at, url,
                                    auth_header_name, auth_value_enc, secret_enc, body)
    VALUES (p_account, p_endpoint, p_environment, p_log_id, v_created, p_webhook_url, p_webhook_auth_header,
            p_webhook_auth_value, p_webhook_secret, p_webhook_body);
  END IF;

  IF p_counted THEN
    INSERT INTO usage_counters AS uc (account_id, period_start, period_end, calls)
    SELECT a.id, a.created_at + per.n * interval '30 days', a.created_at + (per.n + 1) * interval '30 days', 1
      FROM accounts a
     CROSS JOIN LATERAL (SELECT greatest(0, floor(extract(epoch FROM now() - a.created_at) / 2592000))::int AS n) per
     WHERE a.id = p_account
    ON CONFLICT (account_id, period_start) DO UPDATE SET calls = uc.calls + 1,
      overage_calls = uc.overage_calls + (NOT p_hard AND uc.calls + 1 > p_limit)::int
    RETURNING uc.calls, uc.alert80_at IS NULL, uc.alert100_at IS NULL, uc.period_start, uc.period_end
      INTO v_calls, v_a80, v_a100, v_ps, v_pe;
  END IF;
  IF p_environment = 'sandbox' THEN
    UPDATE endpoints SET sandbox_test_calls = sandbox_test_calls + 1
     WHERE id = p_endpoint AND account_id = p_account;
  END IF;
  INSERT INTO daily_stats AS ds (account_id, endpoint_id, environment, day, collaboration_key_id, calls, success,
                                 failed, latency_sum_ms, cud_calls, cud_latency_sum_ms)
  VALUES (p_account, p_endpoint, p_environment, (now() AT TIME ZONE 'UTC')::date, p_collab, 1, p_success,
          1 - p_success, p_latency, p_write, p_write * p_latency::bigint)
  ON CONFLICT (endpoint_id, environment, day, collaboration_key_id) DO UPDATE SET
    calls = ds.calls + 1, success = ds.success + excluded.success, failed = ds.failed + excluded.failed,
    latency_sum_ms = ds.latency_sum_ms + excluded.latency_sum_ms, cud_calls = ds.cud_calls + excluded.cud_calls,
    cud_latency_sum_ms = ds.cud_latency_sum_ms + excluded.cud_latency_sum_ms;

  RETURN QUERY SELECT false, NULL::text, v_calls, v_a80, v_a100, v_ps::text,
                      to_char(v_pe AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
END $$;

REVOKE ALL ON FUNCTION gateway_target(bytea) FROM PUBLIC;
REVOKE ALL ON FUNCTION gateway_finish(bytea, jsonb, text, jsonb, text, uuid, uuid, uuid, uuid, text, text, text,
  text, text, uuid, uuid, smallint, text, text, text, integer, text, integer, boolean, text, integer, boolean, text,
  text, text, text, text, bytea, bytea, text, integer, boolean, integer, boolean, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gateway_target(bytea) TO tm_worker;
GRANT EXECUTE ON FUNCTION gateway_finish(bytea, jsonb, text, jsonb, text, uuid, uuid, uuid, uuid, text, text, text,
  text, text, uuid, uuid, smallint, text, text, text, integer, text, integer, boolean, text, integer, boolean, text,
  text, text, text, text, bytea, bytea, text, integer, boolean, integer, boolean, bigint) TO tm_worker;
