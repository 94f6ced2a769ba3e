-- Issue #16: mutual TLS. A system may be bound to client certificates
-- (by fingerprint, or by issuing CA and subject); the bindings are a JSON
-- array on the system's row, read with it on every authentication. NULL or
-- empty: not bound (TEXT takes no literal default on MySQL 8). Additive
-- only, so a node of the previous version runs on it unchanged. Keep in
-- step with ../sqlite/0015_client_certs.sql.
ALTER TABLE systems ADD COLUMN client_certs MEDIUMTEXT NULL;
