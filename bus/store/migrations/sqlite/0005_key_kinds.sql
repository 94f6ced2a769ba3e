-- Issue #8: the kind of an access key is part of the key. A shared secret
-- (HMAC) stays sealed in secret_enc; a public key (LGSP-RSA-SHA256) moves to
-- public_key, so that nothing that opens secret_enc can ever get a public
-- key. Keys of LGSP-RSA-SHA256 registered before this migration keep their
-- sealed public key in secret_enc until the first node start opens it with
-- the master key and moves it (auth.UpgradeKeys). Keep in step with
-- ../mysql/0005_key_kinds.sql.

ALTER TABLE access_keys ADD COLUMN kind TEXT NOT NULL DEFAULT 'shared';
ALTER TABLE access_keys ADD COLUMN public_key BLOB NOT NULL DEFAULT x'';
UPDATE access_keys SET kind = 'public' WHERE alg = 'LGSP-RSA-SHA256';

-- The platform's own signing keys (webhooks to systems without a shared
-- secret): the private key sealed by the master key, shared by all nodes.
CREATE TABLE platform_keys (
    name        TEXT    NOT NULL PRIMARY KEY,
    key_id      TEXT    NOT NULL,
    alg         TEXT    NOT NULL,
    private_enc BLOB    NOT NULL,
    public_key  BLOB    NOT NULL,
    created_at  INTEGER NOT NULL
);
