-- Issue #14 (SQLite): the drop-in VXP endpoint keeps one gateway_docs row
-- per signature for its replay check, purged by age per gateway
-- (PurgeGatewayDocs). SQLite's TEXT gateway column needs no widening (MySQL
-- widens it to 64 here). Keep in step with ../mysql/0010_gateway_docs_wide.sql.
CREATE INDEX gateway_docs_created ON gateway_docs (gateway, created_at);
