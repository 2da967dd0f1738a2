-- The gateway and its data (docs/GATEWAY.md, ../shared/docs/DOMAIN.md §2-3):
-- endpoint keys, collaboration keys, records, call logs (partitioned by
-- month), usage counters, daily statistics, webhooks and the two outboxes
-- that bin/jobs drains (webhook deliveries, notifications).
--
-- Secrets. Gateway keys are looked up by SHA-256 (key_hash), like MCP keys.
-- Operators and the dashboard must be able to show a full key again, and a
-- webhook signing secret must be usable to sign, so those are also stored
-- encrypted (*_enc: libsodium secretbox, nonce || ciphertext) with the server
-- key in KEYS_SECRET_FILE (docs/GATEWAY.md, "Secrets at rest"). A database
-- dump alone therefore reveals no usable key.
--
-- Tenancy. Every table carries account_id and has a row-level security policy
-- on app.account_id like the foundation's tables. bin/jobs works across
-- accounts on the outboxes; it connects as tm_jobs, whose policies below see
-- every row of exactly the tables it needs.

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tm_jobs') THEN
    CREATE ROLE tm_jobs LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
  END IF;
END $$;

-- A deploy requires at least one sandbox call first; the gateway counts them.
ALTER TABLE endpoints ADD COLUMN sandbox_test_calls bigint NOT NULL DEFAULT 0;

-- ---- keys ------------------------------------------------------------------

