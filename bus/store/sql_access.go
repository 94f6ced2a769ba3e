package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tuyenquang/lgsp/bus"
)

// ---- Allowed algorithms of a system ----

// joinAlgs stores algorithm names as one comma-separated column; nil or
// only DefaultAlg is stored as "" (the column's default).
func joinAlgs(algs []string) string {
	if len(algs) == 1 && algs[0] == DefaultAlg {
		return ""
	}
	return strings.Join(algs, ",")
}

func splitAlgs(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func (s *sqlStore) SetSystemAlgs(ctx context.Context, code string, algs []string, events ...KeyEvent) error {
	return s.write(ctx, func(tx *txx) error {
		res, err := tx.ExecContext(ctx, "UPDATE systems SET algs = ? WHERE code = ?", joinAlgs(algs), code)
		if err != nil {
			return fmt.Errorf("setting algorithms of %s: %w", code, err)
		}
		// MySQL connections use CLIENT_FOUND_ROWS: matched rows, not changed ones.
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("setting algorithms of %s: %w", code, err)
		} else if n == 0 {
			return bus.ErrSystemNotFound.New("%s", code)
		}
		return insertKeyEvents(ctx, tx, events)
	})
}

// ---- Client certificates of a system (mutual TLS) ----

// joinClientCerts stores bindings as one JSON column; none is "".
func joinClientCerts(cs []ClientCert) (string, error) {
	if len(cs) == 0 {
		return "", nil
	}
	b, err := json.Marshal(cs)
	if err != nil {
		return "", fmt.Errorf("encoding client certificates: %w", err)
	}
	return string(b), nil
}

func splitClientCerts(s string) ([]ClientCert, error) {
	if s == "" {
		return nil, nil
	}
	var out []ClientCert
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, fmt.Errorf("decoding client certificates: %w", err)
	}
	return out, nil
}

func (s *sqlStore) SetClientCerts(ctx context.Context, code string, certs []ClientCert, events ...KeyEvent) error {
	col, err := joinClientCerts(certs)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *txx) error {
		res, err := tx.ExecContext(ctx, "UPDATE systems SET client_certs = ? WHERE code = ?", col, code)
		if err != nil {
			return fmt.Errorf("setting client certificates of %s: %w", code, err)
		}
		// MySQL connections use CLIENT_FOUND_ROWS: matched rows, not changed ones.
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("setting client certificates of %s: %w", code, err)
		} else if n == 0 {
			return bus.ErrSystemNotFound.New("%s", code)
		}
		return insertKeyEvents(ctx, tx, events)
	})
}

// ---- Grants ----

const grantCols = "id, kind, source, destination, data_type, service, scope, created_at, created_by, revoked_at, revoked_by"

func scanGrant(sc interface{ Scan(...any) error }) (Grant, error) {
	var g Grant
	var c, r int64
	err := sc.Scan(&g.ID, &g.Kind, &g.Source, &g.Destination, &g.DataType, &g.Service, &g.Scope, &c, &g.CreatedBy, &r, &g.RevokedBy)
	g.CreatedAt, g.RevokedAt = fromMicros(c), fromMicros(r)
	return g, err
}

