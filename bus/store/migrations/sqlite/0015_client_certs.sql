-- Issue #16: mutual TLS. A system may be bound to client certificates
-- (by fingerprint, or by issuing CA and subject); the bindings are a JSON
-- array on the system's row, read with it on every authentication. Empty:
-- not bound. Keep in step with ../mysql/0015_client_certs.sql.
ALTER TABLE systems ADD COLUMN client_certs TEXT NOT NULL DEFAULT '';
