-- Issue #8: keys of LGSP-RSA-SHA256 registered before 0005 are public keys.
-- Its own migration so that 0005's DDL stays re-runnable on MySQL 8; the
-- UPDATE is idempotent (SQLite already did it in 0005). Keep the two
-- dialects in step.
UPDATE access_keys SET kind = 'public' WHERE alg = 'LGSP-RSA-SHA256';
