-- Issue #10, delivery engine (SQLite): the heartbeat renews a claim's lease
-- by its token (UPDATE outbox … WHERE lease_token = ?); an index so that it
-- does not scan the outbox once per held claim. An index only, so a node of
-- the previous version runs on it unchanged. Keep in step with
-- ../mysql/0018_outbox_lease.sql.
CREATE INDEX outbox_lease ON outbox (lease_token);