-- Collaboration keys: CRUD bits per key; the key material is one api_keys row
-- per environment (kind 'collaboration'), each with its own active flag.
CREATE TABLE collaboration_keys (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id  uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  endpoint_id uuid NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
  description text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
  can_create  boolean NOT NULL DEFAULT true,
  can_read    boolean NOT NULL DEFAULT true,
  can_update  boolean NOT NULL DEFAULT false,
  can_delete  boolean NOT NULL DEFAULT false,
  active      boolean NOT NULL DEFAULT true,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX collaboration_keys_endpoint ON collaboration_keys (endpoint_id);

-- Gateway keys: tm_test_ (sandbox) / tm_live_ (production) + 43 base64url
-- characters (32 random bytes). The owner has exactly one per endpoint and
-- environment (regenerating replaces key_hash, key_enc and last4 in place).
CREATE TABLE api_keys (
  id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id           uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  endpoint_id          uuid NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
  environment          text NOT NULL CHECK (environment IN ('sandbox', 'production')),
  kind                 text NOT NULL CHECK (kind IN ('owner', 'collaboration')),
  collaboration_key_id uuid REFERENCES collaboration_keys(id) ON DELETE CASCADE,
  key_hash             bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
  key_enc              bytea NOT NULL,
  last4                text NOT NULL CHECK (length(last4) = 4),
  active               boolean NOT NULL DEFAULT true,
  created_at           timestamptz NOT NULL DEFAULT now(),
  last_used_at         timestamptz,
  CHECK ((kind = 'collaboration') = (collaboration_key_id IS NOT NULL))
);
CREATE UNIQUE INDEX api_keys_owner ON api_keys (endpoint_id, environment) WHERE kind = 'owner';
CREATE UNIQUE INDEX api_keys_collaboration ON api_keys (collaboration_key_id, environment)
  WHERE kind = 'collaboration';

-- ---- records ---------------------------------------------------------------

-- id: 'rec_' + 26 lower-case Crockford base32 characters (48-bit millisecond
-- time, then 80 random bits), so ids sort by creation time.
CREATE TABLE records (
  id             text PRIMARY KEY CHECK (id ~ '^rec_[0-9a-z]{1,40}$'),
  account_id     uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  endpoint_id    uuid NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
  environment    text NOT NULL CHECK (environment IN ('sandbox', 'production')),
  payload        jsonb NOT NULL,
  search         tsvector NOT NULL DEFAULT ''::tsvector,
  created_by_key uuid,               -- api_keys.id; NULL for MCP api_call
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  deleted_at     timestamptz
);
CREATE INDEX records_list ON records (endpoint_id, environment, created_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX records_search ON records USING gin (search);

-- ---- call logs -------------------------------------------------------------

-- One row per gateway call past authentication (DOMAIN.md §3 says which).
-- Bodies are kept as text, at most 16 KB each (cut at a character boundary,
-- *_truncated set, *_bytes the original size): a body that is not JSON is
-- logged too (400 invalid_json), which jsonb could not hold.
CREATE TABLE call_logs (
  id                   uuid NOT NULL DEFAULT gen_random_uuid(),
  created_at           timestamptz NOT NULL DEFAULT now(),
  processed_at         timestamptz,
  account_id           uuid NOT NULL,
  endpoint_id          uuid NOT NULL,
  environment          text NOT NULL CHECK (environment IN ('sandbox', 'production')),
  method               text NOT NULL CHECK (method IN ('GET', 'POST', 'PUT', 'DELETE')),
  path_kind            text NOT NULL DEFAULT 'record' CHECK (path_kind IN ('list', 'record', 'search', 'create')),
  record_id            text,
  caller_kind          text NOT NULL CHECK (caller_kind IN ('owner', 'collaboration', 'mcp')),
  api_key_id           uuid,
  collaboration_key_id uuid,
  status_code          smallint NOT NULL,
  outcome              text NOT NULL CHECK (outcome IN ('success', 'failed')),
  error_code           text,
  error_message        text,
  latency_ms           integer NOT NULL DEFAULT 0,
  request_body         text,
  request_bytes        integer NOT NULL DEFAULT 0,
  request_truncated    boolean NOT NULL DEFAULT false,
  response_body        text,
  response_bytes       integer NOT NULL DEFAULT 0,
  response_truncated   boolean NOT NULL DEFAULT false,
  ip                   text,
  webhook_status       text CHECK (webhook_status IN ('pending', 'delivered', 'failed')),  -- NULL: none
  search               tsvector NOT NULL DEFAULT ''::tsvector,
  archive_id           uuid,
  archive_line         integer,
  PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE INDEX call_logs_endpoint ON call_logs (endpoint_id, environment, created_at DESC);
CREATE INDEX call_logs_account ON call_logs (account_id, created_at DESC);
CREATE INDEX call_logs_record ON call_logs (endpoint_id, record_id);
CREATE INDEX call_logs_collab ON call_logs (collaboration_key_id, created_at) WHERE collaboration_key_id IS NOT NULL;
CREATE INDEX call_logs_failed ON call_logs (account_id, created_at) WHERE outcome = 'failed';
CREATE INDEX call_logs_search ON call_logs USING gin (search);
CREATE INDEX call_logs_id ON call_logs (id);

-- Rows outside every monthly partition land here, so an insert never fails
-- for want of a partition; ensure_call_log_partitions moves them out.
CREATE TABLE call_logs_default PARTITION OF call_logs DEFAULT;

-- Creates the monthly partitions (call_logs_YYYYMM, UTC months) for the month
-- of p_now and the two after it. Safe to call often and from several
-- processes at once (an advisory lock serialises callers). Rows of a new
-- month already in the default partition are moved into it first, since
-- attaching a range that the default partition holds rows of would fail.
CREATE FUNCTION ensure_call_log_partitions(p_now timestamptz DEFAULT now()) RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  m     date := date_trunc('month', p_now AT TIME ZONE 'UTC')::date;
  lo    timestamptz;
  hi    timestamptz;
  part  text;
  made  integer := 0;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('call_logs_partitions'));
  FOR i IN 0..2 LOOP
    lo := ((m + make_interval(months => i))::timestamp AT TIME ZONE 'UTC');
    hi := ((m + make_interval(months => i + 1))::timestamp AT TIME ZONE 'UTC');
    part := 'call_logs_' || to_char(m + make_interval(months => i), 'YYYYMM');
    CONTINUE WHEN to_regclass(part) IS NOT NULL;
    EXECUTE format('CREATE TABLE %I (LIKE call_logs INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
    EXECUTE format('WITH moved AS (DELETE FROM call_logs_default WHERE created_at >= $1 AND created_at < $2 '
                   'RETURNING *) INSERT INTO %I SELECT * FROM moved', part) USING lo, hi;
    EXECUTE format('ALTER TABLE call_logs ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
    made := made + 1;
  END LOOP;
  RETURN made;
END $$;

SELECT ensure_call_log_partitions(now());

-- ---- usage and statistics --------------------------------------------------

-- 30-day billing periods anchored at the account's creation.
CREATE FUNCTION usage_period(p_created timestamptz, p_now timestamptz,
                             OUT period_start timestamptz, OUT period_end timestamptz)
  LANGUAGE sql STABLE AS $$
  SELECT p_created + n * interval '30 days', p_created + (n + 1) * interval '30 days'
    FROM (SELECT greatest(0, floor(extract(epoch FROM p_now - p_created) / 2592000))::int AS n) s
$$;

CREATE TABLE usage_counters (
  account_id    uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  period_start  timestamptz NOT NULL,
  period_end    timestamptz NOT NULL,
  calls         bigint NOT NULL DEFAULT 0,
  overage_calls bigint NOT NULL DEFAULT 0,
  alert80_at    timestamptz,
  alert100_at   timestamptz,
  PRIMARY KEY (account_id, period_start)
);

-- Daily rollups (UTC days) per endpoint, environment and key: a NULL
-- collaboration_key_id is the owner's row (owner key and MCP api_call).
-- cud_*: the writes (POST, PUT, DELETE) among them.
CREATE TABLE daily_stats (
  account_id           uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  endpoint_id          uuid NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
  environment          text NOT NULL CHECK (environment IN ('sandbox', 'production')),
  day                  date NOT NULL,
  collaboration_key_id uuid,
  calls                bigint NOT NULL DEFAULT 0,
  success              bigint NOT NULL DEFAULT 0,
  failed               bigint NOT NULL DEFAULT 0,
  latency_sum_ms       bigint NOT NULL DEFAULT 0,
  cud_calls            bigint NOT NULL DEFAULT 0,
  cud_latency_sum_ms   bigint NOT NULL DEFAULT 0,
  UNIQUE NULLS NOT DISTINCT (endpoint_id, environment, day, collaboration_key_id)
);
CREATE INDEX daily_stats_account_day ON daily_stats (account_id, day);

-- ---- webhooks and outboxes -------------------------------------------------

-- One row per endpoint and environment, created with the endpoint so that the
-- signing secret exists even before a URL is set (a per-request
-- X-Webhook-Callback is signed with it too). url NULL = no stored webhook.
CREATE TABLE webhooks (
  endpoint_id      uuid NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
  account_id       uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  environment      text NOT NULL CHECK (environment IN ('sandbox', 'production')),
  url              text CHECK (url IS NULL OR length(url) <= 2000),
  auth_header_name text CHECK (auth_header_name IS NULL OR length(auth_header_name) <= 100),
  auth_value_enc   bytea,
  secret_enc       bytea NOT NULL,   -- the signing secret (whsec_...), encrypted
  enabled          boolean NOT NULL DEFAULT false,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (endpoint_id, environment)
);

-- Outbox of webhook calls, written in the gateway's transaction after a
-- successful write; bin/jobs takes rows with FOR UPDATE SKIP LOCKED.
-- body is the exact text to POST (the signature covers these bytes);
-- auth_value_enc and secret_enc are encrypted like the keys.
CREATE TABLE webhook_deliveries (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id       uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  endpoint_id      uuid NOT NULL,
  environment      text NOT NULL CHECK (environment IN ('sandbox', 'production')),
  call_log_id      uuid NOT NULL,
  call_log_created_at timestamptz NOT NULL,   -- with call_log_id, the log row's key
  url              text NOT NULL,
  auth_header_name text,
  auth_value_enc   bytea,
  secret_enc       bytea NOT NULL,
  headers          jsonb NOT NULL DEFAULT '{}',   -- extra non-secret headers, name -> value
  body             text NOT NULL,
  attempt          integer NOT NULL DEFAULT 0,    -- attempts made so far
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  response_status  integer,
  response_snippet text,
  last_error       text,
  locked_at        timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  delivered_at     timestamptz
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (call_log_id);

-- Which events an account wants by e-mail; endpoint_id NULL = every endpoint.
CREATE TABLE notification_rules (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id  uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  endpoint_id uuid REFERENCES endpoints(id) ON DELETE CASCADE,
  event       text NOT NULL CHECK (event IN ('call_failed', 'webhook_failed', 'deployed', 'usage_80', 'usage_100')),
  enabled     boolean NOT NULL DEFAULT true,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE NULLS NOT DISTINCT (account_id, endpoint_id, event)
);

-- Outbox of e-mails to the account's address; bin/jobs sends them.
CREATE TABLE notifications (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id      uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  endpoint_id     uuid,
  kind            text NOT NULL CHECK (kind IN ('call_failed', 'webhook_failed', 'deployed', 'usage_80', 'usage_100')),
  subject         text NOT NULL,
  body            text NOT NULL,
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error      text,
  locked_at       timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  sent_at         timestamptz
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status = 'pending';

-- Cool-downs shared by every process: a notification keyed key (e.g.
-- 'call_failed:<endpoint id>') is not queued again before until.
CREATE TABLE notify_cooldowns (
  account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  key        text NOT NULL,
  until      timestamptz NOT NULL,
  PRIMARY KEY (account_id, key)
);

-- ---- helpers for the worker ------------------------------------------------

-- A timestamp parsed from caller input, or NULL if it does not parse (the
-- gateway's from/to), without aborting the transaction.
CREATE FUNCTION try_timestamptz(p text) RETURNS timestamptz LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN p::timestamptz;
EXCEPTION WHEN others THEN
  RETURN NULL;
END $$;

-- Resolving a gateway key happens before any account is known, so it runs as
-- the owner through this narrow function: it answers only for the key whose
-- hash the caller holds, with what the pipeline's steps 2-5 need.
CREATE FUNCTION resolve_api_key(p_hash bytea)
  RETURNS TABLE (api_key_id uuid, endpoint_id uuid, account_id uuid, slug text, environment text, kind text,
                 collaboration_key_id uuid, endpoint_active boolean, prod_version integer, key_active boolean,
                 collab_active boolean, can_create boolean, can_read boolean, can_update boolean,
                 can_delete boolean)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
  SELECT k.id, k.endpoint_id, k.account_id, e.slug, k.environment, k.kind, k.collaboration_key_id, e.active,
         e.prod_version, k.active, coalesce(c.active, true), coalesce(c.can_create, true),
         coalesce(c.can_read, true), coalesce(c.can_update, true), coalesce(c.can_delete, true)
    FROM api_keys k
    JOIN endpoints e ON e.id = k.endpoint_id AND e.deleted_at IS NULL
    JOIN accounts a ON a.id = k.account_id AND a.deleted_at IS NULL
    LEFT JOIN collaboration_keys c ON c.id = k.collaboration_key_id
   WHERE k.key_hash = p_hash
$$;

-- ---- row-level security ----------------------------------------------------

ALTER TABLE collaboration_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY collaboration_keys_tenant ON collaboration_keys USING (account_id = app_account_id());
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_keys_tenant ON api_keys USING (account_id = app_account_id());
ALTER TABLE records ENABLE ROW LEVEL SECURITY;
CREATE POLICY records_tenant ON records USING (account_id = app_account_id());
ALTER TABLE call_logs ENABLE ROW LEVEL SECURITY;
CREATE POLICY call_logs_tenant ON call_logs USING (account_id = app_account_id());
ALTER TABLE usage_counters ENABLE ROW LEVEL SECURITY;
CREATE POLICY usage_counters_tenant ON usage_counters USING (account_id = app_account_id());
ALTER TABLE daily_stats ENABLE ROW LEVEL SECURITY;
CREATE POLICY daily_stats_tenant ON daily_stats USING (account_id = app_account_id());
ALTER TABLE webhooks ENABLE ROW LEVEL SECURITY;
CREATE POLICY webhooks_tenant ON webhooks USING (account_id = app_account_id());
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
CREATE POLICY webhook_deliveries_tenant ON webhook_deliveries USING (account_id = app_account_id());
ALTER TABLE notification_rules ENABLE ROW LEVEL SECURITY;
CREATE POLICY notification_rules_tenant ON notification_rules USING (account_id = app_account_id());
ALTER TABLE notifications ENABLE ROW LEVEL SECURITY;
CREATE POLICY notifications_tenant ON notifications USING (account_id = app_account_id());
ALTER TABLE notify_cooldowns ENABLE ROW LEVEL SECURITY;
CREATE POLICY notify_cooldowns_tenant ON notify_cooldowns USING (account_id = app_account_id());

-- bin/jobs drains the outboxes of every account: its role sees all rows of
-- these tables (and nothing of records, keys or logs beyond webhook_status).
CREATE POLICY webhook_deliveries_jobs ON webhook_deliveries TO tm_jobs USING (true);
CREATE POLICY notifications_jobs ON notifications TO tm_jobs USING (true);
CREATE POLICY notification_rules_jobs ON notification_rules TO tm_jobs USING (true);
CREATE POLICY notify_cooldowns_jobs ON notify_cooldowns TO tm_jobs USING (true);
CREATE POLICY call_logs_jobs ON call_logs TO tm_jobs USING (true);
CREATE POLICY accounts_jobs ON accounts FOR SELECT TO tm_jobs USING (true);
CREATE POLICY endpoints_jobs ON endpoints FOR SELECT TO tm_jobs USING (true);
CREATE POLICY usage_counters_jobs ON usage_counters FOR SELECT TO tm_jobs USING (true);

-- ---- grants ----------------------------------------------------------------

REVOKE ALL ON FUNCTION resolve_api_key(bytea), ensure_call_log_partitions(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION resolve_api_key(bytea), ensure_call_log_partitions(timestamptz),
  usage_period(timestamptz, timestamptz), try_timestamptz(text) TO tm_worker, tm_jobs;
GRANT EXECUTE ON FUNCTION app_account_id() TO tm_jobs;
GRANT SELECT, INSERT, UPDATE ON collaboration_keys, api_keys, records, call_logs, usage_counters, daily_stats,
  webhooks, webhook_deliveries, notification_rules, notifications, notify_cooldowns TO tm_worker;
GRANT SELECT, UPDATE ON webhook_deliveries, notifications, notify_cooldowns TO tm_jobs;
GRANT INSERT ON notifications, notify_cooldowns TO tm_jobs;
GRANT SELECT ON notification_rules, accounts, endpoints, usage_counters TO tm_jobs;
GRANT SELECT, UPDATE (webhook_status) ON call_logs TO tm_jobs;
