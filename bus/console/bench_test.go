package console_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/console"
	"github.com/tuyenquang/lgsp/bus/people"
	"github.com/tuyenquang/lgsp/bus/route"
	"github.com/tuyenquang/lgsp/bus/store"
)

// A year of a province, as the reports benchmark of issue #11 seeds it
// (bus/report/bench_test.go): 60 systems in 20 units, 5 routes, 6 data
// types, the day and month rollup rows of LGSP_BENCH_EXCHANGES exchanges
// (default 10 million) — and here also that many raw exchange rows
// (LGSP_BENCH_RAW_ROWS, default the same 10 million), spread evenly over
// 2026, since the console's exchange search reads them.
const (
	benchSystems = 60
	benchUnits   = 20
	benchRoutes  = 5
	benchTypes   = 6
	pageLimit    = 300 * time.Millisecond
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v >= 0 {
		return v
	}
	return def
}

func code(s int) string { return fmt.Sprintf("000.00.%02d.H60", s) }
func unit(s int) string { return fmt.Sprintf("Đơn vị %02d", s%benchUnits) }

// seedYear writes the systems, the rollups and the raw exchanges of 2026.
func seedYear(b *testing.B, st store.Store, db *sql.DB) {
	b.Helper()
	ctx := context.Background()
	for s := range benchSystems {
		if err := st.CreateSystem(ctx, store.System{Code: code(s), Name: "Hệ thống " + strconv.Itoa(s), Unit: unit(s), Status: store.SystemActive}); err != nil {
			b.Fatal(err)
		}
	}
	exchanges := envInt("LGSP_BENCH_EXCHANGES", 10_000_000)
	day0 := time.Date(2026, 1, 1, 0, 0, 0, 0, store.StatsZone)
	docsPerKey := int64(exchanges/365) / int64(benchSystems*benchTypes)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	var vals []string
	var args []any
	insert := func(table, cols string, n, every int) {
		if len(vals) == 0 || len(vals) < every && n >= 0 {
			return
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO "+table+" ("+cols+") VALUES "+strings.Join(vals, ","), args...); err != nil {
			b.Fatal(err)
		}
		vals, args = vals[:0], args[:0]
	}
	cols := "day, system_code, unit, route, data_type, direction, docs, confirmed, failed, expired, bytes, h05, h07, h10"
	ph := "(" + strings.TrimSuffix(strings.Repeat("?,", 14), ",") + ")"
	for d := range 365 {
		day := store.Day(day0.AddDate(0, 0, d))
		for s := range benchSystems {
			for ty := range benchTypes {
				for _, dir := range []string{store.DirOut, store.DirIn} {
					n := docsPerKey * 3 / 2
					conf := n * 95 / 100
					vals = append(vals, ph)
					args = append(args, day, code(s), unit(s), fmt.Sprintf("tuyen-%d", ty%benchRoutes), fmt.Sprintf("loai-%d", ty), dir, n, conf, n/50, n-conf-n/50, conf*40_000, conf/2, conf/3, conf-conf/2-conf/3)
					insert("stats_daily", cols, 0, 500)
				}
			}
		}
	}
	insert("stats_daily", cols, -1, 0)
	if _, err := tx.ExecContext(ctx, "INSERT INTO stats_daily ("+cols+") SELECT day - day % 100, system_code, MIN(unit), route, data_type, direction, "+
		"SUM(docs), SUM(confirmed), SUM(failed), SUM(expired), SUM(bytes), SUM(h05), SUM(h07), SUM(h10) FROM stats_daily GROUP BY day - day % 100, system_code, route, data_type, direction"); err != nil {
		b.Fatal(err)
	}
	raw := envInt("LGSP_BENCH_RAW_ROWS", exchanges)
	xcols := "id, source, title, importance, data_type, protocol, media_type, route, status, max_bytes, received, size, sha256, policy, wrapped_key, created_at, updated_at, expires_at, purged_at"
	xph := "(" + strings.TrimSuffix(strings.Repeat("?,", 19), ",") + ")"
	step := int64(365*24*time.Hour/time.Microsecond) / int64(max(raw, 1))
	start := day0.UnixMicro()
	for i := range raw {
		at := start + int64(i)*step
		vals = append(vals, xph)
		args = append(args, fmt.Sprintf("ex_bench_%09d", i), code(i%benchSystems), "", "normal", fmt.Sprintf("loai-%d", i%benchTypes), "rest", "application/xml",
			fmt.Sprintf("tuyen-%d", i%benchTypes%benchRoutes), store.ExchangeCompleted, 1<<20, 40_000, 40_000, "", nil, nil, at, at, at+86_400_000_000, at+60_000_000)
		insert("exchanges", xcols, 0, 50)
		if i > 0 && i%1_000_000 == 0 {
			insert("exchanges", xcols, -1, 0)
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
			if tx, err = db.BeginTx(ctx, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	insert("exchanges", xcols, -1, 0)
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	_, _ = db.ExecContext(ctx, "ANALYZE")
}

// BenchmarkConsolePagesYearSQLite times every console page on a year of
// metadata in the embedded store and fails past 300 ms:
//
//	go test ./bus/console -run '^$' -bench ConsolePagesYear -benchtime 5x -timeout 60m
//	LGSP_BENCH_EXCHANGES=1000000 go test ./bus/console -run '^$' -bench ConsolePagesYear -benchtime 5x   # quicker
func BenchmarkConsolePagesYearSQLite(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "lgsp.db")
	st, err := store.OpenSQLite(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=synchronous(OFF)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	t0 := time.Now()
	seedYear(b, st, db)
	b.Logf("seeded in %v", time.Since(t0).Round(time.Second))

	ps := people.New(people.Options{Store: st})
	if _, err := ps.Add(ctx, "bench", people.Person{Login: "quantri", Name: "Quản trị", Roles: []string{people.RoleAdmin}}, "mật khẩu đủ dài 2026"); err != nil {
		b.Fatal(err)
	}
	if _, err := ps.Add(ctx, "bench", people.Person{Login: "vanhanh", Name: "Vận hành", Unit: unit(7), Roles: []string{people.RoleOperator}}, "mật khẩu đủ dài 2026"); err != nil {
		b.Fatal(err)
	}
	// The console's "today" is the last day of the seeded year.
	now := time.Date(2026, 12, 31, 15, 0, 0, 0, store.StatsZone)
	c := console.New(console.Options{People: ps, Store: st, Registry: &auth.Registry{Store: st}, Grants: &auth.Grants{Store: st},
		Routes: func() *route.Set { return nil }, Node: "bench", Now: func() time.Time { return now }})
	mux := http.NewServeMux()
	c.Mount(mux.Handle)
	cookie := func(login string) *http.Cookie {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", people.LoginPath, nil)
		if _, err := ps.Login(w, r, login, "mật khẩu đủ dài 2026", ""); err != nil {
			b.Fatal(err)
		}
		for _, ck := range w.Result().Cookies() {
			if ck.Name == people.CookieName {
				return ck
			}
		}
		b.Fatal("no session cookie")
		return nil
	}
	who := map[string]*http.Cookie{"admin": cookie("quantri"), "operator": cookie("vanhanh")}
	pages := []struct{ as, path string }{
		{"admin", "/console/"},
		{"operator", "/console/"},
		{"admin", "/console/systems"},
		{"admin", "/console/systems/" + code(7)},
		{"admin", "/console/exchanges"},
		{"admin", "/console/exchanges?system=" + code(7) + "&from=2026-01-01&to=2026-12-31"},
		{"admin", "/console/exchanges?system=" + code(7) + "&route=tuyen-1&state=completed&from=2026-01-01&to=2026-12-31"},
		{"operator", "/console/exchanges?from=2026-01-01&to=2026-12-31"},
		{"admin", "/console/exchanges/ex_bench_000123456"},
		{"admin", "/console/deliveries"},
		{"admin", "/console/routes"},
		{"admin", "/console/reports?from=2026-01-01&to=2026-12-31&by=system"},
		{"admin", "/console/reports?from=2026-01-01&to=2026-12-31&by=unit&every=month"},
		{"operator", "/console/reports?from=2026-01-01&to=2026-12-31&by=system&every=month"},
		{"admin", "/console/activity"},
		{"admin", "/console/people"},
	}
	var worst []string
	for _, p := range pages {
		b.Run(p.as+p.path, func(b *testing.B) {
			var max time.Duration
			for b.Loop() {
				r := httptest.NewRequest("GET", p.path, nil)
				r.AddCookie(who[p.as])
				w := httptest.NewRecorder()
				t := time.Now()
				mux.ServeHTTP(w, r)
				d := time.Since(t)
				if w.Code != http.StatusOK && !(w.Code == http.StatusNotFound && strings.Contains(p.path, "ex_bench")) {
					b.Fatalf("GET %s as %s: %d %.300s", p.path, p.as, w.Code, w.Body.String())
				}
				max = maxDur(max, d)
			}
			b.ReportMetric(float64(max.Microseconds())/1000, "worst-ms")
			worst = append(worst, fmt.Sprintf("%8.1f ms  %-9s %s", float64(max.Microseconds())/1000, p.as, p.path))
			if max > pageLimit {
				b.Errorf("GET %s as %s took %v (limit %v)", p.path, p.as, max, pageLimit)
			}
		})
	}
	sort.Strings(worst)
	b.Logf("worst time per page:\n%s", strings.Join(worst, "\n"))
}

func maxDur(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}
