-- Applied request ids exist to answer a resent request (nng REQ resends
-- within seconds; REQUEST_DEADLINE_MS is 30 s by default). An hour later no
-- copy of a request can still arrive, so bin/jobs deletes older rows, in
-- bounded batches, through this function (the table has row-level security
-- per account, and jobs acts for none).
CREATE FUNCTION prune_applied_requests(p_older_than interval, p_batch integer)
  RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE n integer;
BEGIN
  DELETE FROM applied_requests WHERE request_id IN (
    SELECT request_id FROM applied_requests WHERE created_at < now() - p_older_than
     ORDER BY created_at LIMIT greatest(p_batch, 1));
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;
REVOKE ALL ON FUNCTION prune_applied_requests(interval, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION prune_applied_requests(interval, integer) TO tm_jobs;
