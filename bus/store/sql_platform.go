package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/tuyenquang/lgsp/bus"
)

const platformKeyCols = "name, key_id, alg, private_enc, public_key, created_at"

func scanPlatformKey(sc interface{ Scan(...any) error }) (PlatformKey, error) {
	var k PlatformKey
	var c int64
	err := sc.Scan(&k.Name, &k.KeyID, &k.Alg, &k.PrivateEnc, &k.PublicKey, &c)
	k.CreatedAt = fromMicros(c)
	return k, err
}

func (s *sqlStore) PlatformKey(ctx context.Context, name string) (PlatformKey, error) {
	k, err := scanPlatformKey(s.queryRow(ctx, "SELECT "+platformKeyCols+" FROM platform_keys WHERE name = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return PlatformKey{}, bus.ErrKeyNotFound.New("platform key %s", name)
	}
	if err != nil {
		return PlatformKey{}, fmt.Errorf("reading platform key %s: %w", name, err)
	}
	return k, nil
}

func (s *sqlStore) CreatePlatformKey(ctx context.Context, k PlatformKey) (PlatformKey, error) {
	if k.Name == "" || k.KeyID == "" || len(k.PrivateEnc) == 0 || len(k.PublicKey) == 0 {
		return PlatformKey{}, bus.ErrBadRequest.New("platform key needs a name, a key id, a sealed private key and a public key")
	}
	k.CreatedAt = orNow(k.CreatedAt)
	var out PlatformKey
	err := s.write(ctx, func(tx *txx) error {
		if _, err := tx.ExecContext(ctx, s.d.insertIgnore+" INTO platform_keys ("+platformKeyCols+") VALUES (?, ?, ?, ?, ?, ?)",
			k.Name, k.KeyID, k.Alg, k.PrivateEnc, k.PublicKey, micros(k.CreatedAt)); err != nil {
			return fmt.Errorf("inserting platform key %s: %w", k.Name, err)
		}
		var err error
		out, err = scanPlatformKey(tx.QueryRowContext(ctx, "SELECT "+platformKeyCols+" FROM platform_keys WHERE name = ?", k.Name))
		if err != nil {
			return fmt.Errorf("reading platform key %s: %w", k.Name, err)
		}
		return nil
	})
	return out, err
}
