package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tuyenquang/lgsp/bus"
)

// ---- Sessions (A1–A6), bearer tokens, legacy token switch ----

const sessionCols = "id, key_hash, source, access_key, service, scope, created_at, expires_at, revoked_at"

func scanSession(sc interface{ Scan(...any) error }) (Session, error) {
	var s Session
	var c, e, r int64
	err := sc.Scan(&s.ID, &s.KeyHash, &s.Source, &s.AccessKey, &s.Service, &s.Scope, &c, &e, &r)
	s.CreatedAt, s.ExpiresAt, s.RevokedAt = fromMicros(c), fromMicros(e), fromMicros(r)
	return s, err
}

// CreateSession gives the session an id ("ss_…") if it has none.
func (s *sqlStore) CreateSession(ctx context.Context, ss Session) error {
	if ss.ID == "" {
		ss.ID = bus.NewID("ss")
	}
	ss.CreatedAt = orNow(ss.CreatedAt)
	return s.write(ctx, func(tx *txx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO sessions ("+sessionCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
			ss.ID, ss.KeyHash, ss.Source, ss.AccessKey, ss.Service, ss.Scope, micros(ss.CreatedAt), micros(ss.ExpiresAt), micros(ss.RevokedAt)); err != nil {
			return fmt.Errorf("inserting session %s: %w", ss.ID, err)
		}
		return nil
	})
}

// readRow runs a one-row query on the readers with a prepared statement
// once one is cached (SQLite): session and token lookups run on every call
// through the bus.
func (s *sqlStore) readRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := s.rc.get(q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return s.queryRow(ctx, q, args...)
}

func (s *sqlStore) SessionByHash(ctx context.Context, keyHash string) (Session, error) {
	ss, err := scanSession(s.readRow(ctx, "SELECT "+sessionCols+" FROM sessions WHERE key_hash = ?", keyHash))
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, bus.ErrSessionInvalid.New("no such session key")
	}
	if err != nil {
		return Session{}, fmt.Errorf("reading session by key: %w", err)
	}
	return ss, nil
}

func (s *sqlStore) GetSession(ctx context.Context, id string) (Session, error) {
	ss, err := scanSession(s.queryRow(ctx, "SELECT "+sessionCols+" FROM sessions WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, bus.ErrSessionInvalid.New("no session %s", id)
	}
	if err != nil {
		return Session{}, fmt.Errorf("reading session %s: %w", id, err)
	}
	return ss, nil
}

func (s *sqlStore) RevokeSession(ctx context.Context, id string, at time.Time) error {
	return s.write(ctx, func(tx *txx) error {
		res, err := tx.ExecContext(ctx, "UPDATE sessions SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END WHERE id = ?", micros(orNow(at)), id)
		if err != nil {
			return fmt.Errorf("revoking session %s: %w", id, err)
		}
		// MySQL connections use CLIENT_FOUND_ROWS: matched rows, not changed ones.
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("revoking session %s: %w", id, err)
		} else if n == 0 {
			return bus.ErrSessionInvalid.New("no session %s", id)
		}
		return nil
	})
}

func (s *sqlStore) PurgeSessions(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	err := s.write(ctx, func(tx *txx) error {
		total = 0
		for _, q := range []string{"DELETE FROM sessions WHERE expires_at < ?", "DELETE FROM bearer_tokens WHERE expires_at < ?"} {
			res, err := tx.ExecContext(ctx, q, micros(before))
			if err != nil {
				return fmt.Errorf("purging sessions: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("purging sessions: %w", err)
			}
			total += n
		}
		return nil
	})
	return total, err
}

func (s *sqlStore) CreateToken(ctx context.Context, t Token) error {
	t.CreatedAt = orNow(t.CreatedAt)
	return s.write(ctx, func(tx *txx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO bearer_tokens (token_hash, system_code, access_key, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
			t.Hash, t.SystemCode, t.AccessKey, micros(t.CreatedAt), micros(t.ExpiresAt)); err != nil {
			return fmt.Errorf("inserting token of %s: %w", t.SystemCode, err)
		}
		return nil
	})
}

func (s *sqlStore) TokenByHash(ctx context.Context, hash string) (Token, error) {
	var t Token
	var c, e int64
	err := s.readRow(ctx, "SELECT token_hash, system_code, access_key, created_at, expires_at FROM bearer_tokens WHERE token_hash = ?", hash).
		Scan(&t.Hash, &t.SystemCode, &t.AccessKey, &c, &e)
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, bus.ErrTokenInvalid.New("unknown access token")
	}
	if err != nil {
		return Token{}, fmt.Errorf("reading token: %w", err)
	}
	t.CreatedAt, t.ExpiresAt = fromMicros(c), fromMicros(e)
	return t, nil
}

