-- Issue #12, single sign-on (SQLite): the OpenID Connect provider's
-- applications, authorization requests and codes, tokens, signing keys
-- (sealed) and upstream logins (bus/sso). Codes and refresh tokens are
-- keyed by their SHA-256. Keep in step with ../mysql/0017_sso.sql.

CREATE TABLE sso_records (
    kind       TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    client     TEXT    NOT NULL,
    data       BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;
CREATE INDEX sso_records_subject ON sso_records (kind, subject);
CREATE INDEX sso_records_expires ON sso_records (expires_at);
