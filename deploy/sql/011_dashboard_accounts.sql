-- The web dashboard's accounts (docs/DASHBOARD.md): sign-up with e-mail
-- verification, password reset by e-mail, the sign-up rate limit, and the
-- audit log of actions taken in the dashboard.

-- Audit log: one row per dashboard action that changes something (every
-- destructive one), written in the same transaction as the action, so an
-- action without its row cannot commit. Tenant data: row-level security.
CREATE TABLE audit_log (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id  uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  at          timestamptz NOT NULL DEFAULT now(),
  action      text NOT NULL CHECK (length(action) BETWEEN 1 AND 64),
  target_type text CHECK (length(target_type) <= 64),
  target_id   text CHECK (length(target_id) <= 200),
  details     jsonb NOT NULL DEFAULT '{}',
  ip          text CHECK (length(ip) <= 64)
);
-- The audit page: newest first, keyset pagination by id.
CREATE INDEX audit_log_account ON audit_log (account_id, id DESC);
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_log_tenant ON audit_log USING (account_id = app_account_id());
GRANT SELECT, INSERT ON audit_log TO tm_worker;

-- Links mailed to an address: e-mail verification (24 hours) and password
-- reset (1 hour). Only the SHA-256 of the token is stored; a token is used
-- once. A verification token carries the password hash chosen at that
-- sign-up, which becomes the account's password when that link is used: if
-- someone signs up with an address that is not theirs, only the owner of the
-- mailbox can activate the account, and with the password of the sign-up
-- whose link they followed.
-- Like web_sessions (002_oauth.sql) these are read before any principal is
-- known, hold only hashes, and are granted to the worker role directly.
CREATE TABLE account_tokens (
  token_hash    bytea PRIMARY KEY CHECK (length(token_hash) = 32),
  account_id    uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  purpose       text NOT NULL CHECK (purpose IN ('verify', 'reset')),
  password_hash text CHECK (length(password_hash) <= 256),
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  used_at       timestamptz
);
CREATE INDEX account_tokens_account ON account_tokens (account_id, purpose);
GRANT SELECT, INSERT, UPDATE, DELETE ON account_tokens TO tm_worker;

-- Sign-up and reset e-mails sent per address (lower-cased), for the rate
-- limit: an address gets at most 3 such e-mails an hour, whoever asks.
CREATE TABLE account_mail_log (
  email text NOT NULL CHECK (length(email) <= 320),
  kind  text NOT NULL,
  ip    text,
  at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_mail_log_email ON account_mail_log (email, at);
CREATE INDEX account_mail_log_ip ON account_mail_log (ip, at);
GRANT SELECT, INSERT, DELETE ON account_mail_log TO tm_worker;

-- The e-mails themselves go through the notification outbox; recipient is
-- the account's address (NULL), which bin/jobs reads even while unverified.
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
  CHECK (kind IN ('call_failed', 'webhook_failed', 'deployed', 'usage_80', 'usage_100', 'invitation',
                  'verify_email', 'password_reset', 'signup_exists'));

-- Sign-up runs before any principal exists. Creates an unverified account
-- for a new address; for a taken one returns the existing account. Returns
-- (id, created, verified), or no row for the address of a deleted account
-- (which stays reserved: nothing is sent).
CREATE FUNCTION signup_account(p_email text, p_hash text)
  RETURNS TABLE (id uuid, created boolean, verified boolean)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  a accounts%ROWTYPE;
BEGIN
  SELECT * INTO a FROM accounts WHERE lower(email) = lower(p_email) AND deleted_at IS NULL;
  IF FOUND THEN
    RETURN QUERY SELECT a.id, false, a.verified; RETURN;
  END IF;
  BEGIN
    INSERT INTO accounts (email, password_hash, verified) VALUES (p_email, p_hash, false) RETURNING * INTO a;
  EXCEPTION WHEN unique_violation THEN
    -- A concurrent sign-up of the same address, or a deleted account's.
    SELECT * INTO a FROM accounts WHERE lower(email) = lower(p_email) AND deleted_at IS NULL;
    IF FOUND THEN
      RETURN QUERY SELECT a.id, false, a.verified;
    END IF;
    RETURN;
  END;
  RETURN QUERY SELECT a.id, true, false;
END $$;
REVOKE ALL ON FUNCTION signup_account(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION signup_account(text, text) TO tm_worker;

-- The dashboard changes an account's own password and verified flag under
-- row-level security (accounts_self): column grants, nothing else.
GRANT UPDATE (password_hash, verified) ON accounts TO tm_worker;
