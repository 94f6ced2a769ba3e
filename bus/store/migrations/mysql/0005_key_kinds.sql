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

-- Last, and one statement: MySQL 8 has no ADD COLUMN IF NOT EXISTS, so the
-- statements above are re-runnable and this one is atomic; a half-applied
-- migration is completed by running it again. The RSA rows are marked in
-- 0009 (an UPDATE after DDL could not be re-run here).
ALTER TABLE access_keys
    ADD COLUMN kind VARCHAR(16) NOT NULL DEFAULT 'shared',
    ADD COLUMN public_key VARBINARY(8192) NOT NULL DEFAULT '';
