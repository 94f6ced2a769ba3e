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
// merged, so that no query sorts a year of rows: a first pass reads only
// the creation times to find the cutoff of the page, a second the rows at
// or after it.
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
	cond := "source = ?"
	if len(where) > 0 {
		cond += " AND " + strings.Join(where, " AND ")
	}
	var out []Exchange
	err := s.read(ctx, func(tx *txx) error {
		out = nil
		// First pass: the creation times only (without filters, from the
		// index alone), to find the oldest time that can make the page.
		var times []int64
		for _, src := range f.Sources {
			rows, err := tx.QueryContext(ctx, "SELECT created_at FROM exchanges WHERE "+cond+" ORDER BY created_at DESC LIMIT ?", append(append([]any{src}, args...), limit)...)
			if err != nil {
				return fmt.Errorf("searching exchanges: %w", err)
			}
			for rows.Next() {
				var t int64
				if err := rows.Scan(&t); err != nil {
					rows.Close()
					return fmt.Errorf("searching exchanges: %w", err)
				}
				times = append(times, t)
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				return fmt.Errorf("searching exchanges: %w", err)
			}
		}
		if len(times) == 0 {
			return nil
		}
		sort.Slice(times, func(i, j int) bool { return times[i] > times[j] })
		cutoff := times[min(limit, len(times))-1]
		// Second pass: the whole rows of the sources that have rows at or
		// after the cutoff.
		for _, src := range f.Sources {
			rows, err := tx.QueryContext(ctx, "SELECT "+exchangeCols+" FROM exchanges WHERE "+cond+" AND created_at >= ? ORDER BY created_at DESC, id DESC LIMIT ?",
				append(append([]any{src}, args...), cutoff, limit)...)
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
