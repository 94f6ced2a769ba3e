-- Issue #3, service access (MariaDB/MySQL): session keys (A1–A6), OAuth2
-- bearer tokens and the per-system switch for the legacy lgspaccesstoken
-- header. Keys and tokens are stored only as their SHA-256 (hex). Every
-- statement is re-runnable. Keep in step with ../sqlite/0003_sessions.sql.

CREATE TABLE IF NOT EXISTS sessions (
    id         VARCHAR(64)  NOT NULL PRIMARY KEY,
    key_hash   CHAR(64)     NOT NULL,
    source     VARCHAR(64)  NOT NULL,
    access_key VARCHAR(128) NOT NULL,
    service    VARCHAR(64)  NOT NULL,
    scope      VARCHAR(128) NOT NULL,
    created_at BIGINT       NOT NULL,
    expires_at BIGINT       NOT NULL,
    revoked_at BIGINT       NOT NULL,
    UNIQUE KEY sessions_key_hash (key_hash),
    KEY sessions_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS bearer_tokens (
    token_hash  CHAR(64)     NOT NULL PRIMARY KEY,
    system_code VARCHAR(64)  NOT NULL,
    access_key  VARCHAR(128) NOT NULL,
    created_at  BIGINT       NOT NULL,
    expires_at  BIGINT       NOT NULL,
    KEY bearer_tokens_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS legacy_token_systems (
    code       VARCHAR(64) NOT NULL PRIMARY KEY,
    enabled_at BIGINT      NOT NULL,
    CONSTRAINT legacy_token_systems_fk FOREIGN KEY (code) REFERENCES systems (code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
