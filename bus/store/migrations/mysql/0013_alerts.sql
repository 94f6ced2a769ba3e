-- Issue #11, alerts (MySQL/MariaDB): alerts that are firing, kept by the
-- node that holds the evaluation lease so that every node knows what was
-- sent and a "resolved" message goes out once. Keep in step with
-- ../sqlite/0013_alerts.sql.

CREATE TABLE IF NOT EXISTS alerts (
    alert_key  VARCHAR(190)  NOT NULL PRIMARY KEY,
    rule       VARCHAR(64)   NOT NULL,
    subject    VARCHAR(128)  NOT NULL,
    since      BIGINT        NOT NULL,
    last_sent  BIGINT        NOT NULL,
    detail     VARCHAR(512)  NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
