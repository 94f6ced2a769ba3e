package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tuyenquang/lgsp/bus"
)

// ---- Outbox: durable deliveries (issue #10, bus/delivery) ----

const outboxCols = "id, kind, target, exchange_id, payload, due_at, first_at, attempts, last_error, status, claimed_by, lease_token, history"

// maxHistory bounds the attempts kept per item: the oldest go first.
const maxHistory = 50

func insertOutbox(ctx context.Context, tx interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, it OutboxItem) error {
	payload := it.Payload
	if payload == nil {
		payload = []byte{}
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO outbox (kind, target, exchange_id, payload, due_at, first_at, attempts, last_error, status, claimed_by, claimed_until, lease_token, history) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '', 0, '', '')",
		it.Kind, it.Target, it.ExchangeID, payload, micros(it.DueAt), micros(it.FirstAt), it.Attempts, it.LastError, OutboxPending); err != nil {
		return fmt.Errorf("enqueueing %s to %s: %w", it.Kind, it.Target, err)
	}
	return nil
}

// insertOutboxItems enqueues items (pending) with one multi-row INSERT per
// eventsPerInsert of them.
func insertOutboxItems(ctx context.Context, tx *txx, items []OutboxItem) error {
	for len(items) > 0 {
		n := min(len(items), eventsPerInsert)
		q := "INSERT INTO outbox (kind, target, exchange_id, payload, due_at, first_at, attempts, last_error, status, claimed_by, claimed_until, lease_token, history) VALUES " +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, '', 0, '', ''), ", n), ", ")
		args := make([]any, 0, 9*n)
		for _, it := range items[:n] {
			payload := it.Payload
			if payload == nil {
				payload = []byte{}
			}
			args = append(args, it.Kind, it.Target, it.ExchangeID, payload, micros(it.DueAt), micros(it.FirstAt), it.Attempts, it.LastError, OutboxPending)
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("enqueueing %s to %s: %w", items[0].Kind, items[0].Target, err)
		}
		items = items[n:]
	}
	return nil
}

// EnqueueOutbox ignores it.ID and it.Status (the item is pending); a zero
// DueAt is now and a zero FirstAt is DueAt.
func (s *sqlStore) EnqueueOutbox(ctx context.Context, it OutboxItem) error {
	it.DueAt = orNow(it.DueAt)
	if it.FirstAt.IsZero() {
		it.FirstAt = it.DueAt
	}
	return insertOutbox(ctx, s.w, it)
}

