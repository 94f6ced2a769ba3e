-- Issue #13: no full scans on the hot path. The sweep that purges settled
-- exchanges (Settled: accepted, not purged, every recipient final) read
-- the whole exchanges table; this index serves its WHERE. An index only:
-- a node of the previous version runs on it unchanged. Keep in step with
-- ../mysql/0019_hot_indexes.sql.
CREATE INDEX exchanges_settled ON exchanges (status, purged_at, id);
