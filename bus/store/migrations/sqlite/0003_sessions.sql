-- Issue #3, service access (SQLite): session keys (A1–A6), OAuth2 bearer
-- tokens and the per-system switch for the legacy lgspaccesstoken header.
-- Keys and tokens are stored only as their SHA-256 (hex). Keep in step with
-- ../mysql/0003_sessions.sql.

CREATE TABLE sessions (
    id         TEXT    NOT NULL PRIMARY KEY,
    key_hash   TEXT    NOT NULL UNIQUE,
    source     TEXT    NOT NULL,
    access_key TEXT    NOT NULL,
    service    TEXT    NOT NULL,
    scope      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE bearer_tokens (
    token_hash  TEXT    NOT NULL PRIMARY KEY,
    system_code TEXT    NOT NULL,
    access_key  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX bearer_tokens_expires ON bearer_tokens (expires_at);

CREATE TABLE legacy_token_systems (
    code       TEXT    NOT NULL PRIMARY KEY REFERENCES systems (code),
    enabled_at INTEGER NOT NULL
);