func scanOutbox(rows *sql.Rows) ([]OutboxItem, error) {
	defer rows.Close()
	var out []OutboxItem
	for rows.Next() {
		var it OutboxItem
		var due, first int64
		var hist string
		if err := rows.Scan(&it.ID, &it.Kind, &it.Target, &it.ExchangeID, &it.Payload, &due, &first, &it.Attempts, &it.LastError, &it.Status, &it.ClaimedBy, &it.LeaseToken, &hist); err != nil {
			return nil, err
		}
		it.DueAt, it.FirstAt = fromMicros(due), fromMicros(first)
		if hist != "" {
			_ = json.Unmarshal([]byte(hist), &it.History) // a damaged history must not hide the item
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// ClaimDeliveries leases the items under one fresh token (see Claim).
func (s *sqlStore) ClaimDeliveries(ctx context.Context, c Claim) ([]OutboxItem, error) {
	now := orNow(c.Now)
	lease := c.Lease
	if lease <= 0 {
		lease = time.Minute
	}
	token := bus.RandomToken(16)
	q := "SELECT " + outboxCols + " FROM outbox WHERE status = ? AND due_at <= ? AND claimed_until <= ?"
	args := []any{OutboxPending, micros(now), micros(now)}
	for _, t := range c.Skip {
		q += " AND NOT (kind = ? AND target = ?)"
		args = append(args, t.Kind, t.Target)
	}
	q += " ORDER BY due_at, id LIMIT ?" + s.d.skipLocked
	args = append(args, limitOr(c.Limit))
	var out []OutboxItem
	err := s.write(ctx, func(tx *txx) error {
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("claiming outbox items: %w", err)
		}
		if out, err = scanOutbox(rows); err != nil {
			return fmt.Errorf("claiming outbox items: %w", err)
		}
		if len(out) == 0 {
			return nil
		}
		ids := make([]any, 0, len(out)+3)
		ids = append(ids, c.Node, micros(now.Add(lease)), token)
		for i := range out {
			ids = append(ids, out[i].ID)
			out[i].ClaimedBy, out[i].LeaseToken = c.Node, token
		}
		if _, err := tx.ExecContext(ctx, "UPDATE outbox SET claimed_by = ?, claimed_until = ?, lease_token = ? WHERE id IN ("+placeholders(len(out))+")", ids...); err != nil {
			return fmt.Errorf("leasing outbox items: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ExtendLease is the heartbeat of a claim: it moves the lease of every item
// still held under token to until, and reports how many it moved.
func (s *sqlStore) ExtendLease(ctx context.Context, token string, until time.Time) (int64, error) {
	if token == "" {
		return 0, nil
	}
	res, err := s.exec(ctx, "UPDATE outbox SET claimed_until = ? WHERE lease_token = ? AND status = ?", micros(until), token, OutboxPending)
	if err != nil {
		return 0, fmt.Errorf("extending outbox lease: %w", err)
	}
	return res.RowsAffected()
}

// FinishOutbox returns bus.ErrNotFound for an unknown item and
// bus.ErrLeaseLost when it.LeaseToken no longer holds the item (the lease
// ended and another claim took it, or an operator acted on it): the
// outcome of a stale holder is not recorded.
func (s *sqlStore) FinishOutbox(ctx context.Context, it OutboxItem) error {
	hist := ""
	if len(it.History) > 0 {
		h := it.History
		if len(h) > maxHistory {
			h = h[len(h)-maxHistory:]
		}
		b, err := json.Marshal(h)
		if err != nil {
			return fmt.Errorf("encoding history of outbox item %d: %w", it.ID, err)
		}
		hist = string(b)
	}
	res, err := s.exec(ctx, "UPDATE outbox SET attempts = ?, last_error = ?, status = ?, due_at = ?, first_at = ?, history = ?, claimed_by = '', claimed_until = 0, lease_token = '' WHERE id = ? AND lease_token = ? AND status = ?",
		it.Attempts, it.LastError, it.Status, micros(it.DueAt), micros(it.FirstAt), hist, it.ID, it.LeaseToken, OutboxPending)
	if err != nil {
		return fmt.Errorf("finishing outbox item %d: %w", it.ID, err)
	}
	return s.fenced(ctx, res, it.ID, "finishing")
}

// ReleaseOutbox gives an item back without counting an attempt (shutdown,
// a full queue); it is fenced like FinishOutbox.
func (s *sqlStore) ReleaseOutbox(ctx context.Context, id int64, token string) error {
	res, err := s.exec(ctx, "UPDATE outbox SET claimed_by = '', claimed_until = 0, lease_token = '' WHERE id = ? AND lease_token = ? AND status = ?", id, token, OutboxPending)
	if err != nil {
		return fmt.Errorf("releasing outbox item %d: %w", id, err)
	}
	return s.fenced(ctx, res, id, "releasing")
}

func (s *sqlStore) fenced(ctx context.Context, res sql.Result, id int64, what string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s outbox item %d: %w", what, id, err)
	}
	if n > 0 {
		return nil
	}
	var one int
	if err := s.queryRow(ctx, "SELECT 1 FROM outbox WHERE id = ?", id).Scan(&one); err == sql.ErrNoRows {
		return bus.ErrNotFound.New("outbox item %d", id)
	} else if err != nil {
		return fmt.Errorf("%s outbox item %d: %w", what, id, err)
	}
	return bus.ErrLeaseLost.New("outbox item %d", id)
}

// ReleaseNodeLeases frees every pending item leased by node: a restarted
// node calls it before claiming, since nothing of its previous life runs.
func (s *sqlStore) ReleaseNodeLeases(ctx context.Context, node string) (int64, error) {
	if node == "" {
		return 0, nil
	}
	res, err := s.exec(ctx, "UPDATE outbox SET claimed_by = '', claimed_until = 0, lease_token = '' WHERE claimed_by = ? AND status = ?", node, OutboxPending)
	if err != nil {
		return 0, fmt.Errorf("releasing leases of %s: %w", node, err)
	}
	return res.RowsAffected()
}

func (f OutboxFilter) where() (string, []any) {
	var conds []string
	var args []any
	add := func(c string, v any) { conds = append(conds, c); args = append(args, v) }
	if f.Status != "" {
		add("status = ?", f.Status)
	}
	if f.ID != 0 {
		add("id = ?", f.ID)
	}
	if f.Kind != "" {
		add("kind = ?", f.Kind)
	}
	if f.Target != "" {
		add("target = ?", f.Target)
	}
	if f.ExchangeID != "" {
		add("exchange_id = ?", f.ExchangeID)
	}
	if f.BeforeID != 0 {
		add("id < ?", f.BeforeID)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// ListDeliveries lists the items f selects, newest first.
func (s *sqlStore) ListDeliveries(ctx context.Context, f OutboxFilter) ([]OutboxItem, error) {
	w, args := f.where()
	rows, err := s.query(ctx, "SELECT "+outboxCols+" FROM outbox"+w+" ORDER BY id DESC LIMIT ?", append(args, limitOr(f.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("listing outbox: %w", err)
	}
	out, err := scanOutbox(rows)
	if err != nil {
		return nil, fmt.Errorf("listing outbox: %w", err)
	}
	return out, nil
}

// RequeueDead makes up to f.Limit dead items f selects pending again, due
// at now with a fresh attempt budget (their history stays), and returns
// them.
func (s *sqlStore) RequeueDead(ctx context.Context, f OutboxFilter, now time.Time) ([]OutboxItem, error) {
	return s.actOnDead(ctx, f, func(tx *txx, ids []any) error {
		_, err := tx.ExecContext(ctx, "UPDATE outbox SET status = ?, attempts = 0, due_at = ?, first_at = ?, claimed_by = '', claimed_until = 0, lease_token = '' WHERE status = ? AND id IN ("+placeholders(len(ids))+")",
			append([]any{OutboxPending, micros(orNow(now)), micros(orNow(now)), OutboxDead}, ids...)...)
		return err
	})
}

// DiscardDead deletes up to f.Limit dead items f selects and returns them.
func (s *sqlStore) DiscardDead(ctx context.Context, f OutboxFilter) ([]OutboxItem, error) {
	return s.actOnDead(ctx, f, func(tx *txx, ids []any) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM outbox WHERE status = ? AND id IN ("+placeholders(len(ids))+")", append([]any{OutboxDead}, ids...)...)
		return err
	})
}

func (s *sqlStore) actOnDead(ctx context.Context, f OutboxFilter, act func(tx *txx, ids []any) error) ([]OutboxItem, error) {
	f.Status = OutboxDead
	w, args := f.where()
	var out []OutboxItem
	err := s.write(ctx, func(tx *txx) error {
		rows, err := tx.QueryContext(ctx, "SELECT "+outboxCols+" FROM outbox"+w+" ORDER BY id LIMIT ?"+s.d.forUpdate, append(args, limitOr(f.Limit))...)
		if err != nil {
			return fmt.Errorf("selecting dead letters: %w", err)
		}
		if out, err = scanOutbox(rows); err != nil || len(out) == 0 {
			return err
		}
		ids := make([]any, len(out))
		for i := range out {
			ids[i] = out[i].ID
		}
		if err := act(tx, ids); err != nil {
			return fmt.Errorf("acting on dead letters: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PruneOutbox deletes up to limit delivered (done) items last due before
// before.
func (s *sqlStore) PruneOutbox(ctx context.Context, before time.Time, limit int) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *txx) error {
		n = 0
		rows, err := tx.QueryContext(ctx, "SELECT id FROM outbox WHERE status = ? AND due_at < ? ORDER BY id LIMIT ?", OutboxDone, micros(before), limitOr(limit))
		if err != nil {
			return fmt.Errorf("listing delivered outbox items: %w", err)
		}
		var ids []any
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(ids) == 0 {
			return err
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM outbox WHERE id IN ("+placeholders(len(ids))+")", ids...)
		if err != nil {
			return fmt.Errorf("pruning delivered outbox items: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
