-- 008_collaborators: invitations to a collaboration key and the collaborators
-- who accepted them (docs/DOMAIN.md §2). The inviting account owns both rows
-- (row-level security as on every tenant table); the invited person may have
-- another account, so accepting goes through one narrow SECURITY DEFINER
-- function that finds the invitation by its token hash only.

CREATE TABLE invitations (
  id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id           uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  collaboration_key_id uuid NOT NULL REFERENCES collaboration_keys(id) ON DELETE CASCADE,
  email                text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
  token_hash           bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
  status               text NOT NULL DEFAULT 'pending'
                         CHECK (status IN ('pending', 'accepted', 'expired', 'revoked')),
  invited_by           uuid,
  created_at           timestamptz NOT NULL DEFAULT now(),
  expires_at           timestamptz NOT NULL DEFAULT now() + interval '7 days',
  accepted_by          uuid,
  accepted_at          timestamptz
);
-- One pending invitation per key and address (addresses compared lower-case).
CREATE UNIQUE INDEX invitations_pending ON invitations (collaboration_key_id, lower(email))
  WHERE status = 'pending';
-- The 20-per-day limit counts an account's invitations of the last day.
CREATE INDEX invitations_account_day ON invitations (account_id, created_at);

CREATE TABLE collaborators (
  collaboration_key_id uuid NOT NULL REFERENCES collaboration_keys(id) ON DELETE CASCADE,
  account_id           uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,   -- the collaborator
  owner_account_id     uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,   -- the key's owner (tenancy)
  joined_at            timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (collaboration_key_id, account_id)
);

ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
CREATE POLICY invitations_tenant ON invitations USING (account_id = app_account_id());
ALTER TABLE collaborators ENABLE ROW LEVEL SECURITY;
CREATE POLICY collaborators_tenant ON collaborators USING (owner_account_id = app_account_id());

-- Invitation e-mails go through the notification outbox to the invited
-- address (recipient) rather than the account's own.
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
  CHECK (kind IN ('call_failed', 'webhook_failed', 'deployed', 'usage_80', 'usage_100', 'invitation'));
ALTER TABLE notifications ADD COLUMN recipient text CHECK (length(recipient) <= 254);

-- Accepts the invitation whose token hashes to p_hash for the signed-in
-- account p_account with address p_email. Returns one row: outcome
-- ('accepted', 'not_found', 'used', 'expired', 'wrong_account') and, when
-- accepted, the endpoint's name and the key's name. Locks the invitation so
-- two clicks accept once.
CREATE FUNCTION accept_invitation(p_hash bytea, p_account uuid, p_email text)
  RETURNS TABLE (outcome text, endpoint_name text, key_name text)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  inv invitations%ROWTYPE;
BEGIN
  SELECT * INTO inv FROM invitations WHERE token_hash = p_hash FOR UPDATE;
  IF NOT FOUND OR inv.status = 'revoked' THEN
    RETURN QUERY SELECT 'not_found'::text, NULL::text, NULL::text; RETURN;
  END IF;
  IF inv.status = 'accepted' THEN
    RETURN QUERY SELECT 'used'::text, NULL::text, NULL::text; RETURN;
  END IF;
  IF inv.status = 'expired' OR inv.expires_at <= now() THEN
    UPDATE invitations SET status = 'expired' WHERE id = inv.id AND status = 'pending';
    RETURN QUERY SELECT 'expired'::text, NULL::text, NULL::text; RETURN;
  END IF;
  IF lower(inv.email) <> lower(p_email) THEN
    RETURN QUERY SELECT 'wrong_account'::text, NULL::text, NULL::text; RETURN;
  END IF;
  UPDATE invitations SET status = 'accepted', accepted_by = p_account, accepted_at = now() WHERE id = inv.id;
  INSERT INTO collaborators (collaboration_key_id, account_id, owner_account_id)
    VALUES (inv.collaboration_key_id, p_account, inv.account_id)
    ON CONFLICT DO NOTHING;
  RETURN QUERY SELECT 'accepted'::text, e.name, c.name
    FROM collaboration_keys c JOIN endpoints e ON e.id = c.endpoint_id
   WHERE c.id = inv.collaboration_key_id;
END $$;
REVOKE ALL ON FUNCTION accept_invitation(bytea, uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION accept_invitation(bytea, uuid, text) TO tm_worker;

GRANT SELECT, INSERT, UPDATE ON invitations, collaborators TO tm_worker;
