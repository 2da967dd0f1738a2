-- The dashboard's Settings → AI Integration and Settings → Subscription
-- (docs/DASHBOARD.md): the worker role may now manage the account's own MCP
-- API keys and change its own plan, under row-level security and only
-- through the columns named here; plan changes are recorded.

-- MCP API keys. Creating and regenerating write only the SHA-256 of a key
-- the edge generated (the worker never sees the key text); renaming writes
-- the name; deleting sets revoked_at (the row stays for `3min mcp-key list`).
-- The tenant policy of 001 (USING, which also checks inserted rows) keeps
-- every statement to the account of app.account_id.
GRANT INSERT (account_id, name, key_hash, prefix, scopes) ON mcp_api_keys TO tm_worker;
GRANT UPDATE (name, key_hash, prefix, last_used_at, revoked_at) ON mcp_api_keys TO tm_worker;

-- Plans. The manual provider's change or cancellation takes effect at once:
-- the worker updates the account's own subscription row (tenant policy of
-- 007); the trigger of 007 mirrors plan_code to accounts.plan.
GRANT UPDATE (plan_code, status, period_start, period_end, cancel_at_period_end, updated_at)
  ON subscriptions TO tm_worker;

-- Plan history: one row per change of subscriptions.plan_code, whoever makes
-- it (the dashboard, or the operator's `3min account plan`), written by a
-- trigger so no path can change a plan without its row.
CREATE TABLE plan_changes (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id  uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  from_plan   text NOT NULL,
  to_plan     text NOT NULL,
  provider    text NOT NULL,
  -- 'dashboard' when app.account_id is set (a worker acting for the account),
  -- 'operator' otherwise (bin/3min, which connects as the owner).
  via         text NOT NULL CHECK (via IN ('dashboard', 'operator')),
  at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX plan_changes_account ON plan_changes (account_id, id DESC);
ALTER TABLE plan_changes ENABLE ROW LEVEL SECURITY;
CREATE POLICY plan_changes_tenant ON plan_changes USING (account_id = app_account_id());
GRANT SELECT ON plan_changes TO tm_worker;

CREATE FUNCTION subscriptions_record_change() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  INSERT INTO plan_changes (account_id, from_plan, to_plan, provider, via)
  VALUES (NEW.account_id, OLD.plan_code, NEW.plan_code, NEW.provider,
          CASE WHEN app_account_id() IS NULL THEN 'operator' ELSE 'dashboard' END);
  RETURN NULL;
END $$;
CREATE TRIGGER subscriptions_history AFTER UPDATE OF plan_code ON subscriptions
  FOR EACH ROW WHEN (OLD.plan_code IS DISTINCT FROM NEW.plan_code)
  EXECUTE FUNCTION subscriptions_record_change();
REVOKE ALL ON FUNCTION subscriptions_record_change() FROM PUBLIC;
