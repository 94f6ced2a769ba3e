-- Issue #10, one delivery engine (SQLite): a claim of outbox items carries a
-- lease token, and only the holder of the current token may record an
-- outcome or extend the lease (fencing, bus/delivery). history keeps the
-- attempts of an item (JSON lines: time, node, error) so that a dead letter
-- shows why it died. Keep in step with ../mysql/0011_delivery.sql.

ALTER TABLE outbox ADD COLUMN lease_token TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN history TEXT NOT NULL DEFAULT '';
CREATE INDEX outbox_claimed ON outbox (claimed_by, status);
