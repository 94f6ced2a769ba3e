-- Issue #8, keys at rest (MySQL/MariaDB): small facts about the installation
-- that every node and the CLI must agree on, such as the master key check
-- value (service.CheckMasterKey). A row is written once and never changed.
-- Keep in step with ../sqlite/0008_meta.sql.

CREATE TABLE IF NOT EXISTS meta (
    name       VARCHAR(64) NOT NULL PRIMARY KEY,
    value      BLOB        NOT NULL,
    created_at BIGINT      NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
