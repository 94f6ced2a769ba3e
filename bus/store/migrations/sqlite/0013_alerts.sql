-- Issue #11, alerts (SQLite): alerts that are firing, kept by the node that
-- holds the evaluation lease so that every node knows what was sent and a
-- "resolved" message goes out once. Keep in step with ../mysql/0013_alerts.sql.

CREATE TABLE alerts (
    alert_key  TEXT    NOT NULL PRIMARY KEY,
    rule       TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    since      INTEGER NOT NULL,
    last_sent  INTEGER NOT NULL,
    detail     TEXT    NOT NULL
);
