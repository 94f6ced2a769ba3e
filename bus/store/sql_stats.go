package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// ---- Statistics (issue #11, R7): rollups kept as exchanges finish ----

// histCols lists the histogram columns h00…h21.
var histCols = func() []string {
	out := make([]string, LatencyBuckets)
	for i := range out {
		out[i] = fmt.Sprintf("h%02d", i)
	}
	return out
}()

// LatencyBucket returns the histogram bucket of a request→confirmation time.
func LatencyBucket(d time.Duration) int {
	for i, b := range LatencyBounds {
		if d <= b {
			return i
		}
	}
	return len(LatencyBounds)
}

// clip keeps at most n characters of s (the rollup key columns are
// VARCHAR(255) on MySQL).
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// upsertStats adds each row to its rollup row and to its month's row (day
// yyyymm00: a report over whole months reads a twelfth of the rows), with
// one multi-row upsert per statsPerUpsert rows.
func (s *sqlStore) upsertStats(ctx context.Context, tx *txx, rows []StatsRow) error {
	all := make([]StatsRow, 0, 2*len(rows))
	for _, r := range rows {
		all = append(all, r)
		r.Day = MonthOf(r.Day)
		all = append(all, r)
	}
	cols := append([]string{"day", "system_code", "unit", "route", "data_type", "direction", "docs", "confirmed", "failed", "expired", "bytes"}, histCols...)
	var sets []string
	for _, c := range cols[6:] {
		if s.d.name == "mysql" {
			sets = append(sets, c+" = "+c+" + VALUES("+c+")")
		} else {
			sets = append(sets, c+" = "+c+" + excluded."+c)
		}
	}
	tail := " ON CONFLICT (day, system_code, route, data_type, direction) DO UPDATE SET " + strings.Join(sets, ", ")
	if s.d.name == "mysql" {
		tail = " ON DUPLICATE KEY UPDATE " + strings.Join(sets, ", ")
	}
	row := "(" + placeholders(len(cols)) + ")"
	for len(all) > 0 {
		n := min(len(all), statsPerUpsert)
		args := make([]any, 0, n*len(cols))
		for _, r := range all[:n] {
			args = append(args, r.Day, r.SystemCode, clip(r.Unit, 255), clip(r.Route, 255), clip(r.DataType, 255), r.Direction, r.Docs, r.Confirmed, r.Failed, r.Expired, r.Bytes)
			for _, v := range r.Latency {
				args = append(args, v)
			}
		}
		q := "INSERT INTO stats_daily (" + strings.Join(cols, ", ") + ") VALUES " + strings.TrimSuffix(strings.Repeat(row+", ", n), ", ") + tail
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("updating statistics: %w", err)
		}
		all = all[n:]
	}
	return nil
}

// statsPerUpsert bounds the rows of one upsert (33 parameters each).
const statsPerUpsert = 64

