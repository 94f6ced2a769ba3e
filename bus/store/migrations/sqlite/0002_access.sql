-- Issue #3, access control (SQLite): per-system signature algorithms, grants
-- (deny by default) and the audit record of key operations. Keep in step
-- with ../mysql/0002_access.sql.

-- Comma-separated algorithm names; '' means LGSP-HMAC-SHA256 only.
ALTER TABLE systems ADD COLUMN algs TEXT NOT NULL DEFAULT '';

CREATE TABLE grants (
    id          TEXT    NOT NULL PRIMARY KEY,
    kind        TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    destination TEXT    NOT NULL,
    data_type   TEXT    NOT NULL,
    service     TEXT    NOT NULL,
    scope       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    created_by  TEXT    NOT NULL,
    revoked_at  INTEGER NOT NULL,
    revoked_by  TEXT    NOT NULL,
    -- SHA-256 of the grant's terms while it is active, NULL once revoked:
    -- one active grant per terms, even with several nodes adding at once.
    active_key  TEXT    UNIQUE
);
CREATE INDEX grants_kind ON grants (kind, revoked_at);
CREATE INDEX grants_source ON grants (source, created_at);

CREATE TABLE key_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    occurred_at INTEGER NOT NULL,
    access_key  TEXT    NOT NULL,
    system_code TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    detail      TEXT    NOT NULL
);
CREATE INDEX key_events_system ON key_events (system_code, id);
