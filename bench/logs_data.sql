-- logs_data.sql — generated call logs for the logs_search line of `make bench`
-- (bench/run.sh runs it as the database owner, with psql variables :rows and
-- :accounts). It creates :accounts accounts (logs-<n>@bench.example.com),
-- two endpoints each (sandbox and production configurations, deployed), and
-- :rows call_logs rows spread evenly over the last 60 days, so they fill the
-- monthly partitions of those days (made here with
-- ensure_call_log_partitions). Rows are what the gateway writes
-- (services/worker/gateway.c, log_call): mostly POSTs and GETs that
-- succeeded, about 10 % failures with their error codes, JSON request and
-- response bodies, and the search vector built the same way: the record id,
-- the error code and message, then the body's string values, through
-- to_tsvector('simple', ...). Ids are fixed functions of the account number,
-- so a rerun on the same database is refused by the primary keys rather than
-- doubling the data.
\set ON_ERROR_STOP on
SET work_mem = '256MB';
SET maintenance_work_mem = '512MB';
SET synchronous_commit = off;

SELECT ensure_call_log_partitions(now() - interval '60 days');
SELECT ensure_call_log_partitions(now() - interval '30 days');
SELECT ensure_call_log_partitions(now());

CREATE TEMP TABLE bench_words AS
  SELECT row_number() OVER () AS n, w FROM unnest(string_to_array(
    'order refund invoice shipping delayed payment failed card declined address update subscription cancel '
    'newsletter signup contact question pricing demo feedback bug report feature request login password reset '
    'account upgrade plan trial expired coupon discount delivery tracking return exchange warranty support '
    'urgent hello thanks great slow error timeout mobile desktop android iphone checkout cart wishlist review',
    ' ')) AS w;

INSERT INTO accounts (id, email, password_hash, timezone, verified, created_at)
SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(a), 12, '0'))::uuid,
       'logs-' || a || '@bench.example.com', 'bench:no-login',
       (ARRAY['UTC', 'Asia/Seoul', 'Asia/Tokyo', 'America/New_York'])[1 + a % 4], true,
       now() - interval '120 days'
  FROM generate_series(1, :accounts) a;

INSERT INTO endpoints (id, account_id, name, slug, description, prod_version, created_at)
SELECT ('00000000-0000-4000-9000-' || lpad(to_hex(a * 2 + e), 12, '0'))::uuid,
       ('00000000-0000-4000-8000-' || lpad(to_hex(a), 12, '0'))::uuid,
       (ARRAY['Contact form', 'Orders'])[e + 1], 'logs-' || a || '-' || (ARRAY['contact', 'orders'])[e + 1],
       'Generated for the logs_search benchmark', 1, now() - interval '100 days'
  FROM generate_series(1, :accounts) a, generate_series(0, 1) e;

INSERT INTO endpoint_configs (endpoint_id, account_id, environment, version, fields)
SELECT e.id, e.account_id, env, 1,
       '[{"name":"email","type":"string","required":true,"searchable":true},{"name":"name","type":"string"},{"name":"message","type":"string","searchable":true}]'
  FROM endpoints e, unnest(ARRAY['sandbox', 'production']) env
 WHERE e.slug LIKE 'logs-%';

-- The rows: g picks the account (g % accounts), the time (evenly over the
-- last 60 days) and the words of the message; a hash of g (h) picks the
-- endpoint, environment, method and outcome, so every account has the same
-- mix: about 10 % failed, 20 % sandbox.
INSERT INTO call_logs (created_at, processed_at, account_id, endpoint_id, environment, method, path_kind,
                       record_id, caller_kind, status_code, outcome, error_code, error_message, latency_ms,
                       request_body, request_bytes, response_body, response_bytes, ip, search)
