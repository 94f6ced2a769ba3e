package report_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tuyenquang/lgsp/bus/report"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/test/testenv"
)

// A year of a province: LGSP_BENCH_EXCHANGES exchanges (default 10
// million) spread over 365 days, 60 systems in 20 units, 5 routes and 6
// data types, 1.5 recipients each on average. The rollups they leave are
// seeded as Purge would have written them (one row per day, system, route,
// type and direction); LGSP_BENCH_RAW_ROWS finished exchanges (default
// 100,000; the report never reads them) are seeded too, so that the
// tables hold what a real store holds next to the rollups.
const (
	benchSystems = 60
	benchUnits   = 20
	benchRoutes  = 5
	benchTypes   = 6
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v >= 0 {
		return v
	}
	return def
}

// seedYear fills the rollups of 2026 and some raw rows through db.
func seedYear(b *testing.B, db *sql.DB, dialect string) {
	b.Helper()
	ctx := context.Background()
	exchanges := envInt("LGSP_BENCH_EXCHANGES", 10_000_000)
	perDay := exchanges / 365
	day0 := time.Date(2026, 1, 1, 0, 0, 0, 0, store.StatsZone)
	// Each day every system sends on every (route, type) it uses — one
	// route per type here — and receives on all of them.
	keysPerDir := benchSystems * benchTypes
	docsPerKey := int64(perDay) / int64(keysPerDir)
	cols := "day, system_code, unit, route, data_type, direction, docs, confirmed, failed, expired, bytes, h05, h07, h10"
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	var vals []string
	var args []any
	flush := func() {
		if len(vals) == 0 {
			return
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO stats_daily ("+cols+") VALUES "+strings.Join(vals, ","), args...); err != nil {
			b.Fatal(err)
		}
		vals, args = vals[:0], args[:0]
	}
	ph := "(" + strings.TrimSuffix(strings.Repeat("?,", 14), ",") + ")"
	for d := range 365 {
		day := store.Day(day0.AddDate(0, 0, d))
		for s := range benchSystems {
			code := fmt.Sprintf("000.00.%02d.H60", s)
			unit := fmt.Sprintf("Đơn vị %02d", s%benchUnits)
			for ty := range benchTypes {
				route := fmt.Sprintf("tuyen-%d", ty%benchRoutes)
				typ := fmt.Sprintf("loai-%d", ty)
				for _, dir := range []string{store.DirOut, store.DirIn} {
					n := docsPerKey * 3 / 2
					conf := n * 95 / 100
					vals = append(vals, ph)
					args = append(args, day, code, unit, route, typ, dir, n, conf, n/50, n-conf-n/50, conf*40_000, conf/2, conf/3, conf-conf/2-conf/3)
					if len(vals) == 500 {
						flush()
					}
				}
			}
		}
	}
	flush()
	// The month rows, as Purge keeps them next to the day rows.
	if _, err := tx.ExecContext(ctx, "INSERT INTO stats_daily ("+cols+") SELECT day - day % 100, system_code, MIN(unit), route, data_type, direction, "+
		"SUM(docs), SUM(confirmed), SUM(failed), SUM(expired), SUM(bytes), SUM(h05), SUM(h07), SUM(h10) FROM stats_daily GROUP BY day - day % 100, system_code, route, data_type, direction"); err != nil {
		b.Fatal(err)
	}
	raw := envInt("LGSP_BENCH_RAW_ROWS", 100_000)
	xcols := "id, source, title, importance, data_type, protocol, media_type, route, status, max_bytes, received, size, sha256, policy, wrapped_key, created_at, updated_at, expires_at, purged_at"
	xph := "(" + strings.TrimSuffix(strings.Repeat("?,", 19), ",") + ")"
	for i := range raw {
		at := day0.Add(time.Duration(i) * (365 * 24 * time.Hour / time.Duration(max(raw, 1)))).UnixMicro()
		vals = append(vals, xph)
		args = append(args, fmt.Sprintf("ex_bench_%08d", i), fmt.Sprintf("000.00.%02d.H60", i%benchSystems), "", "normal", "loai-1", "rest", "application/xml", "tuyen-1", "completed", 1<<20, 40_000, 40_000, "", []byte("{}"), nil, at, at, at+86_400_000_000, at+60_000_000)
		if len(vals) == 200 {
			if _, err := tx.ExecContext(ctx, "INSERT INTO exchanges ("+xcols+") VALUES "+strings.Join(vals, ","), args...); err != nil {
				b.Fatal(err)
			}
			vals, args = vals[:0], args[:0]
		}
	}
	if len(vals) > 0 {
		if _, err := tx.ExecContext(ctx, "INSERT INTO exchanges ("+xcols+") VALUES "+strings.Join(vals, ","), args...); err != nil {
			b.Fatal(err)
		}
		vals, args = vals[:0], args[:0]
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	if dialect == "mysql" {
		_, _ = db.ExecContext(ctx, "ANALYZE TABLE stats_daily")
	} else {
		_, _ = db.ExecContext(ctx, "ANALYZE")
	}
}

// benchReports times the year's reports by each grouping, by month.
func benchReports(b *testing.B, st store.Store) {
	year := report.Query{From: time.Date(2026, 1, 1, 0, 0, 0, 0, store.StatsZone), To: time.Date(2026, 12, 31, 0, 0, 0, 0, store.StatsZone)}
	for _, by := range report.Bys {
		for _, every := range []string{"", "month"} {
			q := year
			q.By, q.Every = by, every
			b.Run(by+"/"+orWhole(every), func(b *testing.B) {
				var worst time.Duration
				for b.Loop() {
					start := time.Now()
					r, err := report.Build(b.Context(), st, q)
					if err != nil {
						b.Fatal(err)
					}
					worst = max(worst, time.Since(start))
					if r.Total.Sent == 0 {
						b.Fatal("empty report")
					}
				}
				b.ReportMetric(float64(worst.Milliseconds()), "worst-ms")
				if worst > 2*time.Second {
					b.Errorf("a report over the year took %v (limit 2 s)", worst)
				}
			})
		}
	}
}

func orWhole(s string) string {
	if s == "" {
		return "year"
	}
	return s
}

// BenchmarkReportYearSQLite: go test ./bus/report -run '^$' -bench ReportYear -benchtime 5x
func BenchmarkReportYearSQLite(b *testing.B) {
	path := filepath.Join(b.TempDir(), "lgsp.db")
	st, err := store.OpenSQLite(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	seedYear(b, db, "sqlite")
	benchReports(b, st)
}

// BenchmarkReportYearMariaDB is the same on a fresh MariaDB database.
func BenchmarkReportYearMariaDB(b *testing.B) {
	dsn := testenv.RequireMariaDB(b)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		b.Fatal(err)
	}
	admin := cfg.Clone()
	admin.DBName = ""
	adb, err := sql.Open("mysql", admin.FormatDSN())
	if err != nil {
		b.Fatal(err)
	}
	defer adb.Close()
	rb := make([]byte, 6)
	rand.Read(rb)
	name := "lgsp_bench_" + hex.EncodeToString(rb)
	if _, err := adb.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4"); err != nil {
		b.Fatal(err)
	}
	defer adb.Exec("DROP DATABASE " + name)
	c := cfg.Clone()
	c.DBName = name
	st, err := store.OpenMySQL(context.Background(), c.FormatDSN())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	db, err := sql.Open("mysql", c.FormatDSN())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	seedYear(b, db, "mysql")
	benchReports(b, st)
}
