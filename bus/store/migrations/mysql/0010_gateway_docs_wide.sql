-- Issue #14 (MySQL/MariaDB): the drop-in VXP endpoint names its
-- gateway_docs rows "vxpe/ref/" or "vxpe/ack/" + the caller's system code
-- (codes up to 35 characters: 44 in all), so the gateway column widens to
-- 64; and it keeps one row per signature for its replay check, purged by
-- age per gateway, hence the (gateway, created_at) index. One ALTER, so the
-- migration is atomic. Keep in step with ../sqlite/0010_gateway_docs_wide.sql.
ALTER TABLE gateway_docs
    MODIFY gateway VARCHAR(64) NOT NULL,
    ADD KEY gateway_docs_created (gateway, created_at);