SELECT t, t, acc, ep, env, method, kind, rid, 'owner', st, CASE WHEN st < 400 THEN 'success' ELSE 'failed' END,
       ec, em, 2 + (g % 37), req, coalesce(length(req), 0), resp, length(resp), '203.0.113.' || (g % 250 + 1),
       to_tsvector('simple', concat_ws(' ', rid, ec, em, CASE WHEN req IS NOT NULL THEN email || ' ' || who || ' ' || msg END))
  FROM (
    SELECT g, t, acc, ep, env, method, kind, st, rid, ec, em, email, who, msg,
           CASE WHEN method IN ('POST', 'PUT') THEN
             json_build_object('email', email, 'name', who, 'message', msg)::text END AS req,
           CASE WHEN ec IS NOT NULL THEN json_build_object('error', json_build_object('code', ec, 'message', em))::text
                WHEN method = 'GET' AND rid IS NULL THEN '{"items":[],"next_cursor":null}'
                ELSE json_build_object('id', rid, 'status', 'queued', 'environment', env)::text END AS resp
      FROM (
        SELECT g, t, acc, ep, env, method, st,
               CASE method WHEN 'POST' THEN 'create' WHEN 'GET' THEN (CASE WHEN g % 3 = 0 THEN 'list' ELSE 'record' END)
                           ELSE 'record' END AS kind,
               CASE WHEN (method <> 'GET' OR g % 3 <> 0) AND st <> 400 THEN
                 'rec_' || lpad(to_hex((extract(epoch FROM t) * 1000)::bigint), 12, '0') || substr(md5(g::text), 1, 14) END AS rid,
               CASE st WHEN 400 THEN 'validation_failed' WHEN 403 THEN 'permission_denied'
                       WHEN 429 THEN 'rate_limited' WHEN 404 THEN 'record_not_found' END AS ec,
               CASE st WHEN 400 THEN 'fields that fail validation: email' WHEN 403 THEN 'this key may not make '
                       || method || ' requests' WHEN 429 THEN 'too many requests with this key; retry after a second'
                       WHEN 404 THEN 'no record with this id' END AS em,
               'user' || (g % 5000) || '@example' || (g % 7) || '.com' AS email,
               'Customer ' || (g % 5000) AS who,
               concat_ws(' ', words[1 + g % nw], words[1 + (g / 7) % nw], words[1 + (g / 53) % nw],
                         words[1 + (g / 401) % nw]) AS msg
          FROM (
            SELECT g, words, nw,
                   now() - (g::double precision / :rows) * interval '60 days' AS t,
                   ('00000000-0000-4000-8000-' || lpad(to_hex(1 + g % :accounts), 12, '0'))::uuid AS acc,
                   ('00000000-0000-4000-9000-' || lpad(to_hex((1 + g % :accounts) * 2 + (h / 400) % 2), 12, '0'))::uuid AS ep,
                   CASE WHEN (h / 10) % 5 = 0 THEN 'sandbox' ELSE 'production' END AS env,
                   (ARRAY['POST', 'POST', 'POST', 'GET', 'GET', 'GET', 'PUT', 'DELETE'])[1 + (h / 50) % 8] AS method,
                   CASE WHEN h % 10 = 3 THEN (ARRAY[400, 400, 400, 403, 429, 404])[1 + (h / 3000) % 6]
                        WHEN (h / 50) % 8 BETWEEN 3 AND 5 THEN 200 ELSE 202 END AS st
              FROM (SELECT g, hashint4(g)::bigint & 2147483647 AS h FROM generate_series(1, :rows) g) gs,
                   (SELECT array_agg(w ORDER BY n) AS words, count(*)::int AS nw FROM bench_words) v
          ) a
      ) b
  ) c;

ANALYZE accounts;
ANALYZE endpoints;
ANALYZE endpoint_configs;
-- VACUUM as well as ANALYZE: a million fresh rows would otherwise start
-- autovacuum on every partition within the minute, on the two CPUs the
-- logs_search lines measure (it did, during the measured runs). A table in
-- service has been vacuumed; the lines measure that steady state.
VACUUM (ANALYZE) call_logs;
