-- 019_login_address_failures: failed sign-ins per client address.
--
-- On top of the per-account lockout (002_oauth.sql), an address with
-- LOGIN_ADDRESS_LIMIT (default 30) failed sign-ins within 15 minutes is
-- refused before any password hash is computed, until its failures are 15
-- minutes old; this slows one address that tries many accounts. The address
-- is the edge's client address (behind a reverse proxy: TRUSTED_PROXIES).
-- Unknown e-mails count too. A success does not clear an address's failures
-- (otherwise signing in to one's own account would reset the count). Rows
-- older than 15 minutes are deleted at each failure.
CREATE TABLE login_address_failures (
  ip inet        NOT NULL,
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_address_failures_ip_at ON login_address_failures (ip, at);
CREATE INDEX login_address_failures_at ON login_address_failures (at);
GRANT SELECT, INSERT, DELETE ON login_address_failures TO tm_worker;
