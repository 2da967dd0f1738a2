-- Client ID Metadata Documents (docs/OAUTH.md): a client whose client_id is
-- the https URL of its metadata document is stored in oauth_clients like a
-- registered one (reg_type 'cimd'), with when the document was fetched and
-- until when that copy is fresh (its Cache-Control max-age, clamped to
-- 5 minutes..24 hours). A stale copy is still used when a new fetch fails.
ALTER TABLE oauth_clients
  ADD COLUMN cimd_fetched_at timestamptz,
  ADD COLUMN cimd_expires_at timestamptz;
