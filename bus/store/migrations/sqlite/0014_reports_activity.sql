-- Issue #11, statistics and the activity log (SQLite). Keep in step with
-- ../mysql/0014_reports_activity.sql.
--
-- stats_daily: rollups kept as exchanges finish (Purge), one row per day
-- (Asia/Ho_Chi_Minh, yyyymmdd), system, route, data type and direction
-- ('out' for the sender, 'in' for a recipient). Metadata only: counts,
-- bytes and a histogram of request→confirmation times (h00..h21, bounds in
-- store.LatencyBounds). Reports read these rows, never the raw exchanges.
CREATE TABLE stats_daily (
    day         INTEGER NOT NULL,
    system_code TEXT    NOT NULL,
    unit        TEXT    NOT NULL,
    route       TEXT    NOT NULL,
    data_type   TEXT    NOT NULL,
    direction   TEXT    NOT NULL,
    docs        INTEGER NOT NULL,
    confirmed   INTEGER NOT NULL,
    failed      INTEGER NOT NULL,
    expired     INTEGER NOT NULL,
    bytes       INTEGER NOT NULL,
    h00 INTEGER NOT NULL DEFAULT 0, h01 INTEGER NOT NULL DEFAULT 0, h02 INTEGER NOT NULL DEFAULT 0,
    h03 INTEGER NOT NULL DEFAULT 0, h04 INTEGER NOT NULL DEFAULT 0, h05 INTEGER NOT NULL DEFAULT 0,
    h06 INTEGER NOT NULL DEFAULT 0, h07 INTEGER NOT NULL DEFAULT 0, h08 INTEGER NOT NULL DEFAULT 0,
    h09 INTEGER NOT NULL DEFAULT 0, h10 INTEGER NOT NULL DEFAULT 0, h11 INTEGER NOT NULL DEFAULT 0,
    h12 INTEGER NOT NULL DEFAULT 0, h13 INTEGER NOT NULL DEFAULT 0, h14 INTEGER NOT NULL DEFAULT 0,
    h15 INTEGER NOT NULL DEFAULT 0, h16 INTEGER NOT NULL DEFAULT 0, h17 INTEGER NOT NULL DEFAULT 0,
    h18 INTEGER NOT NULL DEFAULT 0, h19 INTEGER NOT NULL DEFAULT 0, h20 INTEGER NOT NULL DEFAULT 0,
    h21 INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, system_code, route, data_type, direction)
);

-- conn_daily: connection history per system and day (first, last, count).
CREATE TABLE conn_daily (
    day         INTEGER NOT NULL,
    system_code TEXT    NOT NULL,
    first_at    INTEGER NOT NULL,
    last_at     INTEGER NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (day, system_code)
);

-- activity_log: the append-only activity log (M5), one hash chain per
-- node: hash = SHA-256 of the entry and the previous hash (bus/activity).
CREATE TABLE activity_log (
    node        TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    system_code TEXT    NOT NULL,
    unit        TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    outcome     TEXT    NOT NULL,
    detail      TEXT    NOT NULL,
    event_id    INTEGER NOT NULL,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL,
    PRIMARY KEY (node, seq)
);
CREATE INDEX activity_log_unit ON activity_log (unit, at);
CREATE INDEX activity_log_at ON activity_log (at);

-- activity_checkpoints: the head of a node's chain signed by the node's
-- key (a platform key named "activity:<node>").
CREATE TABLE activity_checkpoints (
    node   TEXT    NOT NULL,
    seq    INTEGER NOT NULL,
    hash   TEXT    NOT NULL,
    at     INTEGER NOT NULL,
    key_id TEXT    NOT NULL,
    sig    BLOB    NOT NULL,
    PRIMARY KEY (node, seq)
);
