-- Issue #10, delivery engine (MySQL/MariaDB): the heartbeat renews a claim's
-- lease by its token (UPDATE outbox … WHERE lease_token = ?). Without an
-- index that statement scanned — and, in InnoDB, locked — every row of the
-- outbox once per held claim; under load a renewal round outlasted a short
-- lease and other nodes took items still being delivered (fenced: the same
-- key again). An index only, so a node of the previous version runs on it
-- unchanged. Keep in step with ../sqlite/0018_outbox_lease.sql.
ALTER TABLE outbox ADD KEY outbox_lease (lease_token);
