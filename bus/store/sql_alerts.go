package store

import (
	"context"
	"fmt"
	"time"
)

// ---- Firing alerts and the backlog (issue #11) ----

func (s *sqlStore) ListAlerts(ctx context.Context) ([]AlertState, error) {
	rows, err := s.query(ctx, "SELECT alert_key, rule, subject, since, last_sent, detail FROM alerts ORDER BY alert_key")
	if err != nil {
		return nil, fmt.Errorf("listing alerts: %w", err)
	}
	defer rows.Close()
	var out []AlertState
	for rows.Next() {
		var a AlertState
		var since, sent int64
		if err := rows.Scan(&a.Key, &a.Rule, &a.Subject, &since, &sent, &a.Detail); err != nil {
			return nil, err
		}
		a.Since, a.LastSent = fromMicros(since), fromMicros(sent)
		out = append(out, a)
	}
	return out, rows.Err()
}

func (s *sqlStore) PutAlert(ctx context.Context, a AlertState) error {
	return s.write(ctx, func(tx *txx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM alerts WHERE alert_key = ?", a.Key); err != nil {
			return fmt.Errorf("replacing alert: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO alerts (alert_key, rule, subject, since, last_sent, detail) VALUES (?, ?, ?, ?, ?, ?)",
			a.Key, a.Rule, a.Subject, micros(a.Since), micros(a.LastSent), a.Detail); err != nil {
			return fmt.Errorf("storing alert: %w", err)
		}
		return nil
	})
}

func (s *sqlStore) DeleteAlert(ctx context.Context, key string) error {
	return s.write(ctx, func(tx *txx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM alerts WHERE alert_key = ?", key); err != nil {
			return fmt.Errorf("deleting alert: %w", err)
		}
		return nil
	})
}

func (s *sqlStore) Backlog(ctx context.Context, now time.Time) (Backlog, error) {
	var b Backlog
	var oldest int64
	if err := s.queryRow(ctx, "SELECT COUNT(*), COALESCE(MIN(first_at), 0) FROM outbox WHERE status = ?", OutboxPending).Scan(&b.OutboxPending, &oldest); err != nil {
		return b, fmt.Errorf("counting pending outbox items: %w", err)
	}
	if oldest > 0 {
		b.OldestPending = fromMicros(oldest)
	}
	if err := s.queryRow(ctx, "SELECT COUNT(*) FROM outbox WHERE status = ?", OutboxDead).Scan(&b.OutboxDead); err != nil {
		return b, fmt.Errorf("counting dead outbox items: %w", err)
	}
	if err := s.queryRow(ctx, "SELECT COUNT(*) FROM recipients WHERE status = ? AND due_at <= ?", RecipientPlanned, micros(now)).Scan(&b.Due); err != nil {
		return b, fmt.Errorf("counting due recipients: %w", err)
	}
	return b, nil
}
