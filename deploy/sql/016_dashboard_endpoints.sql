-- The dashboard's endpoint pages (docs/DASHBOARD.md, "APIs"): deleting an
-- endpoint.
--
-- The endpoint row itself is kept, marked deleted (deleted_at): its slug
-- stays taken, so its gateway URL can never come to serve another account;
-- its name is free again (endpoints_account_name is partial); and the rows
-- that only describe the past keep pointing at it: call logs (archived and
-- pruned by bin/jobs like any other), daily statistics, the deploy history
-- and the archive files, which stay listed and deletable on /archives. What
-- would let anyone reach or reuse the endpoint goes: its records, its owner
-- and collaboration keys (invitations and collaborators cascade), its
-- webhooks and their signing secrets, the webhook deliveries not yet sent
-- (bin/jobs would still send them) and its notification rules.
--
-- The worker role may not DELETE from those tables, so this runs as the
-- owner, acting only inside the account of the calling transaction
-- (app.account_id, which the worker sets from the signed-in session): an
-- endpoint of another account, or one already deleted, is "not found".
-- Returns how much went, or no row.
CREATE FUNCTION delete_endpoint(p_endpoint uuid)
  RETURNS TABLE (records bigint, keys bigint, collaboration_keys bigint)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  acct uuid := app_account_id();
  n_records bigint;
  n_keys bigint;
  n_collab bigint;
BEGIN
  IF acct IS NULL THEN
    RETURN;
  END IF;
  PERFORM 1 FROM endpoints e
   WHERE e.id = p_endpoint AND e.account_id = acct AND e.deleted_at IS NULL FOR UPDATE;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  UPDATE endpoints SET deleted_at = now(), active = false, updated_at = now()
   WHERE id = p_endpoint AND account_id = acct;
  DELETE FROM records r WHERE r.endpoint_id = p_endpoint AND r.account_id = acct;
  GET DIAGNOSTICS n_records = ROW_COUNT;
  DELETE FROM api_keys k WHERE k.endpoint_id = p_endpoint AND k.account_id = acct;
  GET DIAGNOSTICS n_keys = ROW_COUNT;
  DELETE FROM collaboration_keys c WHERE c.endpoint_id = p_endpoint AND c.account_id = acct;
  GET DIAGNOSTICS n_collab = ROW_COUNT;
  DELETE FROM webhooks w WHERE w.endpoint_id = p_endpoint AND w.account_id = acct;
  DELETE FROM webhook_deliveries d WHERE d.endpoint_id = p_endpoint AND d.account_id = acct AND d.status = 'pending';
  DELETE FROM notification_rules n WHERE n.endpoint_id = p_endpoint AND n.account_id = acct;
  RETURN QUERY SELECT n_records, n_keys, n_collab;
END $$;
REVOKE ALL ON FUNCTION delete_endpoint(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION delete_endpoint(uuid) TO tm_worker;
