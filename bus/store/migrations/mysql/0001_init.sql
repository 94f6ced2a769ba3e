-- LGSP store schema, version 1 (MariaDB ≥ 10.6 / MySQL ≥ 8.0). Times are
-- BIGINT unix microseconds, 0 meaning "not set". Identifiers use the binary
-- collation so that codes, keys and nonces compare exactly, as in SQLite.
-- DDL commits implicitly on MySQL, so every statement is written to be
-- re-runnable after a half-applied migration. Keep in step with
-- ../sqlite/0001_init.sql.

CREATE TABLE IF NOT EXISTS systems (
    code        VARCHAR(64) NOT NULL PRIMARY KEY,
    name        TEXT        NOT NULL,
    unit        TEXT        NOT NULL,
    contact     TEXT        NOT NULL,
    status      VARCHAR(32) NOT NULL,
    webhook_url TEXT        NOT NULL,
    created_at  BIGINT      NOT NULL,
    updated_at  BIGINT      NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS access_keys (
    access_key  VARCHAR(128) NOT NULL PRIMARY KEY,
    system_code VARCHAR(64)  NOT NULL,
    alg         VARCHAR(64)  NOT NULL,
    secret_enc  LONGBLOB     NOT NULL,
    status      VARCHAR(32)  NOT NULL,
    created_at  BIGINT       NOT NULL,
    expires_at  BIGINT       NOT NULL,
    revoked_at  BIGINT       NOT NULL,
    KEY access_keys_system (system_code, created_at),
    CONSTRAINT access_keys_system_fk FOREIGN KEY (system_code) REFERENCES systems (code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS nonces (
    access_key VARCHAR(128) NOT NULL,
    nonce      VARCHAR(128) NOT NULL,
    expires_at BIGINT       NOT NULL,
    PRIMARY KEY (access_key, nonce),
    KEY nonces_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS connections (
    id           VARCHAR(64)  NOT NULL PRIMARY KEY,
    system_code  VARCHAR(64)  NOT NULL,
    access_key   VARCHAR(128) NOT NULL,
    connected_at BIGINT       NOT NULL,
    remote       TEXT         NOT NULL,
    expires_at   BIGINT       NOT NULL,
    KEY connections_system (system_code, connected_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS exchanges (
    id          VARCHAR(64)  NOT NULL PRIMARY KEY,
    source      VARCHAR(64)  NOT NULL,
    title       TEXT         NOT NULL,
    importance  VARCHAR(64)  NOT NULL,
    data_type   VARCHAR(255) NOT NULL,
    protocol    VARCHAR(64)  NOT NULL,
    media_type  VARCHAR(255) NOT NULL,
    route       VARCHAR(255) NOT NULL,
    status      VARCHAR(32)  NOT NULL,
    max_bytes   BIGINT       NOT NULL,
    received    BIGINT       NOT NULL,
    size        BIGINT       NOT NULL,
    sha256      VARCHAR(128) NOT NULL,
    policy      LONGBLOB     NULL,
    wrapped_key LONGBLOB     NULL,
    created_at  BIGINT       NOT NULL,
    updated_at  BIGINT       NOT NULL,
    expires_at  BIGINT       NOT NULL,
    purged_at   BIGINT       NOT NULL,
    KEY exchanges_source (source, created_at),
    KEY exchanges_expiry (purged_at, expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS recipients (
    exchange_id VARCHAR(64) NOT NULL,
    code        VARCHAR(64) NOT NULL,
    seq         INT         NOT NULL,
    status      VARCHAR(32) NOT NULL,
    due_at      BIGINT      NOT NULL,
    notified_at BIGINT      NOT NULL,
    ready_at    BIGINT      NOT NULL,
    done_at     BIGINT      NOT NULL,
    outcome     TEXT        NOT NULL,
    PRIMARY KEY (exchange_id, code),
    KEY recipients_due (status, due_at),
    KEY recipients_inbox (code, status, due_at),
    CONSTRAINT recipients_exchange_fk FOREIGN KEY (exchange_id) REFERENCES exchanges (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS chunks (
    exchange_id VARCHAR(64) NOT NULL,
    off         BIGINT      NOT NULL,
    size        BIGINT      NOT NULL,
    data        LONGBLOB    NOT NULL,
    PRIMARY KEY (exchange_id, off),
    CONSTRAINT chunks_exchange_fk FOREIGN KEY (exchange_id) REFERENCES exchanges (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS events (
    id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    exchange_id VARCHAR(64)  NOT NULL,
    occurred_at BIGINT       NOT NULL,
    kind        VARCHAR(64)  NOT NULL,
    actor       VARCHAR(64)  NOT NULL,
    recipient   VARCHAR(64)  NOT NULL,
    detail      TEXT         NOT NULL,
    node        VARCHAR(255) NOT NULL,
    KEY events_exchange (exchange_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS outbox (
    id            BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    kind          VARCHAR(64)  NOT NULL,
    target        VARCHAR(64)  NOT NULL,
    exchange_id   VARCHAR(64)  NOT NULL,
    payload       LONGBLOB     NOT NULL,
    due_at        BIGINT       NOT NULL,
    first_at      BIGINT       NOT NULL,
    attempts      INT          NOT NULL,
    last_error    TEXT         NOT NULL,
    status        VARCHAR(32)  NOT NULL,
    claimed_by    VARCHAR(255) NOT NULL,
    claimed_until BIGINT       NOT NULL,
    KEY outbox_due (status, due_at),
    KEY outbox_status (status, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
