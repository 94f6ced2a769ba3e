package store

import (
	"context"
	"time"
)

// Directions of a stats row.
const (
	DirOut = "out" // the system sent the documents
	DirIn  = "in"  // the system was a recipient
)

// LatencyBounds are the upper bounds of the histogram buckets of
// request→confirmation times kept in the rollups (columns h00…h21; the last
// bucket has no bound). Percentiles are reported as the bound of the bucket
// they fall in: "at most this long".
var LatencyBounds = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 20 * time.Second,
	30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute,
	20 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour,
	8 * time.Hour, 12 * time.Hour, 24 * time.Hour, 48 * time.Hour, 72 * time.Hour,
	7 * 24 * time.Hour,
}

// LatencyBuckets is the number of histogram buckets (len(LatencyBounds)+1).
const LatencyBuckets = 22

// StatsZone is the zone of the days of the rollups (Vietnam keeps no
// daylight saving time, so a fixed zone is exact).
var StatsZone = time.FixedZone("ICT", 7*3600)

// Day returns the rollup day of t: yyyymmdd in StatsZone.
func Day(t time.Time) int {
	y, m, d := t.In(StatsZone).Date()
	return y*10000 + int(m)*100 + d
}

// StatsRow is one rollup row, or the sum of several (a report line). Each
// finished exchange is added to a day row (Day yyyymmdd) and to a month
// row (Day yyyymm00).
// Docs counts documents sent (DirOut) or addressed to the system (DirIn),
// one per recipient of an exchange.
type StatsRow struct {
	Day        int // yyyymmdd; 0 in sums over days
	SystemCode string
	Unit       string
	Route      string
	DataType   string
	Direction  string
	Docs       int64
	Confirmed  int64
	Failed     int64
	Expired    int64
	Bytes      int64
	Latency    [LatencyBuckets]int64 // request→confirmation histogram
}

// StatsQuery selects rollup rows: days From..To inclusive (yyyymmdd), grouped
// by one column ("unit", "system", "route", "type") and the direction; Unit,
// if set, keeps only rows of that unit.
type StatsQuery struct {
	From, To int
	By       string
	Unit     string
	PerDay   bool // one row per rollup row too (Day set), for reports by period
	// DaysOnly reads day rows only. Otherwise whole months inside From..To
	// are read from month rows (Day yyyymm00), a twelfth of the rows.
	DaysOnly bool
}

// ConnDay is the connection history of one system on one day (R7).
type ConnDay struct {
	Day        int
	SystemCode string
	First      time.Time
	Last       time.Time
	Count      int64
}

// StatsStore keeps the statistics of issue #11 (R7): rollups written by
// Purge as exchanges finish and by RecordConnection, read by reports.
type StatsStore interface {
	// Stats sums the rollups of q, one row per group and direction, ordered
	// by group then direction; Day is 0 and the grouping column holds the
	// group (the others are empty, except Unit when grouping by system).
	Stats(ctx context.Context, q StatsQuery) ([]StatsRow, error)
	// ConnDays lists the connection history of days From..To, by day then
	// system; systemCode, if set, keeps only that system.
	ConnDays(ctx context.Context, from, to int, systemCode string) ([]ConnDay, error)
	// PruneMetadata deletes metadata older than before (R2 keeps no payload
	// anyway): rollup and connection days, connections, purged exchanges
	// with their recipients and events. It returns the rows deleted.
	PruneMetadata(ctx context.Context, before time.Time) (int64, error)
}
