-- Issue #8, identity of the sender inside packets (SQLite): the organ codes
-- a system may speak for in edXML packets besides its own identifier code
-- (a QLVB server serving several units, a gateway). Deny by default: a
-- system without rows speaks only for itself. Who added or removed a row,
-- and when, is in key_events (actions speaks_for_added/removed). Keep in
-- step with ../mysql/0006_organs.sql.

CREATE TABLE system_organs (
    system_code TEXT    NOT NULL,
    organ       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    created_by  TEXT    NOT NULL,
    PRIMARY KEY (system_code, organ)
);
