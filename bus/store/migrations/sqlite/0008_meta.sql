-- Issue #8, keys at rest (SQLite): small facts about the installation that
-- every node and the CLI must agree on, such as the master key check value
-- (service.CheckMasterKey). A row is written once and never changed. Keep in
-- step with ../mysql/0008_meta.sql.

CREATE TABLE meta (
    name       TEXT    NOT NULL PRIMARY KEY,
    value      BLOB    NOT NULL,
    created_at INTEGER NOT NULL
);
