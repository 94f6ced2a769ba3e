-- Issue #12, single sign-on (MariaDB/MySQL): the OpenID Connect provider's
-- applications, authorization requests and codes, tokens, signing keys
-- (sealed) and upstream logins (bus/sso). Codes and refresh tokens are
-- keyed by their SHA-256. Every statement is re-runnable. Keep in step
-- with ../sqlite/0017_sso.sql.

CREATE TABLE IF NOT EXISTS sso_records (
    kind       VARCHAR(16)  NOT NULL,
    id         VARCHAR(190) NOT NULL,
    subject    VARCHAR(64)  NOT NULL,
    client     VARCHAR(128) NOT NULL,
    data       MEDIUMBLOB   NOT NULL,
    created_at BIGINT       NOT NULL,
    expires_at BIGINT       NOT NULL,
    PRIMARY KEY (kind, id),
    KEY sso_records_subject (kind, subject),
    KEY sso_records_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
