-- OAuth 2.1 authorization server storage (docs/OAUTH.md): registered
-- clients, browser sessions of the sign-in page, the sign-in lockout,
-- grants (one live grant per account and client), authorization codes and
-- refresh-token families.
--
-- Access. Every operation on these tables runs before any principal exists
-- (registration, sign-in, the token endpoint), so row-level security keyed by
-- app.account_id cannot guard them. They are not tenant data and no tool
-- reads them: they hold only client metadata, timestamps and SHA-256 hashes
-- of secrets (client secrets, session tokens, codes, refresh tokens), never a
-- usable secret. The simpler safe option is therefore to grant the worker role
-- direct access to exactly these tables, and to leave every tenant table and
-- its policies untouched. The only tenant table sign-in needs is accounts;
-- the worker role still cannot read other accounts through it, and reaches
-- it only through the two narrow SECURITY DEFINER functions at the end.

-- Clients: registered by DCR (RFC 7591; client_id random) or known through a
-- Client ID Metadata Document (client_id = the document's https URL).
CREATE TABLE oauth_clients (
  client_id        text PRIMARY KEY CHECK (length(client_id) BETWEEN 1 AND 2000),
  secret_hash      bytea CHECK (secret_hash IS NULL OR length(secret_hash) = 32),
  client_name      text NOT NULL DEFAULT '' CHECK (length(client_name) <= 100),
  redirect_uris    text[] NOT NULL CHECK (cardinality(redirect_uris) BETWEEN 1 AND 10),
  token_endpoint_auth_method text NOT NULL
                   CHECK (token_endpoint_auth_method IN ('none', 'client_secret_post', 'client_secret_basic')),
  grant_types      text[] NOT NULL DEFAULT ARRAY['authorization_code'],
  response_types   text[] NOT NULL DEFAULT ARRAY['code'],
  scope            text NOT NULL DEFAULT 'read write execute',
  reg_type         text NOT NULL CHECK (reg_type IN ('dcr', 'cimd')),
  metadata         jsonb NOT NULL DEFAULT '{}',
  registered_ip    text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  last_authorized_at timestamptz,
  -- A confidential client has a secret, a public one has none.
  CHECK ((token_endpoint_auth_method = 'none') = (secret_hash IS NULL))
);
-- Registration rate limit per address (counted here, so it holds across edges).
CREATE INDEX oauth_clients_ip_created ON oauth_clients (registered_ip, created_at);
-- Pruning of registrations never authorized within 24 hours.
CREATE INDEX oauth_clients_unauthorized ON oauth_clients (created_at) WHERE last_authorized_at IS NULL;

-- Sessions of the sign-in page (cookie). Fixed lifetime of 12 hours from
-- sign-in, not sliding: the session only serves the authorize flow, so a
-- fixed bound limits what a stolen cookie is worth and costs users nothing.
CREATE TABLE web_sessions (
  token_hash  bytea PRIMARY KEY CHECK (length(token_hash) = 32),
  account_id  uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  csrf        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL DEFAULT now() + interval '12 hours',
  revoked_at  timestamptz
);
CREATE INDEX web_sessions_account ON web_sessions (account_id);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);

-- Sign-in lockout: 10 failed sign-ins for an account within 15 minutes lock
-- its sign-in for 15 minutes, whatever the client address (all of a
-- connector's traffic comes from one network, so addresses say nothing).
CREATE TABLE login_failures (
  account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_account_at ON login_failures (account_id, at);
CREATE TABLE login_lockouts (
  account_id   uuid PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
  locked_until timestamptz NOT NULL
);

-- What the user approved for a client. At most one live grant per (account,
-- client); a new authorization widens it. Revoking it stops its access tokens
-- (the edge polls revoked grant ids) and its refresh tokens.
CREATE TABLE oauth_grants (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id   uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  client_id    text NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
  scope        text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at   timestamptz
);
CREATE UNIQUE INDEX oauth_grants_live ON oauth_grants (account_id, client_id) WHERE revoked_at IS NULL;
CREATE INDEX oauth_grants_revoked ON oauth_grants (revoked_at) WHERE revoked_at IS NOT NULL;

-- Authorization codes: single use, 120 seconds, bound to everything the
-- token request must repeat.
CREATE TABLE oauth_codes (
  code_hash      bytea PRIMARY KEY CHECK (length(code_hash) = 32),
  grant_id       uuid NOT NULL REFERENCES oauth_grants(id) ON DELETE CASCADE,
  account_id     uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  client_id      text NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
  redirect_uri   text NOT NULL,
  code_challenge text NOT NULL,
  resource       text,
  scope          text NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  expires_at     timestamptz NOT NULL DEFAULT now() + interval '120 seconds',
  used_at        timestamptz,
  -- The request id (envelope id) that spent the code: nng REQ may deliver a
  -- token request twice, and the second copy must not count as reuse.
  used_by        bytea
);
CREATE INDEX oauth_codes_expires ON oauth_codes (expires_at);

-- Refresh tokens. A family is the chain of rotations of one code
-- redemption; reuse of a rotated token after the grace window revokes the
-- family. 30 days sliding: each rotation gets a fresh 30 days.
CREATE TABLE oauth_refresh_tokens (
  token_hash       bytea PRIMARY KEY CHECK (length(token_hash) = 32),
  family_id        uuid NOT NULL,
  grant_id         uuid NOT NULL REFERENCES oauth_grants(id) ON DELETE CASCADE,
  account_id       uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  client_id        text NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
  scope            text NOT NULL,
  resource         text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  expires_at       timestamptz NOT NULL DEFAULT now() + interval '30 days',
  rotated_at       timestamptz,
  replaced_by_hash bytea,
  revoked_at       timestamptz
);
CREATE INDEX oauth_refresh_tokens_family ON oauth_refresh_tokens (family_id);
CREATE INDEX oauth_refresh_tokens_grant ON oauth_refresh_tokens (grant_id);

-- Sign-in looks an account up by e-mail before any account is known. This
-- returns only what the password check needs, for one e-mail.
CREATE FUNCTION login_account(p_email text)
  RETURNS TABLE (id uuid, email text, password_hash text, verified boolean)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS
  $$ SELECT a.id, a.email, a.password_hash, a.verified FROM accounts a
      WHERE lower(a.email) = lower(p_email) AND a.deleted_at IS NULL $$;

-- The e-mail shown on the consent page, for a live account.
CREATE FUNCTION account_email(p_id uuid) RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS
  $$ SELECT a.email FROM accounts a WHERE a.id = p_id AND a.deleted_at IS NULL $$;

REVOKE ALL ON FUNCTION login_account(text), account_email(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION login_account(text), account_email(uuid) TO tm_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON oauth_clients, web_sessions, login_failures, login_lockouts,
  oauth_grants, oauth_codes, oauth_refresh_tokens TO tm_worker;
