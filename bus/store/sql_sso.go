package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tuyenquang/lgsp/bus"
)

// ---- Single sign-on records (issue #12, bus/sso) ----

const ssoCols = "kind, id, subject, client, data, created_at, expires_at"

func scanSSO(sc interface{ Scan(...any) error }) (SSORecord, error) {
	var r SSORecord
	var c, e int64
	err := sc.Scan(&r.Kind, &r.ID, &r.Subject, &r.Client, &r.Data, &c, &e)
	r.CreatedAt, r.ExpiresAt = fromMicros(c), fromMicros(e)
	return r, err
}

// ssoLive is the condition of a record not expired at a time (expires_at
// 0 never expires).
const ssoLive = "(expires_at = 0 OR expires_at > ?)"

func (s *sqlStore) PutSSO(ctx context.Context, r SSORecord) error {
	if r.Kind == "" || r.ID == "" {
		return fmt.Errorf("single sign-on record without kind or id")
	}
	r.CreatedAt = orNow(r.CreatedAt)
	return s.write(ctx, func(tx *txx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM sso_records WHERE kind = ? AND id = ?", r.Kind, r.ID); err != nil {
			return fmt.Errorf("replacing sso %s: %w", r.Kind, err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO sso_records ("+ssoCols+") VALUES (?, ?, ?, ?, ?, ?, ?)",
			r.Kind, r.ID, r.Subject, r.Client, r.Data, micros(r.CreatedAt), micros(r.ExpiresAt)); err != nil {
			return fmt.Errorf("inserting sso %s: %w", r.Kind, err)
		}
		return nil
	})
}

func (s *sqlStore) GetSSO(ctx context.Context, kind, id string, now time.Time) (SSORecord, error) {
	r, err := scanSSO(s.queryRow(ctx, "SELECT "+ssoCols+" FROM sso_records WHERE kind = ? AND id = ? AND "+ssoLive, kind, id, micros(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return SSORecord{}, bus.ErrSSONotFound.New("no %s", kind)
	}
	if err != nil {
		return SSORecord{}, fmt.Errorf("reading sso %s: %w", kind, err)
	}
	return r, nil
}

func (s *sqlStore) TakeSSO(ctx context.Context, kind, id string, now time.Time) (SSORecord, error) {
	var r SSORecord
	err := s.write(ctx, func(tx *txx) error {
		var err error
		r, err = scanSSO(tx.QueryRowContext(ctx, "SELECT "+ssoCols+" FROM sso_records WHERE kind = ? AND id = ?"+s.d.forUpdate, kind, id))
		if errors.Is(err, sql.ErrNoRows) {
			return bus.ErrSSONotFound.New("no %s", kind)
		}
		if err != nil {
			return fmt.Errorf("reading sso %s: %w", kind, err)
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM sso_records WHERE kind = ? AND id = ?", kind, id)
		if err != nil {
			return fmt.Errorf("taking sso %s: %w", kind, err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return bus.ErrSSONotFound.New("no %s", kind)
		}
		if !r.ExpiresAt.IsZero() && !r.ExpiresAt.After(now) {
			return bus.ErrSSONotFound.New("%s expired", kind)
		}
		return nil
	})
	if err != nil {
		return SSORecord{}, err
	}
	return r, nil
}

func (s *sqlStore) DeleteSSO(ctx context.Context, kind, id string) (bool, error) {
	var n int64
	err := s.write(ctx, func(tx *txx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM sso_records WHERE kind = ? AND id = ?", kind, id)
		if err != nil {
			return fmt.Errorf("deleting sso %s: %w", kind, err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return n > 0, err
}

func (s *sqlStore) ListSSO(ctx context.Context, kind, subject string, now time.Time) ([]SSORecord, error) {
	q, args := "SELECT "+ssoCols+" FROM sso_records WHERE kind = ? AND "+ssoLive, []any{kind, micros(now)}
	if subject != "" {
		q, args = q+" AND subject = ?", append(args, subject)
	}
	rows, err := s.query(ctx, q+" ORDER BY created_at, id", args...)
	if err != nil {
		return nil, fmt.Errorf("listing sso %s: %w", kind, err)
	}
	defer rows.Close()
	var out []SSORecord
	for rows.Next() {
		r, err := scanSSO(rows)
		if err != nil {
			return nil, fmt.Errorf("listing sso %s: %w", kind, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *sqlStore) DeleteSSOSubject(ctx context.Context, kind, subject, client string) (int64, error) {
	q, args := "DELETE FROM sso_records WHERE kind = ? AND subject = ?", []any{kind, subject}
	if client != "" {
		q, args = q+" AND client = ?", append(args, client)
	}
	var n int64
	err := s.write(ctx, func(tx *txx) error {
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("deleting sso %s of a person: %w", kind, err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

func (s *sqlStore) PurgeSSO(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *txx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM sso_records WHERE expires_at > 0 AND expires_at < ?", micros(before))
		if err != nil {
			return fmt.Errorf("purging sso records: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
