-- Foundation: accounts, MCP API keys, endpoints with per-environment
-- configurations, deploy history, and the idempotency record of applied
-- worker requests. Runs as the owner role; workers connect as tm_worker,
-- which is neither superuser nor owner, so the row-level security policies
-- below really apply to them.

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tm_worker') THEN
    CREATE ROLE tm_worker LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
  END IF;
END $$;

CREATE TABLE accounts (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email         text NOT NULL,
  password_hash text NOT NULL,
  plan          text NOT NULL DEFAULT 'free' CHECK (plan IN ('free', 'basic', 'pro', 'enterprise')),
  timezone      text NOT NULL DEFAULT 'UTC',
  verified      boolean NOT NULL DEFAULT false,
  created_at    timestamptz NOT NULL DEFAULT now(),
  deleted_at    timestamptz
);
CREATE UNIQUE INDEX accounts_email_key ON accounts (lower(email));

-- MCP API keys (tm_mcp_ + 32 random bytes, base64url). Only SHA-256 is stored.
CREATE TABLE mcp_api_keys (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id   uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name         text NOT NULL DEFAULT 'default',
  key_hash     bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
  prefix       text NOT NULL,              -- first characters, safe to show
  scopes       text[] NOT NULL DEFAULT ARRAY['read', 'write', 'execute'],
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at   timestamptz
);
CREATE INDEX mcp_api_keys_account ON mcp_api_keys (account_id);

CREATE TABLE endpoints (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id   uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
  slug         text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
  description  text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
  active       boolean NOT NULL DEFAULT true,
  prod_version integer NOT NULL DEFAULT 0,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  deleted_at   timestamptz
);
CREATE UNIQUE INDEX endpoints_account_name ON endpoints (account_id, lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX endpoints_account_created ON endpoints (account_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;

-- The sandbox row is the editable draft; the production row is the last
-- deployed snapshot (version = endpoints.prod_version, 0 = never deployed).
CREATE TABLE endpoint_configs (
  endpoint_id uuid NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
  account_id  uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  environment text NOT NULL CHECK (environment IN ('sandbox', 'production')),
  version     integer NOT NULL DEFAULT 0,
  fields      jsonb NOT NULL DEFAULT '[]',
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (endpoint_id, environment)
);

CREATE TABLE endpoint_deployments (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id  uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  endpoint_id uuid NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
  version     integer NOT NULL,
  snapshot    jsonb NOT NULL,
  diff        jsonb NOT NULL,
  note        text NOT NULL DEFAULT '',
  via         text NOT NULL CHECK (via IN ('mcp', 'dashboard', 'cli')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (endpoint_id, version)
);

-- nng delivers at least once: every write records its request id here in the
-- same transaction, and a repeated request returns the stored result.
CREATE TABLE applied_requests (
  request_id bytea PRIMARY KEY CHECK (length(request_id) = 16),
  account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name       text NOT NULL,
  ok         boolean,
  result     jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX applied_requests_created ON applied_requests (created_at);

-- Row-level security: the second wall behind every query's account filter.
-- The worker sets app.account_id per transaction (set_config(..., true)).
CREATE FUNCTION app_account_id() RETURNS uuid LANGUAGE sql STABLE AS
  $$ SELECT nullif(current_setting('app.account_id', true), '')::uuid $$;

ALTER TABLE accounts ENABLE ROW LEVEL SECURITY;
CREATE POLICY accounts_self ON accounts USING (id = app_account_id());
ALTER TABLE mcp_api_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY mcp_api_keys_tenant ON mcp_api_keys USING (account_id = app_account_id());
ALTER TABLE endpoints ENABLE ROW LEVEL SECURITY;
CREATE POLICY endpoints_tenant ON endpoints USING (account_id = app_account_id());
ALTER TABLE endpoint_configs ENABLE ROW LEVEL SECURITY;
CREATE POLICY endpoint_configs_tenant ON endpoint_configs USING (account_id = app_account_id());
ALTER TABLE endpoint_deployments ENABLE ROW LEVEL SECURITY;
CREATE POLICY endpoint_deployments_tenant ON endpoint_deployments USING (account_id = app_account_id());
ALTER TABLE applied_requests ENABLE ROW LEVEL SECURITY;
CREATE POLICY applied_requests_tenant ON applied_requests USING (account_id = app_account_id());

-- Slugs are global (the gateway URL has no account in it), so the uniqueness
-- check must see every account's slugs. This function answers only yes/no.
CREATE FUNCTION slug_taken(p_slug text) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS
  $$ SELECT EXISTS (SELECT 1 FROM endpoints WHERE slug = p_slug) $$;

-- Resolving an MCP API key happens before any account is known, so it runs
-- as the owner through this narrow function: it returns the key's account
-- and scopes and marks the key used (at most once a minute, to spare writes).
CREATE FUNCTION resolve_mcp_key(p_hash bytea)
  RETURNS TABLE (key_id uuid, account_id uuid, name text, scopes text[])
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  RETURN QUERY
    UPDATE mcp_api_keys k SET last_used_at = now()
     WHERE k.key_hash = p_hash AND k.revoked_at IS NULL
       AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute')
       AND EXISTS (SELECT 1 FROM accounts a WHERE a.id = k.account_id AND a.deleted_at IS NULL)
    RETURNING k.id, k.account_id, k.name, k.scopes;
  IF NOT FOUND THEN
    RETURN QUERY
      SELECT k.id, k.account_id, k.name, k.scopes FROM mcp_api_keys k
       JOIN accounts a ON a.id = k.account_id AND a.deleted_at IS NULL
       WHERE k.key_hash = p_hash AND k.revoked_at IS NULL;
  END IF;
END $$;

REVOKE ALL ON FUNCTION slug_taken(text), resolve_mcp_key(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION slug_taken(text), resolve_mcp_key(bytea), app_account_id() TO tm_worker;
GRANT SELECT ON accounts TO tm_worker;
GRANT SELECT ON mcp_api_keys TO tm_worker;
GRANT SELECT, INSERT, UPDATE ON endpoints, endpoint_configs, endpoint_deployments, applied_requests TO tm_worker;
