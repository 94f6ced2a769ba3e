package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/tuyenquang/lgsp/bus"
)

const organCols = "system_code, organ, created_at, created_by"

func scanOrgan(sc interface{ Scan(...any) error }) (SystemOrgan, error) {
	var o SystemOrgan
	var c int64
	err := sc.Scan(&o.System, &o.Organ, &c, &o.CreatedBy)
	o.CreatedAt = fromMicros(c)
	return o, err
}

func (s *sqlStore) AddSystemOrgan(ctx context.Context, o SystemOrgan, events ...KeyEvent) (SystemOrgan, bool, error) {
	o.CreatedAt = fromMicros(micros(orNow(o.CreatedAt)))
	out, added := o, false
	err := s.write(ctx, func(tx *txx) error {
		var one int
		err := tx.QueryRowContext(ctx, "SELECT 1 FROM systems WHERE code = ?", o.System).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return bus.ErrSystemNotFound.New("%s", o.System)
		}
		if err != nil {
			return fmt.Errorf("reading system %s: %w", o.System, err)
		}
		res, err := tx.ExecContext(ctx, s.d.insertIgnore+" INTO system_organs ("+organCols+") VALUES (?, ?, ?, ?)",
			o.System, o.Organ, micros(o.CreatedAt), o.CreatedBy)
		if err != nil {
			return fmt.Errorf("listing organ %s for %s: %w", o.Organ, o.System, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("listing organ %s for %s: %w", o.Organ, o.System, err)
		}
		if added = n == 1; added {
			out = o
			return insertKeyEvents(ctx, tx, events)
		}
		// Listed already: that row stays, and nothing changed to audit.
		out, err = scanOrgan(tx.QueryRowContext(ctx, "SELECT "+organCols+" FROM system_organs WHERE system_code = ? AND organ = ?", o.System, o.Organ))
		if err != nil {
			return fmt.Errorf("reading organ %s of %s: %w", o.Organ, o.System, err)
		}
		return nil
	})
	if err != nil {
		return SystemOrgan{}, false, err
	}
	return out, added, nil
}

func (s *sqlStore) RemoveSystemOrgan(ctx context.Context, system, organ string, events ...KeyEvent) error {
	return s.write(ctx, func(tx *txx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM system_organs WHERE system_code = ? AND organ = ?", system, organ)
		if err != nil {
			return fmt.Errorf("unlisting organ %s of %s: %w", organ, system, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("unlisting organ %s of %s: %w", organ, system, err)
		} else if n == 0 {
			return bus.ErrSpeaksForNotFound.New("%s does not speak for %s", system, organ)
		}
		return insertKeyEvents(ctx, tx, events)
	})
}

func (s *sqlStore) ListSystemOrgans(ctx context.Context, system string) ([]SystemOrgan, error) {
	q := "SELECT " + organCols + " FROM system_organs"
	var args []any
	if system != "" {
		q += " WHERE system_code = ?"
		args = append(args, system)
	}
	rows, err := s.query(ctx, q+" ORDER BY system_code, organ", args...)
	if err != nil {
		return nil, fmt.Errorf("listing organs: %w", err)
	}
	out, err := collect(rows, scanOrgan)
	if err != nil {
		return nil, fmt.Errorf("listing organs: %w", err)
	}
	return out, nil
}