// rollupExchange adds a finished exchange to the rollups, inside the Purge
// transaction (so it counts exactly once): for the sender one document per
// recipient (DirOut), for each recipient one document (DirIn). Only
// metadata is read: codes, route, data type, size, statuses and times —
// with one query, and written with one upsert.
func (s *sqlStore) rollupExchange(ctx context.Context, tx *txx, id string) error {
	rows, err := tx.QueryContext(ctx, "SELECT e.source, e.route, e.data_type, e.size, e.created_at, COALESCE(su.unit, ''), r.code, r.status, r.done_at, COALESCE(ru.unit, '')"+
		" FROM exchanges e LEFT JOIN systems su ON su.code = e.source LEFT JOIN recipients r ON r.exchange_id = e.id LEFT JOIN systems ru ON ru.code = r.code WHERE e.id = ?", id)
	if err != nil {
		return fmt.Errorf("reading exchange %s for statistics: %w", id, err)
	}
	type rcp struct {
		code, status, unit string
		done               int64
	}
	var rs []rcp
	var src, route, dtype, srcUnit string
	var size, created int64
	found := false
	for rows.Next() {
		var code, status sql.NullString
		var done sql.NullInt64
		var unit string
		if err := rows.Scan(&src, &route, &dtype, &size, &created, &srcUnit, &code, &status, &done, &unit); err != nil {
			rows.Close()
			return fmt.Errorf("reading exchange %s for statistics: %w", id, err)
		}
		found = true
		if code.Valid {
			rs = append(rs, rcp{code: code.String, status: status.String, unit: unit, done: done.Int64})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading exchange %s for statistics: %w", id, err)
	}
	if !found {
		return fmt.Errorf("reading exchange %s for statistics: %w", id, sql.ErrNoRows)
	}
	day := Day(fromMicros(created))
	out := StatsRow{Day: day, SystemCode: src, Unit: srcUnit, Route: route, DataType: dtype, Direction: DirOut}
	ups := make([]StatsRow, 0, len(rs)+1)
	for _, r := range rs {
		in := StatsRow{Day: day, SystemCode: r.code, Unit: r.unit, Route: route, DataType: dtype, Direction: DirIn, Docs: 1}
		countOutcome(&in, r.status, size, r.done-created)
		out.Docs++
		countOutcome(&out, r.status, size, r.done-created)
		ups = append(ups, in)
	}
	if len(rs) == 0 {
		out.Docs = 1
		out.Failed = 1
	}
	return s.upsertStats(ctx, tx, append(ups, out))
}

// MonthOf returns the month row's day of a day: yyyymm00.
func MonthOf(day int) int { return day - day%100 }

// statsRange returns the WHERE clause selecting the rollup rows of the days
// from..to: month rows for the whole months inside, day rows for the days
// before and after them (or day rows only).
func statsRange(from, to int, daysOnly bool) (string, []any) {
	const days = "(day >= ? AND day <= ? AND day % 100 <> 0)"
	if daysOnly {
		return days, []any{from, to}
	}
	first, last := firstWholeMonth(from), lastWholeMonth(to)
	if first > last {
		return days, []any{from, to}
	}
	// Days before the first whole month, the whole months, days after. The
	// month rows are named one by one: a range first..last would walk every
	// day row between them in the primary key (they sort among the days),
	// the list seeks each month's rows only (the console's reports over a
	// year, issue #12: a twelfth of the key's entries).
	months := []any{from, first - 1, last + 100, to}
	for m := first; m <= last; m = nextMonth(m) {
		months = append(months, m)
	}
	return "(" + days + " OR " + days + " OR day IN (" + placeholders(len(months)-4) + "))", months
}

// nextMonth returns the month row's day after month (yyyymm00).
func nextMonth(month int) int {
	if month/100%100 == 12 {
		return (month/10000+1)*10000 + 100
	}
	return month + 100
}

// firstWholeMonth returns yyyymm00 of the first month that starts on or
// after day.
func firstWholeMonth(day int) int {
	if day%100 <= 1 {
		return MonthOf(day)
	}
	t := time.Date(day/10000, time.Month(day/100%100), 1, 0, 0, 0, 0, time.UTC).AddDate(0, 1, 0)
	return t.Year()*10000 + int(t.Month())*100
}

// lastWholeMonth returns yyyymm00 of the last month that ends on or before
// day.
func lastWholeMonth(day int) int {
	t := time.Date(day/10000, time.Month(day/100%100), day%100, 0, 0, 0, 0, time.UTC)
	if t.AddDate(0, 0, 1).Day() == 1 { // the month's last day
		return MonthOf(day)
	}
	p := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0)
	return p.Year()*10000 + int(p.Month())*100
}

// countOutcome adds one recipient's final status to r; waitMicros is the
// time from the request (F2) to the final status.
func countOutcome(r *StatsRow, status string, size, waitMicros int64) {
	switch status {
	case RecipientConfirmed:
		r.Confirmed++
		r.Bytes += size
		if waitMicros < 0 {
			waitMicros = 0
		}
		r.Latency[LatencyBucket(time.Duration(waitMicros)*time.Microsecond)]++
	case RecipientExpired, RecipientCancelled:
		r.Expired++
	default: // rejected, failed
		r.Failed++
	}
}

// recordConnDay adds a connection to its system's day.
func (s *sqlStore) recordConnDay(ctx context.Context, tx *txx, code string, at time.Time) error {
	t := micros(at)
	q := "INSERT INTO conn_daily (day, system_code, first_at, last_at, n) VALUES (?, ?, ?, ?, 1) "
	if s.d.name == "mysql" {
		q += "ON DUPLICATE KEY UPDATE first_at = LEAST(first_at, VALUES(first_at)), last_at = GREATEST(last_at, VALUES(last_at)), n = n + 1"
	} else {
		q += "ON CONFLICT (day, system_code) DO UPDATE SET first_at = MIN(first_at, excluded.first_at), last_at = MAX(last_at, excluded.last_at), n = n + 1"
	}
	if _, err := tx.ExecContext(ctx, q, Day(at), code, t, t); err != nil {
		return fmt.Errorf("recording connection day of %s: %w", code, err)
	}
	return nil
}

