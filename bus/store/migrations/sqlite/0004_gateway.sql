-- Issue #5, national gateways (SQLite): job leases and last runs of
-- scheduled jobs shared by nodes (bus/schedule.Durable), and the documents
-- exchanged with a gateway (VXP document ids), so that a packet pulled twice
-- is delivered once. Keep in step with ../mysql/0004_gateway.sql.

CREATE TABLE job_leases (
    job         TEXT    NOT NULL PRIMARY KEY,
    node        TEXT    NOT NULL,
    lease_until INTEGER NOT NULL,
    last_run    INTEGER NOT NULL
);

CREATE TABLE gateway_docs (
    gateway     TEXT    NOT NULL,
    direction   TEXT    NOT NULL,
    doc_id      TEXT    NOT NULL,
    exchange_id TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    detail      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (gateway, direction, doc_id)
);
CREATE INDEX gateway_docs_exchange ON gateway_docs (exchange_id);
