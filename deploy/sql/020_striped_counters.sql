-- Striped call counters (docs/GATEWAY.md "Counters in stripes",
-- docs/BENCHMARKS.md). Every logged call updated three rows that every other
-- call of the same account or endpoint also updates: the account's usage
-- counter, the endpoint's daily statistics and, in sandbox, the endpoint's
-- sandbox_test_calls. A row lock is held until COMMIT, and with
-- synchronous_commit = on until the commit's WAL flush, so one endpoint's
-- calls followed each other one flush at a time however many workers ran.
--
-- Now each of these counts is kept in up to 16 rows ("stripes"), and a call
-- adds to the stripe of its database session (pg_backend_pid() % 16): a
-- worker connection never waits for itself, and two connections wait for
-- each other only when their stripes coincide. Still in the same transaction
-- as the call log, still exact: readers add the stripes up.
--
--   usage_counters: the stripe is part of the key. The period's alert marks
--     (alert80_at, alert100_at) live on stripe 0 only, set by an
--     insert-or-update on that row so an alert is still sent once.
--   daily_stats: the stripe is part of the unique key.
--   endpoint_sandbox_calls: the sandbox calls of an endpoint; the count is
--     endpoints.sandbox_test_calls (calls counted before this migration, and
--     left as they are) plus the stripes.
-- Existing rows become stripe 0.

ALTER TABLE usage_counters ADD COLUMN stripe smallint NOT NULL DEFAULT 0 CHECK (stripe BETWEEN 0 AND 15);
ALTER TABLE usage_counters DROP CONSTRAINT usage_counters_pkey;
ALTER TABLE usage_counters ADD PRIMARY KEY (account_id, period_start, stripe);

ALTER TABLE daily_stats ADD COLUMN stripe smallint NOT NULL DEFAULT 0 CHECK (stripe BETWEEN 0 AND 15);
DO $$
DECLARE c text;
BEGIN
  FOR c IN SELECT conname FROM pg_constraint WHERE conrelid = 'daily_stats'::regclass AND contype = 'u' LOOP
    EXECUTE format('ALTER TABLE daily_stats DROP CONSTRAINT %I', c);
  END LOOP;
END $$;
ALTER TABLE daily_stats ADD CONSTRAINT daily_stats_striped_key
  UNIQUE NULLS NOT DISTINCT (endpoint_id, environment, day, collaboration_key_id, stripe);

CREATE TABLE endpoint_sandbox_calls (
  account_id  uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  endpoint_id uuid NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
  stripe      smallint NOT NULL CHECK (stripe BETWEEN 0 AND 15),
  calls       bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (endpoint_id, stripe)
) WITH (fillfactor = 10);
ALTER TABLE endpoint_sandbox_calls ENABLE ROW LEVEL SECURITY;
CREATE POLICY endpoint_sandbox_calls_tenant ON endpoint_sandbox_calls USING (account_id = app_account_id());
GRANT SELECT, INSERT, UPDATE ON endpoint_sandbox_calls TO tm_worker;

-- As in 014, with the period's usage summed over its stripes.
CREATE OR REPLACE FUNCTION gateway_target(p_hash bytea)
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
         p.monthly_limit, p.hard_limit,
         (SELECT coalesce(sum(u.calls), 0)::bigint FROM usage_counters u
           WHERE u.account_id = a.id AND u.period_start = a.created_at + per.n * interval '30 days'),
         a.created_at + (per.n + 1) * interval '30 days'
    FROM api_keys k
    JOIN endpoints e ON e.id = k.endpoint_id AND e.account_id = k.account_id AND e.deleted_at IS NULL
    JOIN accounts a ON a.id = k.account_id AND a.deleted_at IS NULL
    LEFT JOIN collaboration_keys c ON c.id = k.collaboration_key_id AND c.account_id = k.account_id
    CROSS JOIN LATERAL (SELECT greatest(0, floor(extract(epoch FROM now() - a.created_at) / 2592000))::int AS n) per
    LEFT JOIN subscriptions s ON s.account_id = a.id
    LEFT JOIN plans p ON p.code = coalesce(s.plan_code, 'free')
    LEFT JOIN endpoint_configs cfg ON cfg.endpoint_id = k.endpoint_id AND cfg.environment = k.environment
                                  AND cfg.account_id = k.account_id
    LEFT JOIN webhooks w ON w.endpoint_id = k.endpoint_id AND w.environment = k.environment
                        AND w.account_id = k.account_id
   WHERE k.key_hash = p_hash;
