package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// SearchExchanges lists exchanges' metadata for the console (issue #12):
// sent by one of f.Sources, newest first; never payloads, policies or keys,
// and no recipients. Each source is read on its own through the index on
// (source, created_at), newest first with the limit, and the lists are
// merged, so that no query sorts a year of rows.
func (s *sqlStore) SearchExchanges(ctx context.Context, f ExchangeFilter) ([]Exchange, error) {
	if len(f.Sources) == 0 {
		return nil, nil
	}
	limit := limitOr(f.Limit)
	var where []string
	var args []any
	if f.Route != "" {
		where = append(where, "route = ?")
		args = append(args, f.Route)
	}
	if f.Status != "" {
		where = append(where, "status = ?")
		args = append(args, f.Status)
	}
	if !f.From.IsZero() {
		where = append(where, "created_at >= ?")
		args = append(args, micros(f.From))
	}
	if !f.To.IsZero() {
		where = append(where, "created_at < ?")
		args = append(args, micros(f.To))
	}
	q := "SELECT " + exchangeCols + " FROM exchanges WHERE source = ?"
	if len(where) > 0 {
		q += " AND " + strings.Join(where, " AND ")
	}
	q += " ORDER BY created_at DESC, id DESC LIMIT ?"
	var out []Exchange
	err := s.read(ctx, func(tx *txx) error {
		out = nil
		for _, src := range f.Sources {
			a := append(append([]any{src}, args...), limit)
			rows, err := tx.QueryContext(ctx, q, a...)
			if err != nil {
				return fmt.Errorf("searching exchanges: %w", err)
			}
			for rows.Next() {
				var e Exchange
				var t [4]int64
				if err := rows.Scan(exchangeDest(&e, &t)...); err != nil {
					rows.Close()
					return fmt.Errorf("searching exchanges: %w", err)
				}
				setExchangeTimes(&e, &t)
				e.Policy, e.WrappedKey = nil, nil
				out = append(out, e)
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				return fmt.Errorf("searching exchanges: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].ID > out[j].ID
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
