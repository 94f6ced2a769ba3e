-- Issue #13: no full scans on the hot path. The sweep that purges settled
-- exchanges (Settled: accepted, not purged, every recipient final) read
-- the whole exchanges table by its primary key; this index serves its
-- WHERE and, with the primary key InnoDB appends, its ORDER BY id.
-- TestMySQLHotQueriesUseIndexes checks every statement of the exchange
-- path with EXPLAIN. An index only: a node of the previous version runs
-- on it unchanged. Keep in step with ../sqlite/0019_hot_indexes.sql.
ALTER TABLE exchanges ADD KEY exchanges_settled (status, purged_at);
