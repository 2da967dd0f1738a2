-- Indexes for logs_search (docs/GATEWAY.md, "Tools"). Its pages are keyset
-- pages on (created_at DESC, id DESC) within one account, optionally one
-- endpoint; with id in the index a page continues exactly where the last one
-- stopped (several calls share a created_at: it is the transaction's start)
-- and reads only the rows it returns. They replace the two indexes of 004
-- that they extend, so the gateway's insert keeps the same number of
-- indexes to maintain.
CREATE INDEX call_logs_account_recent ON call_logs (account_id, created_at DESC, id DESC);
CREATE INDEX call_logs_endpoint_recent ON call_logs (endpoint_id, created_at DESC, id DESC);
DROP INDEX call_logs_account;
DROP INDEX call_logs_endpoint;
