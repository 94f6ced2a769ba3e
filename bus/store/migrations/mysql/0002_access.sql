-- Issue #3, access control (MySQL/MariaDB): per-system signature
-- algorithms, grants (deny by default) and the audit record of key
-- operations. Keep in step with ../sqlite/0002_access.sql.

CREATE TABLE IF NOT EXISTS grants (
    id          VARCHAR(64)  NOT NULL PRIMARY KEY,
    kind        VARCHAR(16)  NOT NULL,
    source      VARCHAR(128) NOT NULL,
    destination VARCHAR(128) NOT NULL,
    data_type   VARCHAR(64)  NOT NULL,
    service     VARCHAR(128) NOT NULL,
    scope       VARCHAR(64)  NOT NULL,
    created_at  BIGINT       NOT NULL,
    created_by  VARCHAR(255) NOT NULL,
    revoked_at  BIGINT       NOT NULL,
    revoked_by  VARCHAR(255) NOT NULL,
    -- SHA-256 of the grant's terms while it is active, NULL once revoked:
    -- one active grant per terms, even with several nodes adding at once.
    active_key  CHAR(64)     NULL,
    UNIQUE KEY grants_active (active_key),
    KEY grants_kind (kind, revoked_at),
    KEY grants_source (source, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS key_events (
    id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    occurred_at BIGINT       NOT NULL,
    access_key  VARCHAR(128) NOT NULL,
    system_code VARCHAR(64)  NOT NULL,
    action      VARCHAR(32)  NOT NULL,
    actor       VARCHAR(255) NOT NULL,
    detail      TEXT         NOT NULL,
    KEY key_events_system (system_code, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Comma-separated algorithm names; '' means LGSP-HMAC-SHA256 only. Last,
-- because ADD COLUMN cannot be re-run on MySQL 8 (no IF NOT EXISTS there):
-- the statements above are re-runnable, so a half-applied migration is
-- completed by running it again.
ALTER TABLE systems ADD COLUMN algs VARCHAR(512) NOT NULL DEFAULT '';