END $$;

-- As in 014, with the counters in stripes (step 5). The usage count returned
-- (r_calls) is the period's total as this transaction sees it: its own call
-- plus the committed calls of the other stripes. A call counts as overage
-- when that total passes the limit; calls of the account still in flight in
-- other sessions are not seen, so at the moment the limit is crossed up to
-- (sessions in flight - 1) calls past it can be counted as within it, never
-- the other way round. The 80 % / 100 % alerts are due while stripe 0 has no
-- mark (the caller marks it, once).
CREATE OR REPLACE FUNCTION gateway_finish(
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
  v_stripe smallint := (pg_backend_pid() % 16)::smallint;
  v_created timestamptz;
  v_calls bigint;
  v_a80 boolean;
  v_a100 boolean;
  v_ps timestamptz;
  v_pe timestamptz;
  v_over integer;
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
    SELECT a.created_at + per.n * interval '30 days', a.created_at + (per.n + 1) * interval '30 days'
      INTO v_ps, v_pe
      FROM accounts a
     CROSS JOIN LATERAL (SELECT greatest(0, floor(extract(epoch FROM now() - a.created_at) / 2592000))::int AS n) per
     WHERE a.id = p_account;
    SELECT coalesce(sum(u.calls), 0) + 1, coalesce(bool_and(u.alert80_at IS NULL), true),
           coalesce(bool_and(u.alert100_at IS NULL), true)
      INTO v_calls, v_a80, v_a100
      FROM usage_counters u WHERE u.account_id = p_account AND u.period_start = v_ps;
    v_over := (NOT p_hard AND v_calls > p_limit)::int;
    INSERT INTO usage_counters AS uc (account_id, period_start, period_end, stripe, calls, overage_calls)
    VALUES (p_account, v_ps, v_pe, v_stripe, 1, v_over)
    ON CONFLICT (account_id, period_start, stripe) DO UPDATE SET calls = uc.calls + 1,
      overage_calls = uc.overage_calls + v_over;
  END IF;
  IF p_environment = 'sandbox' THEN
    INSERT INTO endpoint_sandbox_calls AS sc (account_id, endpoint_id, stripe, calls)
    VALUES (p_account, p_endpoint, v_stripe, 1)
    ON CONFLICT (endpoint_id, stripe) DO UPDATE SET calls = sc.calls + 1;
  END IF;
  INSERT INTO daily_stats AS ds (account_id, endpoint_id, environment, day, collaboration_key_id, stripe, calls,
                                 success, failed, latency_sum_ms, cud_calls, cud_latency_sum_ms)
  VALUES (p_account, p_endpoint, p_environment, (now() AT TIME ZONE 'UTC')::date, p_collab, v_stripe, 1, p_success,
          1 - p_success, p_latency, p_write, p_write * p_latency::bigint)
  ON CONFLICT (endpoint_id, environment, day, collaboration_key_id, stripe) DO UPDATE SET
    calls = ds.calls + 1, success = ds.success + excluded.success, failed = ds.failed + excluded.failed,
    latency_sum_ms = ds.latency_sum_ms + excluded.latency_sum_ms, cud_calls = ds.cud_calls + excluded.cud_calls,
    cud_latency_sum_ms = ds.cud_latency_sum_ms + excluded.cud_latency_sum_ms;

  RETURN QUERY SELECT false, NULL::text, v_calls, v_a80, v_a100, v_ps::text,
                      to_char(v_pe AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
END $$;
