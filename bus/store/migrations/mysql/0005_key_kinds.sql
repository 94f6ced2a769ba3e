-- Issue #8 (MySQL/MariaDB): the kind of an access key is part of the key.
-- A shared secret (HMAC) stays sealed in secret_enc; a public key
-- (LGSP-RSA-SHA256) moves to public_key, so that nothing that opens
-- secret_enc can ever get a public key. Keys of LGSP-RSA-SHA256 registered
-- before this migration keep their sealed public key in secret_enc until the
-- first node start opens it with the master key and moves it
-- (auth.UpgradeKeys). Keep in step with ../sqlite/0005_key_kinds.sql.

CREATE TABLE IF NOT EXISTS platform_keys (
    name        VARCHAR(64)  NOT NULL PRIMARY KEY,
    key_id      VARCHAR(128) NOT NULL,
    alg         VARCHAR(64)  NOT NULL,
    private_enc LONGBLOB     NOT NULL,
    public_key  BLOB         NOT NULL,
    created_at  BIGINT       NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- IF NOT EXISTS (MariaDB) makes a half-applied migration re-runnable; the
-- UPDATE is re-runnable as it is.
ALTER TABLE access_keys ADD COLUMN IF NOT EXISTS kind VARCHAR(16) NOT NULL DEFAULT 'shared';
ALTER TABLE access_keys ADD COLUMN IF NOT EXISTS public_key VARBINARY(8192) NOT NULL DEFAULT '';
UPDATE access_keys SET kind = 'public' WHERE alg = 'LGSP-RSA-SHA256';
