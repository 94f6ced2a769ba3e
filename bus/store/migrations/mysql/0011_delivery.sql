-- Issue #10, one delivery engine (MySQL/MariaDB): a claim of outbox items
-- carries a lease token, and only the holder of the current token may record
-- an outcome or extend the lease (fencing, bus/delivery). history keeps the
-- attempts of an item (JSON lines: time, node, error) so that a dead letter
-- shows why it died. Keep in step with ../sqlite/0011_delivery.sql.

-- One statement (MySQL 8 has no ADD COLUMN IF NOT EXISTS): atomic, so a
-- half-applied migration cannot happen.
ALTER TABLE outbox
    ADD COLUMN lease_token VARCHAR(64) NOT NULL DEFAULT '',
    ADD COLUMN history MEDIUMTEXT NOT NULL,
    ADD KEY outbox_claimed (claimed_by, status);
