-- Daily archives of production call logs (DOMAIN.md §2 "Retention →
-- archives"): bin/jobs writes each endpoint's production logs of one UTC day
-- older than RETENTION_DAYS into <ARCHIVE_DIR>/<account>/<endpoint>/<day>.jsonl.gz
-- and .csv, records them here, points the log rows at their line
-- (call_logs.archive_id, archive_line, from 004) and nulls their bodies, all
-- in one transaction. Paths are relative to ARCHIVE_DIR.

CREATE TABLE archives (
  id           uuid PRIMARY KEY,
  account_id   uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  endpoint_id  uuid NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
  day          date NOT NULL,             -- a UTC day
  record_count integer NOT NULL CHECK (record_count > 0),
  jsonl_path   text NOT NULL,
  jsonl_bytes  bigint NOT NULL,
  jsonl_sha256 text NOT NULL CHECK (jsonl_sha256 ~ '^[0-9a-f]{64}$'),
  csv_path     text NOT NULL,
  csv_bytes    bigint NOT NULL,
  csv_sha256   text NOT NULL CHECK (csv_sha256 ~ '^[0-9a-f]{64}$'),
  created_at   timestamptz NOT NULL DEFAULT now(),
  deleted_at   timestamptz,
  UNIQUE (endpoint_id, day)               -- a rerun after a crash can never archive a day twice
);
CREATE INDEX archives_account_day ON archives (account_id, day DESC, id);

-- The archive pass looks for unarchived production rows by age.
CREATE INDEX call_logs_unarchived ON call_logs (created_at) WHERE archive_id IS NULL AND environment = 'production';

ALTER TABLE archives ENABLE ROW LEVEL SECURITY;
CREATE POLICY archives_tenant ON archives USING (account_id = app_account_id());
CREATE POLICY archives_jobs ON archives TO tm_jobs USING (true);
-- Sandbox retention deletes old sandbox records too.
CREATE POLICY records_jobs ON records TO tm_jobs USING (true);

GRANT SELECT ON archives TO tm_worker;
GRANT SELECT, INSERT ON archives TO tm_jobs;
GRANT UPDATE (archive_id, archive_line, request_body, response_body) ON call_logs TO tm_jobs;
GRANT DELETE ON call_logs TO tm_jobs;
GRANT SELECT, DELETE ON records TO tm_jobs;
