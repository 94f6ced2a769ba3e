-- LGSP store schema, version 1 (SQLite). Times are INTEGER unix
-- microseconds, 0 meaning "not set". Keep in step with ../mysql/0001_init.sql.

CREATE TABLE systems (
    code        TEXT    NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL,
    unit        TEXT    NOT NULL,
    contact     TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    webhook_url TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE access_keys (
    access_key  TEXT    NOT NULL PRIMARY KEY,
    system_code TEXT    NOT NULL REFERENCES systems (code),
    alg         TEXT    NOT NULL,
    secret_enc  BLOB    NOT NULL,
    status      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER NOT NULL
);
CREATE INDEX access_keys_system ON access_keys (system_code, created_at);

CREATE TABLE nonces (
    access_key TEXT    NOT NULL,
    nonce      TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (access_key, nonce)
) WITHOUT ROWID;
CREATE INDEX nonces_expires ON nonces (expires_at);

CREATE TABLE connections (
    id           TEXT    NOT NULL PRIMARY KEY,
    system_code  TEXT    NOT NULL,
    access_key   TEXT    NOT NULL,
    connected_at INTEGER NOT NULL,
    remote       TEXT    NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX connections_system ON connections (system_code, connected_at);

CREATE TABLE exchanges (
    id          TEXT    NOT NULL PRIMARY KEY,
    source      TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    importance  TEXT    NOT NULL,
    data_type   TEXT    NOT NULL,
    protocol    TEXT    NOT NULL,
    media_type  TEXT    NOT NULL,
    route       TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    max_bytes   INTEGER NOT NULL,
    received    INTEGER NOT NULL,
    size        INTEGER NOT NULL,
    sha256      TEXT    NOT NULL,
    policy      BLOB,
    wrapped_key BLOB,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    purged_at   INTEGER NOT NULL
);
CREATE INDEX exchanges_source ON exchanges (source, created_at);
CREATE INDEX exchanges_expiry ON exchanges (purged_at, expires_at);

CREATE TABLE recipients (
    exchange_id TEXT    NOT NULL REFERENCES exchanges (id),
    code        TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    status      TEXT    NOT NULL,
    due_at      INTEGER NOT NULL,
    notified_at INTEGER NOT NULL,
    ready_at    INTEGER NOT NULL,
    done_at     INTEGER NOT NULL,
    outcome     TEXT    NOT NULL,
    PRIMARY KEY (exchange_id, code)
);
CREATE INDEX recipients_due ON recipients (status, due_at);
CREATE INDEX recipients_inbox ON recipients (code, status, due_at);

CREATE TABLE chunks (
    exchange_id TEXT    NOT NULL REFERENCES exchanges (id),
    off         INTEGER NOT NULL,
    size        INTEGER NOT NULL,
    data        BLOB    NOT NULL,
    PRIMARY KEY (exchange_id, off)
);

CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    exchange_id TEXT    NOT NULL,
    occurred_at INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    recipient   TEXT    NOT NULL,
    detail      TEXT    NOT NULL,
    node        TEXT    NOT NULL
);
CREATE INDEX events_exchange ON events (exchange_id, id);

CREATE TABLE outbox (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT    NOT NULL,
    target        TEXT    NOT NULL,
    exchange_id   TEXT    NOT NULL,
    payload       BLOB    NOT NULL,
    due_at        INTEGER NOT NULL,
    first_at      INTEGER NOT NULL,
    attempts      INTEGER NOT NULL,
    last_error    TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    claimed_by    TEXT    NOT NULL,
    claimed_until INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox (status, due_at);
CREATE INDEX outbox_status ON outbox (status, id);
