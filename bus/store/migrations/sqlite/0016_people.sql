-- Issue #12, people of the operators' console (SQLite): accounts with
-- roles and units (M2), their sessions (token stored as SHA-256 only) and
-- login lockouts per account and per address. Keep in step with
-- ../mysql/0016_people.sql.

CREATE TABLE people (
    id            INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    login         TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL,
    email         TEXT    NOT NULL,
    personal_id   TEXT    NOT NULL,
    unit          TEXT    NOT NULL,
    roles         TEXT    NOT NULL,
    disabled      INTEGER NOT NULL,
    password_hash TEXT    NOT NULL,
    totp_secret   BLOB,
    totp_last     INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX people_email ON people (email);
CREATE INDEX people_personal_id ON people (personal_id);

CREATE TABLE console_sessions (
    token_hash TEXT    NOT NULL PRIMARY KEY,
    person_id  INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    seen_at    INTEGER NOT NULL,
    remote     TEXT    NOT NULL,
    via        TEXT    NOT NULL
) WITHOUT ROWID;
CREATE INDEX console_sessions_person ON console_sessions (person_id);
CREATE INDEX console_sessions_created ON console_sessions (created_at);

CREATE TABLE login_locks (
    lock_key     TEXT    NOT NULL PRIMARY KEY,
    failures     INTEGER NOT NULL,
    first_at     INTEGER NOT NULL,
    last_at      INTEGER NOT NULL,
    locked_until INTEGER NOT NULL
) WITHOUT ROWID;
