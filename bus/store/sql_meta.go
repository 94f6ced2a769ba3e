package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ---- Installation facts (issue #8): meta table ----

func (s *sqlStore) GetMeta(ctx context.Context, name string) ([]byte, bool, error) {
	var v []byte
	err := s.queryRow(ctx, "SELECT value FROM meta WHERE name = ?", name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading meta %s: %w", name, err)
	}
	return v, true, nil
}

func (s *sqlStore) InitMeta(ctx context.Context, name string, value []byte) ([]byte, error) {
	var got []byte
	err := s.write(ctx, func(tx *txx) error {
		// INSERT IGNORE then read back in the same transaction: of several
		// nodes starting at once, the first writer's value is the one all
		// of them see.
		if _, err := tx.ExecContext(ctx, s.d.insertIgnore+" INTO meta (name, value, created_at) VALUES (?, ?, ?)", name, value, micros(time.Now())); err != nil {
			return fmt.Errorf("writing meta %s: %w", name, err)
		}
		return tx.QueryRowContext(ctx, "SELECT value FROM meta WHERE name = ?", name).Scan(&got)
	})
	if err != nil {
		return nil, err
	}
	return got, nil
}

func (s *sqlStore) SealedSamples(ctx context.Context, limit int) ([]SealedSample, error) {
	var out []SealedSample
	for _, q := range []struct{ kind, sql string }{
		{SealedKeySecret, "SELECT access_key, secret_enc FROM access_keys WHERE LENGTH(secret_enc) > 0 ORDER BY created_at LIMIT ?"},
		{SealedWrappedKey, "SELECT id, wrapped_key FROM exchanges WHERE wrapped_key IS NOT NULL ORDER BY created_at LIMIT ?"},
	} {
		rows, err := s.query(ctx, q.sql, limit)
		if err != nil {
			return nil, fmt.Errorf("reading sealed samples: %w", err)
		}
		for rows.Next() {
			sm := SealedSample{Kind: q.kind}
			if err := rows.Scan(&sm.ID, &sm.Sealed); err != nil {
				rows.Close()
				return nil, fmt.Errorf("reading sealed samples: %w", err)
			}
			out = append(out, sm)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("reading sealed samples: %w", err)
		}
	}
	return out, nil
}
