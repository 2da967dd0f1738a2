-- The dashboard's Archives and Profile pages (docs/DASHBOARD.md, "Archives"
-- and "Profile"): deleting an archive file, the account's time zone, and
-- deleting the account.

-- Deleting an archive file marks its row (deleted_at, which every query of
-- the archives already filters on) after the worker removed the files: the
-- row stays so that the log rows pointing at it can say their payload was
-- deleted, instead of looking as if they had never been archived.
GRANT UPDATE (deleted_at) ON archives TO tm_worker;

-- The time zone of the profile page (validated against pg_timezone_names
-- by the worker; logs_search and stats read it).
GRANT UPDATE (timezone) ON accounts TO tm_worker;

-- Deleting an account (profile page). Runs as the owner so that it reaches
-- every table holding the account's rows, whatever row-level security and
-- column grants say, but only for the account of app.account_id: a worker
-- can only delete the account it is acting for.
--
-- What remains afterwards, on purpose, and nothing else:
--  * the accounts row as a tombstone: its id, plan, created_at and
--    deleted_at; the e-mail becomes '<id>@deleted.invalid' (so the address
--    can sign up again), the password hash an unusable '!', time zone UTC;
--  * one audit_log row 'account.delete' with the counts of what was removed
--    and no client address (the tombstone audit row);
--  * the account's OAuth grants, marked revoked: access tokens are verified
--    by the edges without a database trip, and the edges learn of revoked
--    grants by polling oauth_grants.revoked_at (docs/OAUTH.md); a deleted
--    grant row would leave its access tokens valid until they expire. The
--    rows hold only ids, a client id, scopes and times;
--  * applied_requests rows written by this transaction (the deletion's own
--    idempotency row).
-- Every other row referencing the account (found through the catalog, so
-- tables added later are covered too) is deleted, with the rows hanging off
-- them by ON DELETE CASCADE. The account's mail rate-limit rows (keyed by
-- e-mail) go too. Files of archives are removed by the worker.
CREATE FUNCTION delete_account(p_id uuid) RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  a        accounts%ROWTYPE;
  r        record;
  n        bigint;
  counts   jsonb := '{}';
  pending  text[] := ARRAY[]::text[];
  retry    text[];
  pass     int := 0;
BEGIN
  IF p_id IS NULL OR p_id IS DISTINCT FROM app_account_id() THEN
    RAISE EXCEPTION 'delete_account: not the account of this transaction' USING ERRCODE = '42501';
  END IF;
  SELECT * INTO a FROM accounts WHERE id = p_id AND deleted_at IS NULL FOR UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;

  SELECT count(*) INTO n FROM endpoints WHERE account_id = p_id AND deleted_at IS NULL;
  counts := counts || jsonb_build_object('endpoints', n);
  SELECT count(*) INTO n FROM mcp_api_keys WHERE account_id = p_id AND revoked_at IS NULL;
  counts := counts || jsonb_build_object('mcp_keys', n);
  SELECT count(*) INTO n FROM archives WHERE account_id = p_id AND deleted_at IS NULL;
  counts := counts || jsonb_build_object('archives', n);

  UPDATE oauth_grants SET revoked_at = now() WHERE account_id = p_id AND revoked_at IS NULL;
  GET DIAGNOSTICS n = ROW_COUNT;
  counts := counts || jsonb_build_object('oauth_grants_revoked', n);

  -- Every single-column foreign key to accounts(id) (a partitioned table's
  -- partitions inherit its constraint: conparentid), and every uuid column
  -- named account_id without one (call_logs: partitioned, no foreign key
  -- on the hot path), once per table and column; partitions are reached
  -- through their parent.
  FOR r IN
    SELECT DISTINCT format('DELETE FROM %s WHERE %I = $1', t.rel::regclass, t.col) AS stmt
      FROM (SELECT c.conrelid AS rel, att.attname AS col
              FROM pg_constraint c
              JOIN pg_attribute att ON att.attrelid = c.conrelid AND att.attnum = c.conkey[1]
             WHERE c.contype = 'f' AND c.confrelid = 'public.accounts'::regclass AND cardinality(c.conkey) = 1
               AND c.conparentid = 0
            UNION
            SELECT cl.oid, att.attname
              FROM pg_class cl
              JOIN pg_namespace ns ON ns.oid = cl.relnamespace AND ns.nspname = 'public'
              JOIN pg_attribute att ON att.attrelid = cl.oid AND att.attname = 'account_id' AND NOT att.attisdropped
             WHERE cl.relkind IN ('r', 'p') AND NOT cl.relispartition AND att.atttypid = 'uuid'::regtype) t
     WHERE t.rel NOT IN ('public.accounts'::regclass, 'public.oauth_grants'::regclass,
                         'public.applied_requests'::regclass)
  LOOP
    pending := pending || r.stmt;
  END LOOP;
  -- All of these cascade among themselves today; a later RESTRICT between
  -- two of them is handled by retrying the refused table after the others.
  WHILE cardinality(pending) > 0 LOOP
    pass := pass + 1;
    retry := ARRAY[]::text[];
    FOR i IN 1 .. cardinality(pending) LOOP
      BEGIN
        EXECUTE pending[i] USING p_id;
      EXCEPTION WHEN foreign_key_violation THEN
        IF pass >= 5 THEN RAISE; END IF;
        retry := retry || pending[i];
      END;
    END LOOP;
    pending := retry;
  END LOOP;
  DELETE FROM applied_requests WHERE account_id = p_id AND created_at < now();
  DELETE FROM account_mail_log WHERE lower(email) = lower(a.email);

  UPDATE accounts SET email = p_id::text || '@deleted.invalid', password_hash = '!', timezone = 'UTC',
         verified = false, deleted_at = now()
   WHERE id = p_id;
  INSERT INTO audit_log (account_id, action, target_type, target_id, details, ip)
  VALUES (p_id, 'account.delete', 'account', p_id::text, counts, NULL);
  RETURN counts;
END $$;
REVOKE ALL ON FUNCTION delete_account(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION delete_account(uuid) TO tm_worker;

-- The account's call logs are most of its rows (they are kept, without
-- bodies, after archiving). delete_account would remove them in one
-- statement, which must fit STATEMENT_TIMEOUT_MS; the worker first calls
-- this once per monthly partition of call_logs (each call its own
-- statement, so each month of the account's logs gets the whole timeout),
-- then delete_account finds none left. A plain DELETE by account_id is the
-- fast way (about 300,000 rows a second here: nothing is written to the
-- indexes); deleting in LIMITed batches is several times slower. Same
-- account check as above; p_partition must be a partition of call_logs.
CREATE FUNCTION delete_account_call_logs(p_id uuid, p_partition regclass) RETURNS bigint
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  n bigint;
BEGIN
  IF p_id IS NULL OR p_id IS DISTINCT FROM app_account_id() THEN
    RAISE EXCEPTION 'delete_account_call_logs: not the account of this transaction' USING ERRCODE = '42501';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = p_partition AND inhparent = 'public.call_logs'::regclass) THEN
    RAISE EXCEPTION 'delete_account_call_logs: % is not a partition of call_logs', p_partition USING ERRCODE = '22023';
  END IF;
  EXECUTE format('DELETE FROM %s WHERE account_id = $1', p_partition) USING p_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;
REVOKE ALL ON FUNCTION delete_account_call_logs(uuid, regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION delete_account_call_logs(uuid, regclass) TO tm_worker;
