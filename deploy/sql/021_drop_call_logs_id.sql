-- call_logs_id, an index on (id) alone, repeated the leading column of the
-- primary key (id, created_at): every lookup by log id (logs_lookup, the
-- webhook and archive passes) is served by the primary key's index just as
-- well, while each logged call paid one more random B-tree insert into the
-- month's partition. docs/BENCHMARKS.md "The gateway POST" named it as the
-- next saving.
DROP INDEX IF EXISTS call_logs_id;
