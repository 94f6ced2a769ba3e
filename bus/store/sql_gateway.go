package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tuyenquang/lgsp/bus"
)

// ---- Job leases, last runs, gateway documents (issue #5) ----

func (s *sqlStore) TryLease(ctx context.Context, job, node string, until time.Time) (bool, error) {
	if job == "" || node == "" {
		return false, fmt.Errorf("leasing job: empty job or node name")
	}
	var got bool
	err := s.write(ctx, func(tx *txx) error {
		got = false
		if _, err := tx.ExecContext(ctx, s.d.insertIgnore+" INTO job_leases (job, node, lease_until, last_run) VALUES (?, '', 0, 0)", job); err != nil {
			return fmt.Errorf("leasing job %s: %w", job, err)
		}
		// One guarded UPDATE: concurrent callers queue on the row lock and
		// the later ones see the winner's node and lease_until, so the WHERE
		// no longer matches for them.
		res, err := tx.ExecContext(ctx, "UPDATE job_leases SET node = ?, lease_until = ? WHERE job = ? AND (node = ? OR node = '' OR lease_until <= ?)",
			node, micros(until), job, node, micros(time.Now()))
		if err != nil {
			return fmt.Errorf("leasing job %s: %w", job, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("leasing job %s: %w", job, err)
		}
		got = n == 1
		return nil
	})
	return got, err
}

func (s *sqlStore) ReleaseLease(ctx context.Context, job, node string) error {
	return s.write(ctx, func(tx *txx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE job_leases SET node = '', lease_until = 0 WHERE job = ? AND node = ?", job, node); err != nil {
			return fmt.Errorf("releasing lease of job %s: %w", job, err)
		}
		return nil
	})
}

func (s *sqlStore) LastRun(ctx context.Context, job string) (time.Time, error) {
	var v int64
	err := s.queryRow(ctx, "SELECT last_run FROM job_leases WHERE job = ?", job).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("reading last run of job %s: %w", job, err)
	}
	return fromMicros(v), nil
}

func (s *sqlStore) SetLastRun(ctx context.Context, job string, at time.Time) error {
	return s.write(ctx, func(tx *txx) error {
		if _, err := tx.ExecContext(ctx, s.d.insertIgnore+" INTO job_leases (job, node, lease_until, last_run) VALUES (?, '', 0, 0)", job); err != nil {
			return fmt.Errorf("recording last run of job %s: %w", job, err)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE job_leases SET last_run = ? WHERE job = ?", micros(at), job); err != nil {
			return fmt.Errorf("recording last run of job %s: %w", job, err)
		}
		return nil
	})
}

const gatewayDocCols = "gateway, direction, doc_id, exchange_id, status, detail, created_at, updated_at"

func scanGatewayDoc(sc interface{ Scan(...any) error }) (GatewayDoc, error) {
	var d GatewayDoc
	var c, u int64
	err := sc.Scan(&d.Gateway, &d.Direction, &d.DocID, &d.ExchangeID, &d.Status, &d.Detail, &c, &u)
	d.CreatedAt, d.UpdatedAt = fromMicros(c), fromMicros(u)
	return d, err
}

func (s *sqlStore) ClaimGatewayDoc(ctx context.Context, d GatewayDoc) (GatewayDoc, bool, error) {
	if d.Gateway == "" || d.DocID == "" || (d.Direction != GatewayIn && d.Direction != GatewayOut) {
		return GatewayDoc{}, false, fmt.Errorf("claiming gateway document: gateway, direction (in|out) and doc id are required")
	}
	d.CreatedAt = orNow(d.CreatedAt)
	if d.UpdatedAt.IsZero() {
		d.UpdatedAt = d.CreatedAt
	}
	var out GatewayDoc
	var created bool
	err := s.write(ctx, func(tx *txx) error {
		res, err := tx.ExecContext(ctx, s.d.insertIgnore+" INTO gateway_docs ("+gatewayDocCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			d.Gateway, d.Direction, d.DocID, d.ExchangeID, d.Status, d.Detail, micros(d.CreatedAt), micros(d.UpdatedAt))
		if err != nil {
			return fmt.Errorf("claiming %s document %s: %w", d.Gateway, d.DocID, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("claiming %s document %s: %w", d.Gateway, d.DocID, err)
		}
		created = n == 1
		out, err = scanGatewayDoc(tx.QueryRowContext(ctx, "SELECT "+gatewayDocCols+" FROM gateway_docs WHERE gateway = ? AND direction = ? AND doc_id = ?", d.Gateway, d.Direction, d.DocID))
		if err != nil {
			return fmt.Errorf("reading %s document %s: %w", d.Gateway, d.DocID, err)
		}
		return nil
	})
	return out, created, err
}

func (s *sqlStore) UpdateGatewayDoc(ctx context.Context, d GatewayDoc) error {
	d.UpdatedAt = orNow(d.UpdatedAt)
	return s.write(ctx, func(tx *txx) error {
		res, err := tx.ExecContext(ctx, "UPDATE gateway_docs SET exchange_id = ?, status = ?, detail = ?, updated_at = ? WHERE gateway = ? AND direction = ? AND doc_id = ?",
			d.ExchangeID, d.Status, d.Detail, micros(d.UpdatedAt), d.Gateway, d.Direction, d.DocID)
		if err != nil {
			return fmt.Errorf("updating %s document %s: %w", d.Gateway, d.DocID, err)
		}
		// MySQL connections use CLIENT_FOUND_ROWS: matched rows, not changed ones.
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("updating %s document %s: %w", d.Gateway, d.DocID, err)
		} else if n == 0 {
			return bus.ErrNotFound.New("no %s document %s (%s)", d.Gateway, d.DocID, d.Direction)
		}
		return nil
	})
}

func (s *sqlStore) GetGatewayDoc(ctx context.Context, gateway, direction, docID string) (GatewayDoc, error) {
	d, err := scanGatewayDoc(s.queryRow(ctx, "SELECT "+gatewayDocCols+" FROM gateway_docs WHERE gateway = ? AND direction = ? AND doc_id = ?", gateway, direction, docID))
	if errors.Is(err, sql.ErrNoRows) {
		return GatewayDoc{}, bus.ErrNotFound.New("no %s document %s (%s)", gateway, docID, direction)
	}
	if err != nil {
		return GatewayDoc{}, fmt.Errorf("reading %s document %s: %w", gateway, docID, err)
	}
	return d, nil
}

func (s *sqlStore) PurgeGatewayDocs(ctx context.Context, gateway string, before time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *txx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM gateway_docs WHERE gateway = ? AND created_at < ?", gateway, micros(before))
		if err != nil {
			return fmt.Errorf("purging %s documents: %w", gateway, err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
