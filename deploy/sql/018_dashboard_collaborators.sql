-- 018_dashboard_collaborators: the dashboard's collaboration keys page
-- (docs/DASHBOARD.md, "Collaboration keys and invitations").
--
-- Deleting a collaboration key: the worker may delete a collaboration_keys
-- row of its own account (row-level security as for every other statement,
-- and the handler filters by account and endpoint besides). Its api_keys
-- rows (one per environment), invitations and collaborators go with it by
-- their ON DELETE CASCADE; call logs and daily statistics keep the key's id
-- as history (they have no foreign key to it).
GRANT DELETE ON collaboration_keys TO tm_worker;

-- What an invitation link is for, before anyone is signed in: the invited
-- address (to prefill the sign-up and sign-in forms), the endpoint's and the
-- key's names, and the state (pending, accepted, expired, revoked). Found by
-- the token's hash only, like accept_invitation; only the holder of the link,
-- which went to that address, can ask. No row for an unknown hash. A pending
-- invitation past its time is marked expired here, as accept_invitation does.
CREATE FUNCTION invitation_peek(p_hash bytea)
  RETURNS TABLE (email text, status text, endpoint_name text, key_name text)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  UPDATE invitations i SET status = 'expired'
   WHERE i.token_hash = p_hash AND i.status = 'pending' AND i.expires_at <= now();
  RETURN QUERY
  SELECT i.email, i.status, e.name, c.name
    FROM invitations i
    JOIN collaboration_keys c ON c.id = i.collaboration_key_id AND c.account_id = i.account_id
    JOIN endpoints e ON e.id = c.endpoint_id AND e.account_id = i.account_id AND e.deleted_at IS NULL
   WHERE i.token_hash = p_hash;
END $$;
REVOKE ALL ON FUNCTION invitation_peek(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION invitation_peek(bytea) TO tm_worker;
