-- 007_plans: plans and subscriptions (DOMAIN.md §2, docs/PLANS.md).
--
-- Source of truth. subscriptions.plan_code is the account's plan; the
-- gateway's quota check and the subscription tool read it. accounts.plan
-- (from 001) stays as a mirror kept equal by a trigger, because account
-- creation (`3min account create --plan`) writes it: a new account's
-- subscription is created from it, and every later plan change goes to
-- subscriptions and is copied back. Nothing reads accounts.plan to decide.
--
-- Periods. The billing period is the 30-day period anchored at the
-- account's creation, computed by usage_period() of 004, the same one the
-- gateway counts usage_counters in. subscriptions.period_start/period_end
-- record the period current when the row was last written; readers compute
-- the current one with usage_period(accounts.created_at, now()).

CREATE TABLE plans (
  code              text PRIMARY KEY CHECK (code IN ('free', 'basic', 'pro', 'enterprise')),
  monthly_limit     bigint NOT NULL CHECK (monthly_limit > 0),   -- calls per 30-day period
  price_cents       integer NOT NULL CHECK (price_cents >= 0),   -- per period, USD
  hard_limit        boolean NOT NULL,                            -- true: calls past the limit get 402
  overage_micro_usd integer NOT NULL DEFAULT 0 CHECK (overage_micro_usd >= 0)   -- per call past the limit
);
INSERT INTO plans (code, monthly_limit, price_cents, hard_limit, overage_micro_usd) VALUES
  ('free',       1000,    0,     true,  0),
  ('basic',      30000,   1000,  true,  0),
  ('pro',        300000,  3000,  true,  0),
  ('enterprise', 1000000, 10000, false, 500);

CREATE TABLE subscriptions (
  account_id           uuid PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
  plan_code            text NOT NULL REFERENCES plans(code),
  status               text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'canceled', 'past_due')),
  period_start         timestamptz NOT NULL,
  period_end           timestamptz NOT NULL,
  provider             text NOT NULL DEFAULT 'manual' CHECK (provider IN ('manual', 'paddle')),
  provider_ref         text,
  cancel_at_period_end boolean NOT NULL DEFAULT false,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now()
);

-- Every account has a subscription: existing ones from their accounts.plan,
-- new ones from the trigger below.
INSERT INTO subscriptions (account_id, plan_code, period_start, period_end)
SELECT a.id, a.plan, p.period_start, p.period_end
  FROM accounts a CROSS JOIN LATERAL usage_period(a.created_at, now()) p;

-- SECURITY DEFINER: whoever may create an account gets its subscription
-- without needing rights on subscriptions.
CREATE FUNCTION subscriptions_for_new_account() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  INSERT INTO subscriptions (account_id, plan_code, period_start, period_end)
  SELECT NEW.id, NEW.plan, p.period_start, p.period_end FROM usage_period(NEW.created_at, now()) p
  ON CONFLICT (account_id) DO NOTHING;
  RETURN NULL;
END $$;
CREATE TRIGGER accounts_subscription AFTER INSERT ON accounts
  FOR EACH ROW EXECUTE FUNCTION subscriptions_for_new_account();

-- The mirror: a plan change in subscriptions is copied to accounts.plan.
CREATE FUNCTION subscriptions_mirror_plan() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  UPDATE accounts SET plan = NEW.plan_code WHERE id = NEW.account_id AND plan IS DISTINCT FROM NEW.plan_code;
  RETURN NULL;
END $$;
CREATE TRIGGER subscriptions_plan AFTER UPDATE OF plan_code ON subscriptions
  FOR EACH ROW EXECUTE FUNCTION subscriptions_mirror_plan();

REVOKE ALL ON FUNCTION subscriptions_for_new_account(), subscriptions_mirror_plan() FROM PUBLIC;

-- The worker reads plans (public prices) and its own account's subscription;
-- changing a plan is an operator's or the dashboard's action, never the worker's.
ALTER TABLE subscriptions ENABLE ROW LEVEL SECURITY;
CREATE POLICY subscriptions_tenant ON subscriptions USING (account_id = app_account_id());
CREATE POLICY subscriptions_jobs ON subscriptions FOR SELECT TO tm_jobs USING (true);
GRANT SELECT ON plans TO tm_worker, tm_jobs;
GRANT SELECT ON subscriptions TO tm_worker, tm_jobs;
