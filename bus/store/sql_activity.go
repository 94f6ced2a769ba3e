package store

import (
	"context"
	"fmt"
	"strings"
)

// ---- Activity log (issue #11, M5/M6) ----

const activityCols = "node, seq, at, kind, actor, system_code, unit, subject, outcome, detail, event_id, prev_hash, hash"

func scanActivity(sc interface{ Scan(...any) error }) (ActivityEntry, error) {
	var e ActivityEntry
	var at int64
	err := sc.Scan(&e.Node, &e.Seq, &at, &e.Kind, &e.Actor, &e.SystemCode, &e.Unit, &e.Subject, &e.Outcome, &e.Detail, &e.EventID, &e.PrevHash, &e.Hash)
	e.At = fromMicros(at)
	return e, err
}

func (s *sqlStore) AppendActivity(ctx context.Context, entries []ActivityEntry) error {
	if len(entries) == 0 {
		return nil
	}
	return s.write(ctx, func(tx *txx) error {
		// Multi-row INSERTs of up to activityRows entries: a batch of a
		// few hundred (the entries that waited for one commit) costs a few
		// statements, not one per entry.
		for len(entries) > 0 {
			n := min(len(entries), activityRows)
			args := make([]any, 0, 13*n)
			for _, e := range entries[:n] {
				args = append(args, e.Node, e.Seq, micros(e.At), e.Kind, clip(e.Actor, 255), e.SystemCode, clip(e.Unit, 255), clip(e.Subject, 255), clip(e.Outcome, 255), e.Detail, e.EventID, e.PrevHash, e.Hash)
			}
			row := "(" + placeholders(13) + ")"
			if _, err := tx.ExecContext(ctx, "INSERT INTO activity_log ("+activityCols+") VALUES "+row+strings.Repeat(", "+row, n-1), args...); err != nil {
				return fmt.Errorf("appending activity %s/%d…%d: %w", entries[0].Node, entries[0].Seq, entries[n-1].Seq, err)
			}
			entries = entries[n:]
		}
		return nil
	})
}

// activityRows bounds the rows of one INSERT (13 parameters each, far
// below the limits of SQLite and MariaDB).
const activityRows = 100

func (s *sqlStore) ActivityHead(ctx context.Context, node string) (ActivityEntry, bool, int64, error) {
	rows, err := s.query(ctx, "SELECT "+activityCols+" FROM activity_log WHERE node = ? ORDER BY seq DESC LIMIT 1", node)
	if err != nil {
		return ActivityEntry{}, false, 0, fmt.Errorf("reading activity head: %w", err)
	}
	last, err := collect(rows, scanActivity)
	if err != nil {
		return ActivityEntry{}, false, 0, fmt.Errorf("reading activity head: %w", err)
	}
	var maxEv int64
	if err := s.queryRow(ctx, "SELECT COALESCE(MAX(event_id), 0) FROM activity_log WHERE node = ?", node).Scan(&maxEv); err != nil {
		return ActivityEntry{}, false, 0, fmt.Errorf("reading activity head: %w", err)
	}
	if len(last) == 0 {
		return ActivityEntry{}, false, maxEv, nil
	}
	return last[0], true, maxEv, nil
}

func (s *sqlStore) ActivityChain(ctx context.Context, node string, after int64, limit int) ([]ActivityEntry, error) {
	rows, err := s.query(ctx, "SELECT "+activityCols+" FROM activity_log WHERE node = ? AND seq > ? ORDER BY seq LIMIT ?", node, after, limitOr(limit))
	if err != nil {
		return nil, fmt.Errorf("reading activity chain: %w", err)
	}
	return collect(rows, scanActivity)
}

func (s *sqlStore) ActivityNodes(ctx context.Context) ([]string, error) {
	return s.queryIDs(ctx, "listing activity nodes",
		"SELECT node FROM activity_log GROUP BY node UNION SELECT node FROM activity_checkpoints GROUP BY node ORDER BY 1")
}

func (s *sqlStore) ListActivity(ctx context.Context, f ActivityFilter) ([]ActivityEntry, error) {
	q := "SELECT " + activityCols + " FROM activity_log WHERE 1 = 1"
	var args []any
	if f.Unit != "" {
		q += " AND unit = ?"
		args = append(args, f.Unit)
	}
	if f.SystemCode != "" {
		q += " AND system_code = ?"
		args = append(args, f.SystemCode)
	}
	if f.ErrorsOnly {
		q += " AND outcome <> 'ok'"
	}
	if !f.From.IsZero() {
		q += " AND at >= ?"
		args = append(args, micros(f.From))
	}
	if !f.To.IsZero() {
		q += " AND at < ?"
		args = append(args, micros(f.To))
	}
	rows, err := s.query(ctx, q+" ORDER BY at DESC, node, seq DESC LIMIT ?", append(args, limitOr(f.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("listing activity: %w", err)
	}
	return collect(rows, scanActivity)
}

func (s *sqlStore) AddCheckpoint(ctx context.Context, c ActivityCheckpoint) error {
	if _, err := s.exec(ctx, "INSERT INTO activity_checkpoints (node, seq, hash, at, key_id, sig) VALUES (?, ?, ?, ?, ?, ?)",
		c.Node, c.Seq, c.Hash, micros(orNow(c.At)), c.KeyID, c.Sig); err != nil {
		return fmt.Errorf("storing activity checkpoint %s/%d: %w", c.Node, c.Seq, err)
	}
	return nil
}

func (s *sqlStore) Checkpoints(ctx context.Context, node string) ([]ActivityCheckpoint, error) {
	rows, err := s.query(ctx, "SELECT node, seq, hash, at, key_id, sig FROM activity_checkpoints WHERE node = ? ORDER BY seq", node)
	if err != nil {
		return nil, fmt.Errorf("reading activity checkpoints: %w", err)
	}
	return collect(rows, func(sc interface{ Scan(...any) error }) (ActivityCheckpoint, error) {
		var c ActivityCheckpoint
		var at int64
		err := sc.Scan(&c.Node, &c.Seq, &c.Hash, &at, &c.KeyID, &c.Sig)
		c.At = fromMicros(at)
		return c, err
	})
}
