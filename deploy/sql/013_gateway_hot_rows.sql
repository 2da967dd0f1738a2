-- Hot rows of the gateway: every logged call updates its account's usage
-- counter and its endpoint's daily statistics, and a sandbox call also its
-- endpoint's row (sandbox_test_calls). Each update leaves a new version of
-- the row on the same page (a HOT chain). PostgreSQL prunes a chain only
-- when the page's free space falls under max(10 %, 100 - fillfactor %), so on
-- a page with room to spare (a small table, the newest page) the chain grows
-- to dozens of versions, and every reader of the row walks all of them. On
-- endpoints it is worse: the foreign keys of the records and statistics
-- written by concurrent calls hold KEY SHARE locks on the same row, so each
-- version's xmax is a MultiXact whose members every visibility check looks up
-- (GetMultiXactIdMembers: 9 % of the machine's CPU in a gateway POST profile,
-- docs/BENCHMARKS.md).
--
-- A low fillfactor makes PostgreSQL prune these pages on almost every visit,
-- which keeps the chains a few versions long: the database's CPU per POST
-- fell by about 40 % in `make bench`. The price is space: inserts fill a
-- page only to the fillfactor. endpoints and usage_counters are small (one
-- row per endpoint, one per account and 30 days); daily_stats grows by a row
-- per endpoint, environment, key and day, so it gets 50 (at most twice its
-- size), which measured the same as 10.
ALTER TABLE endpoints SET (fillfactor = 10);
ALTER TABLE usage_counters SET (fillfactor = 10);
ALTER TABLE daily_stats SET (fillfactor = 50);
