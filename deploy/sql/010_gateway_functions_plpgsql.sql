-- The two functions every gateway call runs, as PL/pgSQL so their plans are
-- cached per session. As LANGUAGE sql they were parsed and planned on every
-- call (a SECURITY DEFINER function is never inlined, nor is a set-returning
-- one with OUT parameters used in LATERAL): about a sixth of the database's
-- time per gateway POST in `make bench` (docs/BENCHMARKS.md). Same
-- signatures and results as in 004.

CREATE OR REPLACE FUNCTION usage_period(p_created timestamptz, p_now timestamptz,
                                        OUT period_start timestamptz, OUT period_end timestamptz)
  LANGUAGE plpgsql STABLE AS $$
DECLARE n integer := greatest(0, floor(extract(epoch FROM p_now - p_created) / 2592000))::int;
BEGIN
  period_start := p_created + n * interval '30 days';
  period_end := p_created + (n + 1) * interval '30 days';
END $$;

CREATE OR REPLACE FUNCTION resolve_api_key(p_hash bytea)
  RETURNS TABLE (api_key_id uuid, endpoint_id uuid, account_id uuid, slug text, environment text, kind text,
                 collaboration_key_id uuid, endpoint_active boolean, prod_version integer, key_active boolean,
                 collab_active boolean, can_create boolean, can_read boolean, can_update boolean,
                 can_delete boolean)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public AS $$
BEGIN
  RETURN QUERY
  SELECT k.id, k.endpoint_id, k.account_id, e.slug, k.environment, k.kind, k.collaboration_key_id, e.active,
         e.prod_version, k.active, coalesce(c.active, true), coalesce(c.can_create, true),
         coalesce(c.can_read, true), coalesce(c.can_update, true), coalesce(c.can_delete, true)
    FROM api_keys k
    JOIN endpoints e ON e.id = k.endpoint_id AND e.deleted_at IS NULL
    JOIN accounts a ON a.id = k.account_id AND a.deleted_at IS NULL
    LEFT JOIN collaboration_keys c ON c.id = k.collaboration_key_id
   WHERE k.key_hash = p_hash;
END $$;
