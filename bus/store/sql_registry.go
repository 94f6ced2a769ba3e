package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tuyenquang/lgsp/bus"
)

// ---- Systems (registry, R7) ----

const systemCols = "code, name, unit, contact, status, webhook_url, created_at, updated_at, algs, client_certs"

func scanSystem(sc interface{ Scan(...any) error }) (System, error) {
	var s System
	var c, u int64
	var algs string
	var certs sql.NullString
	err := sc.Scan(&s.Code, &s.Name, &s.Unit, &s.Contact, &s.Status, &s.WebhookURL, &c, &u, &algs, &certs)
	s.CreatedAt, s.UpdatedAt = fromMicros(c), fromMicros(u)
	s.Algs = splitAlgs(algs)
	if err == nil {
		s.ClientCerts, err = splitClientCerts(certs.String)
	}
	return s, err
}

func (s *sqlStore) CreateSystem(ctx context.Context, sys System) error {
	sys.CreatedAt = orNow(sys.CreatedAt)
	if sys.UpdatedAt.IsZero() {
		sys.UpdatedAt = sys.CreatedAt
	}
	if sys.Status == "" {
		sys.Status = SystemActive
	}
	certs, err := joinClientCerts(sys.ClientCerts)
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, "INSERT INTO systems ("+systemCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		sys.Code, sys.Name, sys.Unit, sys.Contact, sys.Status, sys.WebhookURL, micros(sys.CreatedAt), micros(sys.UpdatedAt), joinAlgs(sys.Algs), certs)
	if s.d.isDuplicate(err) {
		return bus.ErrSystemExists.New("%s", sys.Code)
	}
	if err != nil {
		return fmt.Errorf("inserting system %s: %w", sys.Code, err)
	}
	return nil
}

func (s *sqlStore) GetSystem(ctx context.Context, code string) (System, error) {
	sys, err := scanSystem(s.queryRow(ctx, "SELECT "+systemCols+" FROM systems WHERE code = ?", code))
	if errors.Is(err, sql.ErrNoRows) {
		return System{}, bus.ErrSystemNotFound.New("%s", code)
	}
	if err != nil {
		return System{}, fmt.Errorf("reading system %s: %w", code, err)
	}
	return sys, nil
}

func (s *sqlStore) ListSystems(ctx context.Context) ([]System, error) {
	rows, err := s.query(ctx, "SELECT "+systemCols+" FROM systems ORDER BY code")
	if err != nil {
		return nil, fmt.Errorf("listing systems: %w", err)
	}
	out, err := collect(rows, scanSystem)
	if err != nil {
		return nil, fmt.Errorf("listing systems: %w", err)
	}
	return out, nil
}

func (s *sqlStore) UpdateSystem(ctx context.Context, sys System) error {
	res, err := s.exec(ctx, "UPDATE systems SET name = ?, unit = ?, contact = ?, status = ?, webhook_url = ?, updated_at = ? WHERE code = ?",
		sys.Name, sys.Unit, sys.Contact, sys.Status, sys.WebhookURL, micros(orNow(sys.UpdatedAt)), sys.Code)
	if err != nil {
		return fmt.Errorf("updating system %s: %w", sys.Code, err)
	}
	// MySQL connections use CLIENT_FOUND_ROWS: matched rows, not changed ones.
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("updating system %s: %w", sys.Code, err)
	} else if n == 0 {
		return bus.ErrSystemNotFound.New("%s", sys.Code)
	}
	return nil
}

// ---- Keys ----

const keyCols = "access_key, system_code, alg, kind, secret_enc, public_key, status, created_at, expires_at, revoked_at"

func scanKey(sc interface{ Scan(...any) error }) (Key, error) {
	var k Key
	var c, e, r int64
	err := sc.Scan(&k.AccessKey, &k.SystemCode, &k.Alg, &k.Kind, &k.SecretEnc, &k.PublicKey, &k.Status, &c, &e, &r)
	k.CreatedAt, k.ExpiresAt, k.RevokedAt = fromMicros(c), fromMicros(e), fromMicros(r)
	return k, err
}

