-- Issue #11, statistics and the activity log (MySQL/MariaDB). Keep in step
-- with ../sqlite/0014_reports_activity.sql. Re-runnable DDL.
--
-- stats_daily: rollups kept as exchanges finish (Purge), one row per day
-- (Asia/Ho_Chi_Minh, yyyymmdd), system, route, data type and direction
-- ('out' for the sender, 'in' for a recipient). Metadata only: counts,
-- bytes and a histogram of request→confirmation times (h00..h21, bounds in
-- store.LatencyBounds). Reports read these rows, never the raw exchanges.
CREATE TABLE IF NOT EXISTS stats_daily (
    day         BIGINT NOT NULL,
    system_code VARCHAR(64) NOT NULL,
    unit        VARCHAR(255) NOT NULL,
    route       VARCHAR(255) NOT NULL,
    data_type   VARCHAR(255) NOT NULL,
    direction   VARCHAR(8) NOT NULL,
    docs        BIGINT NOT NULL,
    confirmed   BIGINT NOT NULL,
    failed      BIGINT NOT NULL,
    expired     BIGINT NOT NULL,
    bytes       BIGINT NOT NULL,
    h00 BIGINT NOT NULL DEFAULT 0, h01 BIGINT NOT NULL DEFAULT 0, h02 BIGINT NOT NULL DEFAULT 0,
    h03 BIGINT NOT NULL DEFAULT 0, h04 BIGINT NOT NULL DEFAULT 0, h05 BIGINT NOT NULL DEFAULT 0,
    h06 BIGINT NOT NULL DEFAULT 0, h07 BIGINT NOT NULL DEFAULT 0, h08 BIGINT NOT NULL DEFAULT 0,
    h09 BIGINT NOT NULL DEFAULT 0, h10 BIGINT NOT NULL DEFAULT 0, h11 BIGINT NOT NULL DEFAULT 0,
    h12 BIGINT NOT NULL DEFAULT 0, h13 BIGINT NOT NULL DEFAULT 0, h14 BIGINT NOT NULL DEFAULT 0,
    h15 BIGINT NOT NULL DEFAULT 0, h16 BIGINT NOT NULL DEFAULT 0, h17 BIGINT NOT NULL DEFAULT 0,
    h18 BIGINT NOT NULL DEFAULT 0, h19 BIGINT NOT NULL DEFAULT 0, h20 BIGINT NOT NULL DEFAULT 0,
    h21 BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, system_code, route, data_type, direction)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- conn_daily: connection history per system and day (first, last, count).
CREATE TABLE IF NOT EXISTS conn_daily (
    day         BIGINT NOT NULL,
    system_code VARCHAR(64) NOT NULL,
    first_at    BIGINT NOT NULL,
    last_at     BIGINT NOT NULL,
    n           BIGINT NOT NULL,
    PRIMARY KEY (day, system_code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- activity_log: the append-only activity log (M5), one hash chain per
-- node: hash = SHA-256 of the entry and the previous hash (bus/activity).
CREATE TABLE IF NOT EXISTS activity_log (
    node        VARCHAR(64) NOT NULL,
    seq         BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    kind        VARCHAR(64) NOT NULL,
    actor       VARCHAR(255) NOT NULL,
    system_code VARCHAR(64) NOT NULL,
    unit        VARCHAR(255) NOT NULL,
    subject     VARCHAR(255) NOT NULL,
    outcome     VARCHAR(255) NOT NULL,
    detail      TEXT    NOT NULL,
    event_id    BIGINT NOT NULL,
    prev_hash   CHAR(64) NOT NULL,
    hash        CHAR(64) NOT NULL,
    PRIMARY KEY (node, seq),
    KEY activity_log_unit (unit, at),
    KEY activity_log_at (at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- activity_checkpoints: the head of a node's chain signed by the node's
-- key (a platform key named "activity:<node>").
CREATE TABLE IF NOT EXISTS activity_checkpoints (
    node   VARCHAR(64) NOT NULL,
    seq    BIGINT NOT NULL,
    hash   CHAR(64) NOT NULL,
    at     BIGINT NOT NULL,
    key_id VARCHAR(64) NOT NULL,
    sig    BLOB    NOT NULL,
    PRIMARY KEY (node, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
