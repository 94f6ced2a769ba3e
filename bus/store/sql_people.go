package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tuyenquang/lgsp/bus"
)

// ---- People, console sessions, login locks (issue #12) ----

const personCols = "id, login, name, email, personal_id, unit, roles, disabled, password_hash, totp_secret, totp_last, created_at, updated_at"

func scanPerson(sc interface{ Scan(...any) error }) (Person, error) {
	var p Person
	var roles string
	var disabled int
	var c, u int64
	err := sc.Scan(&p.ID, &p.Login, &p.Name, &p.Email, &p.PersonalID, &p.Unit, &roles, &disabled, &p.PasswordHash, &p.TOTPSecret, &p.TOTPLast, &c, &u)
	if roles != "" {
		p.Roles = strings.Split(roles, ",")
	}
	p.Disabled = disabled != 0
	p.CreatedAt, p.UpdatedAt = fromMicros(c), fromMicros(u)
	if len(p.TOTPSecret) == 0 {
		p.TOTPSecret = nil
	}
	return p, err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// claimTaken reports whether another person (not id) has the non-empty
// e-mail or personal id of p: these identify a person to an upstream
// identity provider, so two accounts must never share one.
func claimTaken(ctx context.Context, tx *txx, p Person) error {
	for _, c := range []struct{ col, v string }{{"email", p.Email}, {"personal_id", p.PersonalID}} {
		if c.v == "" {
			continue
		}
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM people WHERE "+c.col+" = ? AND id <> ?", c.v, p.ID).Scan(&n); err != nil {
			return fmt.Errorf("checking %s of person: %w", c.col, err)
		}
		if n > 0 {
			return bus.ErrPersonExists.New("%s is used by another account", c.col)
		}
	}
	return nil
}

func (s *sqlStore) CreatePerson(ctx context.Context, p Person) (int64, error) {
	p.CreatedAt = orNow(p.CreatedAt)
	if p.UpdatedAt.IsZero() {
		p.UpdatedAt = p.CreatedAt
	}
	var id int64
	err := s.write(ctx, func(tx *txx) error {
		p.ID = 0
		if err := claimTaken(ctx, tx, p); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, "INSERT INTO people (login, name, email, personal_id, unit, roles, disabled, password_hash, totp_secret, totp_last, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			p.Login, p.Name, p.Email, p.PersonalID, p.Unit, strings.Join(p.Roles, ","), boolInt(p.Disabled), p.PasswordHash, p.TOTPSecret, p.TOTPLast, micros(p.CreatedAt), micros(p.UpdatedAt))
		if err != nil {
			if s.d.isDuplicate(err) {
				return bus.ErrPersonExists.New("login %q is taken", p.Login)
			}
			return fmt.Errorf("inserting person: %w", err)
		}
		id, err = res.LastInsertId()
		return err
	})
	return id, err
}

func (s *sqlStore) getPerson(ctx context.Context, where string, arg any) (Person, error) {
	p, err := scanPerson(s.queryRow(ctx, "SELECT "+personCols+" FROM people WHERE "+where+" = ?", arg))
	if errors.Is(err, sql.ErrNoRows) {
		return Person{}, bus.ErrPersonNotFound.Err()
	}
	if err != nil {
		return Person{}, fmt.Errorf("reading person: %w", err)
	}
	return p, nil
}

func (s *sqlStore) GetPerson(ctx context.Context, id int64) (Person, error) {
	return s.getPerson(ctx, "id", id)
}

func (s *sqlStore) PersonByLogin(ctx context.Context, login string) (Person, error) {
	return s.getPerson(ctx, "login", login)
}

func (s *sqlStore) listPeople(ctx context.Context, q string, args ...any) ([]Person, error) {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("listing people: %w", err)
	}
	defer rows.Close()
	var out []Person
	for rows.Next() {
		p, err := scanPerson(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func (s *sqlStore) PeopleByClaim(ctx context.Context, claim, value string) ([]Person, error) {
	if value == "" {
		return nil, nil
	}
	switch claim {
	case "email", "personal_id":
	default:
		return nil, fmt.Errorf("people by claim: unknown claim %q", claim)
	}
	return s.listPeople(ctx, "SELECT "+personCols+" FROM people WHERE "+claim+" = ? ORDER BY id", value)
}

func (s *sqlStore) ListPeople(ctx context.Context) ([]Person, error) {
	return s.listPeople(ctx, "SELECT "+personCols+" FROM people ORDER BY login")
}

func (s *sqlStore) personExists(ctx context.Context, tx *txx, id int64) error {
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM people WHERE id = ?", id).Scan(&n); err != nil {
		return fmt.Errorf("reading person: %w", err)
	}
	if n == 0 {
		return bus.ErrPersonNotFound.Err()
	}
	return nil
}

func (s *sqlStore) UpdatePerson(ctx context.Context, p Person) error {
	p.UpdatedAt = orNow(p.UpdatedAt)
	return s.write(ctx, func(tx *txx) error {
		if err := s.personExists(ctx, tx, p.ID); err != nil {
			return err
		}
		if err := claimTaken(ctx, tx, p); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "UPDATE people SET name = ?, email = ?, personal_id = ?, unit = ?, roles = ?, disabled = ?, updated_at = ? WHERE id = ?",
			p.Name, p.Email, p.PersonalID, p.Unit, strings.Join(p.Roles, ","), boolInt(p.Disabled), micros(p.UpdatedAt), p.ID)
		if err != nil {
			return fmt.Errorf("updating person: %w", err)
		}
		return nil
	})
}

func (s *sqlStore) SetPassword(ctx context.Context, id int64, hash string, at time.Time) error {
	return s.write(ctx, func(tx *txx) error {
		if err := s.personExists(ctx, tx, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "UPDATE people SET password_hash = ?, updated_at = ? WHERE id = ?", hash, micros(orNow(at)), id)
		if err != nil {
			return fmt.Errorf("setting password: %w", err)
		}
		return nil
	})
}