// statsGroup maps a report grouping to its column(s).
var statsGroup = map[string]string{
	"unit":   "unit",
	"system": "system_code, unit",
	"route":  "route",
	"type":   "data_type",
}

func (s *sqlStore) Stats(ctx context.Context, q StatsQuery) ([]StatsRow, error) {
	grp, ok := statsGroup[q.By]
	if !ok {
		return nil, fmt.Errorf("statistics: unknown grouping %q", q.By)
	}
	sums := []string{"SUM(docs)", "SUM(confirmed)", "SUM(failed)", "SUM(expired)", "SUM(bytes)"}
	for _, c := range histCols {
		sums = append(sums, "SUM("+c+")")
	}
	where, args := statsRange(q.From, q.To, q.DaysOnly)
	if q.Unit != "" {
		where += " AND unit = ?"
		args = append(args, q.Unit)
	}
	if q.PerDay {
		grp = "day, " + grp
	}
	sqlq := "SELECT " + grp + ", direction, " + strings.Join(sums, ", ") + " FROM stats_daily WHERE " + where +
		" GROUP BY " + grp + ", direction ORDER BY " + grp + ", direction"
	rows, err := s.query(ctx, sqlq, args...)
	if err != nil {
		return nil, fmt.Errorf("reading statistics: %w", err)
	}
	return collect(rows, func(sc interface{ Scan(...any) error }) (StatsRow, error) {
		var r StatsRow
		var dst []any
		if q.PerDay {
			dst = append(dst, &r.Day)
		}
		switch q.By {
		case "unit":
			dst = append(dst, &r.Unit)
		case "system":
			dst = append(dst, &r.SystemCode, &r.Unit)
		case "route":
			dst = append(dst, &r.Route)
		case "type":
			dst = append(dst, &r.DataType)
		}
		dst = append(dst, &r.Direction, &r.Docs, &r.Confirmed, &r.Failed, &r.Expired, &r.Bytes)
		for i := range r.Latency {
			dst = append(dst, &r.Latency[i])
		}
		err := sc.Scan(dst...)
		return r, err
	})
}

func (s *sqlStore) ConnDays(ctx context.Context, from, to int, systemCode string) ([]ConnDay, error) {
	q := "SELECT day, system_code, first_at, last_at, n FROM conn_daily WHERE day >= ? AND day <= ?"
	args := []any{from, to}
	if systemCode != "" {
		q += " AND system_code = ?"
		args = append(args, systemCode)
	}
	rows, err := s.query(ctx, q+" ORDER BY day, system_code", args...)
	if err != nil {
		return nil, fmt.Errorf("reading connection history: %w", err)
	}
	return collect(rows, func(sc interface{ Scan(...any) error }) (ConnDay, error) {
		var c ConnDay
		var f, l int64
		err := sc.Scan(&c.Day, &c.SystemCode, &f, &l, &c.Count)
		c.First, c.Last = fromMicros(f), fromMicros(l)
		return c, err
	})
}

func (s *sqlStore) PruneMetadata(ctx context.Context, before time.Time) (int64, error) {
	t, day := micros(before), Day(before)
	var total int64
	steps := []struct {
		what, q string
		arg     any
	}{
		{"rollups", "DELETE FROM stats_daily WHERE day < ?", day},
		{"connection days", "DELETE FROM conn_daily WHERE day < ?", day},
		{"connections", "DELETE FROM connections WHERE connected_at < ?", t},
		{"events", "DELETE FROM events WHERE exchange_id IN (SELECT id FROM exchanges WHERE purged_at > 0 AND purged_at < ?)", t},
		{"recipients", "DELETE FROM recipients WHERE exchange_id IN (SELECT id FROM exchanges WHERE purged_at > 0 AND purged_at < ?)", t},
		{"exchanges", "DELETE FROM exchanges WHERE purged_at > 0 AND purged_at < ? AND id NOT IN (SELECT exchange_id FROM recipients)", t},
	}
	for _, st := range steps {
		res, err := s.exec(ctx, st.q, st.arg)
		if err != nil {
			return total, fmt.Errorf("pruning %s: %w", st.what, err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}
