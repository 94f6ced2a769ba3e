-- Issue #8, identity of the sender inside packets (MySQL/MariaDB): the
-- organ codes a system may speak for in edXML packets besides its own
-- identifier code (a QLVB server serving several units, a gateway). Deny by
-- default: a system without rows speaks only for itself. Who added or
-- removed a row, and when, is in key_events (actions speaks_for_added/
-- removed). Keep in step with ../sqlite/0006_organs.sql.

CREATE TABLE IF NOT EXISTS system_organs (
    system_code VARCHAR(64)  NOT NULL,
    organ       VARCHAR(64)  NOT NULL,
    created_at  BIGINT       NOT NULL,
    created_by  VARCHAR(255) NOT NULL,
    PRIMARY KEY (system_code, organ)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