// normalKey fills the defaults of a new key and refuses one whose key
// material does not match its kind: a public key never goes in the column
// of shared secrets, nor a secret in the column of public keys.
func normalKey(k *Key) error {
	k.CreatedAt = orNow(k.CreatedAt)
	if k.Status == "" {
		k.Status = KeyActive
	}
	if k.Kind == "" {
		k.Kind = KeyShared
	}
	switch {
	case k.Kind == KeyShared && (len(k.SecretEnc) == 0 || len(k.PublicKey) != 0):
		return bus.ErrBadRequest.New("key %s of kind %s needs a sealed secret and no public key", k.AccessKey, k.Kind)
	case k.Kind == KeyPublic && (len(k.PublicKey) == 0 || len(k.SecretEnc) != 0):
		return bus.ErrBadRequest.New("key %s of kind %s needs a public key and no secret", k.AccessKey, k.Kind)
	case k.Kind != KeyShared && k.Kind != KeyPublic:
		return bus.ErrBadRequest.New("key %s: unknown kind %q", k.AccessKey, k.Kind)
	}
	if k.SecretEnc == nil {
		k.SecretEnc = []byte{}
	}
	if k.PublicKey == nil {
		k.PublicKey = []byte{}
	}
	return nil
}

// insertKey inserts a key normalKey accepted.
func insertKey(ctx context.Context, tx *txx, k Key) error {
	if _, err := tx.ExecContext(ctx, "INSERT INTO access_keys ("+keyCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		k.AccessKey, k.SystemCode, k.Alg, k.Kind, k.SecretEnc, k.PublicKey, k.Status, micros(k.CreatedAt), micros(k.ExpiresAt), micros(k.RevokedAt)); err != nil {
		return fmt.Errorf("inserting key %s: %w", k.AccessKey, err)
	}
	return nil
}

func (s *sqlStore) CreateKey(ctx context.Context, k Key) error {
	if err := normalKey(&k); err != nil {
		return err
	}
	return s.write(ctx, func(tx *txx) error {
		var one int
		err := tx.QueryRowContext(ctx, "SELECT 1 FROM systems WHERE code = ?"+s.d.forShare, k.SystemCode).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return bus.ErrSystemNotFound.New("%s", k.SystemCode)
		}
		if err != nil {
			return fmt.Errorf("reading system %s of key %s: %w", k.SystemCode, k.AccessKey, err)
		}
		return insertKey(ctx, tx, k)
	})
}

func (s *sqlStore) MoveLegacyPublicKey(ctx context.Context, accessKey string, pemBytes []byte) error {
	if len(pemBytes) == 0 {
		return bus.ErrBadRequest.New("key %s: empty public key", accessKey)
	}
	return s.write(ctx, func(tx *txx) error {
		var n int
		err := tx.QueryRowContext(ctx, "SELECT 1 FROM access_keys WHERE access_key = ?"+s.d.forUpdate, accessKey).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			return bus.ErrKeyNotFound.New("%s", accessKey)
		}
		if err != nil {
			return fmt.Errorf("reading key %s: %w", accessKey, err)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE access_keys SET public_key = ?, secret_enc = ? WHERE access_key = ? AND kind = ? AND LENGTH(public_key) = 0",
			pemBytes, []byte{}, accessKey, KeyPublic); err != nil {
			return fmt.Errorf("moving the public key of %s: %w", accessKey, err)
		}
		return nil
	})
}

func (s *sqlStore) GetKey(ctx context.Context, accessKey string) (Key, error) {
	k, err := scanKey(s.queryRow(ctx, "SELECT "+keyCols+" FROM access_keys WHERE access_key = ?", accessKey))
	if errors.Is(err, sql.ErrNoRows) {
		return Key{}, bus.ErrKeyNotFound.New("%s", accessKey)
	}
	if err != nil {
		return Key{}, fmt.Errorf("reading key %s: %w", accessKey, err)
	}
	return k, nil
}

func (s *sqlStore) ListKeys(ctx context.Context, systemCode string) ([]Key, error) {
	rows, err := s.query(ctx, "SELECT "+keyCols+" FROM access_keys WHERE system_code = ? ORDER BY created_at, access_key", systemCode)
	if err != nil {
		return nil, fmt.Errorf("listing keys of %s: %w", systemCode, err)
	}
	out, err := collect(rows, scanKey)
	if err != nil {
		return nil, fmt.Errorf("listing keys of %s: %w", systemCode, err)
	}
	return out, nil
}

// RevokeKey keeps the time of the first revocation when called again.
func (s *sqlStore) RevokeKey(ctx context.Context, accessKey string, at time.Time) error {
	res, err := s.exec(ctx, "UPDATE access_keys SET revoked_at = CASE WHEN status = ? THEN revoked_at ELSE ? END, status = ? WHERE access_key = ?",
		KeyRevoked, micros(orNow(at)), KeyRevoked, accessKey)
	if err != nil {
		return fmt.Errorf("revoking key %s: %w", accessKey, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("revoking key %s: %w", accessKey, err)
	} else if n == 0 {
		return bus.ErrKeyNotFound.New("%s", accessKey)
	}
	return nil
}
