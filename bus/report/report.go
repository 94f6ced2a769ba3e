package report

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
)

// Groupings and periods.
var (
	Bys     = []string{"unit", "system", "route", "type"}
	Periods = []string{"", "day", "month", "quarter", "year"}
)

// Query is what a report covers: the days From..To (inclusive, in
// Asia/Ho_Chi_Minh), grouped By, split by Every period ("" = the whole
// range), limited to one Unit if set (a unit reading its own figures).
type Query struct {
	From, To time.Time
	By       string
	Every    string
	Unit     string
}

// Line is one line of a report. Sent, Confirmed, Failed, Expired, Bytes
// and the times count documents the group sent (one per recipient);
// Received counts documents addressed to the group.
type Line struct {
	Period    string        `json:"period,omitempty"`
	Key       string        `json:"key"`
	Unit      string        `json:"unit,omitempty"` // when grouping by system
	Sent      int64         `json:"sent"`
	Received  int64         `json:"received"`
	Confirmed int64         `json:"confirmed"`
	Failed    int64         `json:"failed"`
	Expired   int64         `json:"expired"`
	Bytes     int64         `json:"bytes"`
	P50       time.Duration `json:"p50_ns"`
	P95       time.Duration `json:"p95_ns"`
	hist      [store.LatencyBuckets]int64
}

// Report is a built report.
type Report struct {
	Query Query  `json:"query"`
	Lines []Line `json:"lines"`
	Total Line   `json:"total"`
}

// Validate checks a query (coded refusals, nothing echoed but the
// allowed values).
func (q Query) Validate() error {
	if !contains(Bys, q.By) {
		return bus.ErrBadRequest.New("by must be one of unit, system, route, type")
	}
	if !contains(Periods, q.Every) {
		return bus.ErrBadRequest.New("every must be one of day, month, quarter, year")
	}
	if q.From.IsZero() || q.To.IsZero() || q.To.Before(q.From) {
		return bus.ErrBadRequest.New("from and to must be dates, from not after to")
	}
	if q.To.Sub(q.From) > 20*366*24*time.Hour {
		return bus.ErrBadRequest.New("a report covers at most 20 years")
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Build reads the rollups of q and sums them into lines.
func Build(ctx context.Context, st store.StatsStore, q Query) (Report, error) {
	if err := q.Validate(); err != nil {
		return Report{}, err
	}
	rows, err := st.Stats(ctx, store.StatsQuery{From: store.Day(q.From), To: store.Day(q.To), By: q.By, Unit: q.Unit, PerDay: q.Every != "", DaysOnly: q.Every == "day"})
	if err != nil {
		return Report{}, err
	}
	rep := Report{Query: q, Total: Line{Key: "Tổng cộng"}}
	idx := map[[2]string]int{}
	for _, r := range rows {
		k := [2]string{periodOf(r.Day, q.Every), keyOf(r, q.By)}
		i, ok := idx[k]
		if !ok {
			i = len(rep.Lines)
			idx[k] = i
			rep.Lines = append(rep.Lines, Line{Period: k[0], Key: k[1]})
			if q.By == "system" {
				rep.Lines[i].Unit = r.Unit
			}
		}
		add(&rep.Lines[i], r)
		add(&rep.Total, r)
	}
	sort.SliceStable(rep.Lines, func(a, b int) bool {
		if rep.Lines[a].Period != rep.Lines[b].Period {
			return rep.Lines[a].Period < rep.Lines[b].Period
		}
		return rep.Lines[a].Key < rep.Lines[b].Key
	})
	for i := range rep.Lines {
		finish(&rep.Lines[i])
	}
	finish(&rep.Total)
	return rep, nil
}

func keyOf(r store.StatsRow, by string) string {
	switch by {
	case "unit":
		return r.Unit
	case "system":
		return r.SystemCode
	case "route":
		return r.Route
	}
	return r.DataType
}

// periodOf names the period of a day (yyyymmdd): 2026-03-14, 2026-03,
// 2026-Q1, 2026; "" for the whole range.
func periodOf(day int, every string) string {
	y, m, d := day/10000, day/100%100, day%100
	switch every {
	case "day":
		return fmt.Sprintf("%04d-%02d-%02d", y, m, d)
	case "month":
		return fmt.Sprintf("%04d-%02d", y, m)
	case "quarter":
		return fmt.Sprintf("%04d-Q%d", y, (m-1)/3+1)
	case "year":
		return fmt.Sprintf("%04d", y)
	}
	return ""
}

func add(l *Line, r store.StatsRow) {
	if r.Direction == store.DirIn {
		l.Received += r.Docs
		return
	}
	l.Sent += r.Docs
	l.Confirmed += r.Confirmed
	l.Failed += r.Failed
	l.Expired += r.Expired
	l.Bytes += r.Bytes
	for i, n := range r.Latency {
		l.hist[i] += n
	}
}

func finish(l *Line) {
	l.P50, l.P95 = Percentile(l.hist, 0.50), Percentile(l.hist, 0.95)
}

// Percentile returns the upper bound of the histogram bucket holding the
// p-th request→confirmation time (0 when there is none; the last bucket,
// past a week, reports its lower bound).
func Percentile(h [store.LatencyBuckets]int64, p float64) time.Duration {
	var total int64
	for _, n := range h {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := int64(p*float64(total) + 0.999999)
	var seen int64
	for i, n := range h {
		seen += n
		if seen >= rank {
			if i < len(store.LatencyBounds) {
				return store.LatencyBounds[i]
			}
			break
		}
	}
	return store.LatencyBounds[len(store.LatencyBounds)-1]
}
