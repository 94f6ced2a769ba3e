-- Issue #5, national gateways (MySQL/MariaDB): job leases and last runs of
-- scheduled jobs shared by nodes (bus/schedule.Durable), and the documents
-- exchanged with a gateway (VXP document ids), so that a packet pulled twice
-- is delivered once. Keep in step with ../sqlite/0004_gateway.sql.

CREATE TABLE IF NOT EXISTS job_leases (
    job         VARCHAR(128) NOT NULL PRIMARY KEY,
    node        VARCHAR(128) NOT NULL,
    lease_until BIGINT       NOT NULL,
    last_run    BIGINT       NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS gateway_docs (
    gateway     VARCHAR(32)  NOT NULL,
    direction   VARCHAR(8)   NOT NULL,
    doc_id      VARCHAR(191) NOT NULL,
    exchange_id VARCHAR(64)  NOT NULL,
    status      VARCHAR(32)  NOT NULL,
    detail      TEXT         NOT NULL,
    created_at  BIGINT       NOT NULL,
    updated_at  BIGINT       NOT NULL,
    PRIMARY KEY (gateway, direction, doc_id),
    KEY gateway_docs_exchange (exchange_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