func (s *sqlStore) SetLegacyToken(ctx context.Context, code string, on bool, at time.Time) error {
	return s.write(ctx, func(tx *txx) error {
		var one int
		err := tx.QueryRowContext(ctx, "SELECT 1 FROM systems WHERE code = ?"+s.d.forShare, code).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return bus.ErrSystemNotFound.New("%s", code)
		}
		if err != nil {
			return fmt.Errorf("reading system %s: %w", code, err)
		}
		if !on {
			if _, err := tx.ExecContext(ctx, "DELETE FROM legacy_token_systems WHERE code = ?", code); err != nil {
				return fmt.Errorf("switching off legacy token of %s: %w", code, err)
			}
			return nil
		}
		if _, err := tx.ExecContext(ctx, s.d.insertIgnore+" INTO legacy_token_systems (code, enabled_at) VALUES (?, ?)", code, micros(orNow(at))); err != nil {
			return fmt.Errorf("switching on legacy token of %s: %w", code, err)
		}
		return nil
	})
}

func (s *sqlStore) LegacyToken(ctx context.Context, code string) (bool, error) {
	var one int
	err := s.readRow(ctx, "SELECT 1 FROM legacy_token_systems WHERE code = ?", code).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading legacy token switch of %s: %w", code, err)
	}
	return true, nil
}

// ---- Nonces and connections (R7) ----

func (s *sqlStore) UseNonce(ctx context.Context, accessKey, nonce string, expires time.Time) (bool, error) {
	if s.nonces != nil {
		return s.nonces.use(ctx, accessKey, nonce, expires)
	}
	return s.useNonceAlone(ctx, accessKey, nonce, micros(expires))
}

// useNonceAlone records one nonce in its own statement.
func (s *sqlStore) useNonceAlone(ctx context.Context, accessKey, nonce string, expires int64) (bool, error) {
	res, err := s.exec(ctx, s.d.insertIgnore+" INTO nonces (access_key, nonce, expires_at) VALUES (?, ?, ?)",
		accessKey, nonce, expires)
	if err != nil {
		return false, fmt.Errorf("recording nonce of %s: %w", accessKey, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("recording nonce of %s: %w", accessKey, err)
	}
	return n == 1, nil
}

func (s *sqlStore) PurgeNonces(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.exec(ctx, "DELETE FROM nonces WHERE expires_at < ?", micros(before))
	if err != nil {
		return 0, fmt.Errorf("purging nonces: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("purging nonces: %w", err)
	}
	return n, nil
}

// RecordConnection gives the connection an id ("cn_…") if it has none.
func (s *sqlStore) RecordConnection(ctx context.Context, c Connection) error {
	if c.ID == "" {
		c.ID = bus.NewID("cn")
	}
	at := orNow(c.At)
	return s.write(ctx, func(tx *txx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO connections (id, system_code, access_key, connected_at, remote, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
			c.ID, c.SystemCode, c.AccessKey, micros(at), c.Remote, micros(c.ExpiresAt)); err != nil {
			return fmt.Errorf("recording connection of %s: %w", c.SystemCode, err)
		}
		return s.recordConnDay(ctx, tx, c.SystemCode, at)
	})
}