// grantKey identifies the terms of a grant: at most one active grant has
// them (the unique active_key column).
func grantKey(g Grant) string {
	h := sha256.New()
	for _, f := range []string{g.Kind, g.Source, g.Destination, g.DataType, g.Service, g.Scope} {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (s *sqlStore) CreateGrant(ctx context.Context, g Grant) (Grant, error) {
	if g.ID == "" {
		return Grant{}, fmt.Errorf("creating grant: empty id")
	}
	g.CreatedAt = fromMicros(micros(orNow(g.CreatedAt)))
	g.RevokedAt, g.RevokedBy = time.Time{}, ""
	key := grantKey(g)
	var out Grant
	err := s.write(ctx, func(tx *txx) error {
		res, err := tx.ExecContext(ctx, s.d.insertIgnore+" INTO grants ("+grantCols+", active_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '', ?)",
			g.ID, g.Kind, g.Source, g.Destination, g.DataType, g.Service, g.Scope, micros(g.CreatedAt), g.CreatedBy, key)
		if err != nil {
			return fmt.Errorf("inserting grant %s: %w", g.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("inserting grant %s: %w", g.ID, err)
		} else if n == 1 {
			out = g
			return nil
		}
		// The same terms are granted already: that grant stays in force.
		found, err := scanGrant(tx.QueryRowContext(ctx, "SELECT "+grantCols+" FROM grants WHERE active_key = ?", key))
		if err != nil {
			return fmt.Errorf("reading the grant like %s: %w", g.ID, err)
		}
		out = found
		return nil
	})
	return out, err
}

func (s *sqlStore) ListGrants(ctx context.Context, f GrantFilter) ([]Grant, error) {
	q := "SELECT " + grantCols + " FROM grants WHERE 1 = 1"
	var args []any
	if f.Kind != "" {
		q += " AND kind = ?"
		args = append(args, f.Kind)
	}
	if f.Source != "" {
		q += " AND source = ?"
		args = append(args, f.Source)
	}
	if !f.Revoked {
		q += " AND revoked_at = 0"
	}
	q += " ORDER BY created_at, id"
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("listing grants: %w", err)
	}
	out, err := collect(rows, scanGrant)
	if err != nil {
		return nil, fmt.Errorf("listing grants: %w", err)
	}
	return out, nil
}

// RevokeGrant keeps the time and actor of the first revocation when called
// again.
func (s *sqlStore) RevokeGrant(ctx context.Context, id string, at time.Time, by string) error {
	return s.write(ctx, func(tx *txx) error {
		res, err := tx.ExecContext(ctx, "UPDATE grants SET revoked_by = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_by END, revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END, active_key = NULL WHERE id = ?",
			by, micros(orNow(at)), id)
		if err != nil {
			return fmt.Errorf("revoking grant %s: %w", id, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("revoking grant %s: %w", id, err)
		} else if n == 0 {
			return bus.ErrGrantNotFound.New("%s", id)
		}
		return nil
	})
}

// ---- Audit of keys ----

func insertKeyEvents(ctx context.Context, tx *txx, events []KeyEvent) error {
	for _, e := range events {
		if _, err := tx.ExecContext(ctx, "INSERT INTO key_events (occurred_at, access_key, system_code, action, actor, detail) VALUES (?, ?, ?, ?, ?, ?)",
			micros(orNow(e.At)), e.AccessKey, e.System, e.Action, e.Actor, e.Detail); err != nil {
			return fmt.Errorf("recording key event %s of %s: %w", e.Action, e.AccessKey, err)
		}
	}
	return nil
}

func (s *sqlStore) AddKeyEvents(ctx context.Context, events ...KeyEvent) error {
	if len(events) == 0 {
		return nil
	}
	return s.write(ctx, func(tx *txx) error { return insertKeyEvents(ctx, tx, events) })
}

func (s *sqlStore) KeyEvents(ctx context.Context, system string, limit int) ([]KeyEvent, error) {
	q := "SELECT id, occurred_at, access_key, system_code, action, actor, detail FROM key_events"
	var args []any
	if system != "" {
		q += " WHERE system_code = ?"
		args = append(args, system)
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, limitOr(limit))
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("reading key events: %w", err)
	}
	defer rows.Close()
	var out []KeyEvent
	for rows.Next() {
		var e KeyEvent
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.AccessKey, &e.System, &e.Action, &e.Actor, &e.Detail); err != nil {
			return nil, fmt.Errorf("reading key events: %w", err)
		}
		e.At = fromMicros(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading key events: %w", err)
	}
	// Newest were selected; the record reads oldest first.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

func (s *sqlStore) RotateKey(ctx context.Context, r Rotation) error {
	k := r.New
	if err := normalKey(&k); err != nil {
		return err
	}
	return s.write(ctx, func(tx *txx) error {
		old, err := scanKey(tx.QueryRowContext(ctx, "SELECT "+keyCols+" FROM access_keys WHERE access_key = ?"+s.d.forUpdate, r.Old))
		if errors.Is(err, sql.ErrNoRows) {
			return bus.ErrKeyNotFound.New("%s", r.Old)
		}
		if err != nil {
			return fmt.Errorf("reading key %s: %w", r.Old, err)
		}
		switch {
		case old.Status == KeyRevoked || !old.RevokedAt.IsZero():
			return bus.ErrBadRequest.New("access key %s is revoked: issue a new key instead", r.Old)
		case !old.ExpiresAt.IsZero() && !old.ExpiresAt.After(k.CreatedAt):
			return bus.ErrBadRequest.New("access key %s has expired: issue a new key instead", r.Old)
		case old.SystemCode != k.SystemCode:
			return bus.ErrBadRequest.New("access key %s belongs to %s, not %s", r.Old, old.SystemCode, k.SystemCode)
		}
		exp := r.OldExpires
		if !old.ExpiresAt.IsZero() && old.ExpiresAt.Before(exp) {
			exp = old.ExpiresAt // a rotation never extends a key's life
		}
		if err := insertKey(ctx, tx, k); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE access_keys SET expires_at = ? WHERE access_key = ?", micros(exp), r.Old); err != nil {
			return fmt.Errorf("setting expiry of key %s: %w", r.Old, err)
		}
		return insertKeyEvents(ctx, tx, r.Events)
	})
}
