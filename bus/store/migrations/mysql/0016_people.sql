-- Issue #12, people of the operators' console (MariaDB/MySQL): accounts
-- with roles and units (M2), their sessions (token stored as SHA-256 only)
-- and login lockouts per account and per address. Every statement is
-- re-runnable. Keep in step with ../sqlite/0016_people.sql.

CREATE TABLE IF NOT EXISTS people (
    id            BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
    login         VARCHAR(64)   NOT NULL,
    name          VARCHAR(255)  NOT NULL,
    email         VARCHAR(190)  NOT NULL,
    personal_id   VARCHAR(32)   NOT NULL,
    unit          VARCHAR(255)  NOT NULL,
    roles         VARCHAR(255)  NOT NULL,
    disabled      TINYINT       NOT NULL,
    password_hash VARCHAR(255)  NOT NULL,
    totp_secret   VARBINARY(255),
    totp_last     BIGINT        NOT NULL,
    created_at    BIGINT        NOT NULL,
    updated_at    BIGINT        NOT NULL,
    UNIQUE KEY people_login (login),
    KEY people_email (email),
    KEY people_personal_id (personal_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS console_sessions (
    token_hash CHAR(64)     NOT NULL PRIMARY KEY,
    person_id  BIGINT       NOT NULL,
    created_at BIGINT       NOT NULL,
    seen_at    BIGINT       NOT NULL,
    remote     VARCHAR(64)  NOT NULL,
    via        VARCHAR(128) NOT NULL,
    KEY console_sessions_person (person_id),
    KEY console_sessions_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS login_locks (
    lock_key     VARCHAR(190) NOT NULL PRIMARY KEY,
    failures     INT          NOT NULL,
    first_at     BIGINT       NOT NULL,
    last_at      BIGINT       NOT NULL,
    locked_until BIGINT       NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