func (s *sqlStore) SetTOTP(ctx context.Context, id int64, sealed []byte, at time.Time) error {
	return s.write(ctx, func(tx *txx) error {
		if err := s.personExists(ctx, tx, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "UPDATE people SET totp_secret = ?, totp_last = 0, updated_at = ? WHERE id = ?", sealed, micros(orNow(at)), id)
		if err != nil {
			return fmt.Errorf("setting totp secret: %w", err)
		}
		return nil
	})
}

func (s *sqlStore) UseTOTPStep(ctx context.Context, id int64, step int64) (bool, error) {
	var ok bool
	err := s.write(ctx, func(tx *txx) error {
		res, err := tx.ExecContext(ctx, "UPDATE people SET totp_last = ? WHERE id = ? AND totp_last < ?", step, id, step)
		if err != nil {
			return fmt.Errorf("recording totp step: %w", err)
		}
		n, err := res.RowsAffected()
		ok = n == 1
		return err
	})
	return ok, err
}

const consoleSessionCols = "token_hash, person_id, created_at, seen_at, remote, via"

func (s *sqlStore) CreateConsoleSession(ctx context.Context, cs ConsoleSession) error {
	cs.CreatedAt = orNow(cs.CreatedAt)
	if cs.SeenAt.IsZero() {
		cs.SeenAt = cs.CreatedAt
	}
	return s.write(ctx, func(tx *txx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO console_sessions ("+consoleSessionCols+") VALUES (?, ?, ?, ?, ?, ?)",
			cs.TokenHash, cs.PersonID, micros(cs.CreatedAt), micros(cs.SeenAt), cs.Remote, cs.Via); err != nil {
			return fmt.Errorf("inserting console session: %w", err)
		}
		return nil
	})
}

func (s *sqlStore) ConsoleSessionByHash(ctx context.Context, tokenHash string) (ConsoleSession, error) {
	var cs ConsoleSession
	var c, seen int64
	err := s.readRow(ctx, "SELECT "+consoleSessionCols+" FROM console_sessions WHERE token_hash = ?", tokenHash).
		Scan(&cs.TokenHash, &cs.PersonID, &c, &seen, &cs.Remote, &cs.Via)
	if errors.Is(err, sql.ErrNoRows) {
		return ConsoleSession{}, bus.ErrNotLoggedIn.New("no such session")
	}
	if err != nil {
		return ConsoleSession{}, fmt.Errorf("reading console session: %w", err)
	}
	cs.CreatedAt, cs.SeenAt = fromMicros(c), fromMicros(seen)
	return cs, nil
}

func (s *sqlStore) TouchConsoleSession(ctx context.Context, tokenHash string, at time.Time) error {
	return s.write(ctx, func(tx *txx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE console_sessions SET seen_at = ? WHERE token_hash = ? AND seen_at < ?", micros(at), tokenHash, micros(at)); err != nil {
			return fmt.Errorf("touching console session: %w", err)
		}
		return nil
	})
}

func (s *sqlStore) DeleteConsoleSession(ctx context.Context, tokenHash string) error {
	return s.write(ctx, func(tx *txx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM console_sessions WHERE token_hash = ?", tokenHash); err != nil {
			return fmt.Errorf("deleting console session: %w", err)
		}
		return nil
	})
}

func (s *sqlStore) DeletePersonSessions(ctx context.Context, personID int64) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *txx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM console_sessions WHERE person_id = ?", personID)
		if err != nil {
			return fmt.Errorf("deleting sessions of person: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

func (s *sqlStore) PurgeConsoleSessions(ctx context.Context, createdBefore, seenBefore time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *txx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM console_sessions WHERE created_at < ? OR seen_at < ?", micros(createdBefore), micros(seenBefore))
		if err != nil {
			return fmt.Errorf("purging console sessions: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

func (s *sqlStore) GetLoginLock(ctx context.Context, key string) (LoginLock, error) {
	l := LoginLock{Key: key}
	var first, last, until int64
	err := s.queryRow(ctx, "SELECT failures, first_at, last_at, locked_until FROM login_locks WHERE lock_key = ?", key).Scan(&l.Failures, &first, &last, &until)
	if errors.Is(err, sql.ErrNoRows) {
		return l, nil
	}
	if err != nil {
		return l, fmt.Errorf("reading login lock: %w", err)
	}
	l.FirstAt, l.LastAt, l.LockedUntil = fromMicros(first), fromMicros(last), fromMicros(until)
	return l, nil
}

func (s *sqlStore) PutLoginLock(ctx context.Context, l LoginLock) error {
	return s.write(ctx, func(tx *txx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM login_locks WHERE lock_key = ?", l.Key); err != nil {
			return fmt.Errorf("replacing login lock: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO login_locks (lock_key, failures, first_at, last_at, locked_until) VALUES (?, ?, ?, ?, ?)",
			l.Key, l.Failures, micros(l.FirstAt), micros(l.LastAt), micros(l.LockedUntil)); err != nil {
			return fmt.Errorf("storing login lock: %w", err)
		}
		return nil
	})
}

func (s *sqlStore) DeleteLoginLock(ctx context.Context, key string) error {
	return s.write(ctx, func(tx *txx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM login_locks WHERE lock_key = ?", key); err != nil {
			return fmt.Errorf("deleting login lock: %w", err)
		}
		return nil
	})
}

func (s *sqlStore) PurgeLoginLocks(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *txx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM login_locks WHERE last_at < ? AND locked_until < ?", micros(before), micros(before))
		if err != nil {
			return fmt.Errorf("purging login locks: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
