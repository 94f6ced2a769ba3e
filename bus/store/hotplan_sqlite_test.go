package store_test

import (
	"database/sql"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus/store"
)

// liteScanRE matches a step of EXPLAIN QUERY PLAN that reads a whole table
// without an index ("SCAN exchanges", "SCAN e"); "SCAN e USING INDEX …"
// and "SEARCH …" use one.
var liteScanRE = regexp.MustCompile(`^SCAN (\w+)$`)

// TestSQLiteHotQueriesUseIndexes is TestMySQLHotQueriesUseIndexes on the
// embedded store: every statement of a recorded exchange cycle (prepared
// ones included) goes through EXPLAIN QUERY PLAN, which fails on a full
// table scan. The tables are not analysed, so SQLite plans as for large
// tables of unknown content.
func TestSQLiteHotQueriesUseIndexes(t *testing.T) {
	log := newStmtLog()
	path := filepath.Join(t.TempDir(), "hot.db")
	s, err := store.OpenSQLiteRecorded(t.Context(), path, log.rec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	seedHot(t, s, now)
	hotCycle(t, s, "seed_done", now.Add(-time.Hour), "", nil)
	hotCycle(t, s, "seed_notified", now.Add(-time.Hour), store.RecipientNotified, nil)
	log.start()
	hotCycle(t, s, "hot", now, "", log.mark)
	qs := log.stop()
	if len(qs) < 20 {
		t.Fatalf("recorded only %d statements of the exchange cycle", len(qs))
	}

	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The detector itself: a query on an unindexed column is flagged.
	var id, parent, notused int
	var detail string
	if err := db.QueryRowContext(ctx, "EXPLAIN QUERY PLAN SELECT id FROM exchanges WHERE title = ?", "x").Scan(&id, &parent, &notused, &detail); err != nil || !liteScanRE.MatchString(detail) {
		t.Fatalf("a full scan is not recognised: %q, %v", detail, err)
	}
	explained := 0
	for _, h := range qs {
		verb := strings.ToUpper(strings.Fields(strings.TrimSpace(h.q))[0])
		switch verb {
		case "SELECT", "UPDATE", "DELETE", "INSERT", "REPLACE":
		default:
			continue
		}
		rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+h.q, h.args...)
		if err != nil {
			t.Errorf("EXPLAIN QUERY PLAN %s: %v", h.q, err)
			continue
		}
		explained++
		var steps []string
		bad := false
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			steps = append(steps, detail)
			if liteScanRE.MatchString(detail) {
				bad = true
			}
		}
		rows.Close()
		if bad {
			t.Errorf("hot query scans a table:\n  %s\n  plan: %s", h.q, strings.Join(steps, "; "))
		} else if len(steps) > 0 {
			t.Logf("%s\n    → %s", h.q, strings.Join(steps, "; "))
		}
	}
	if explained < 20 {
		t.Fatalf("explained only %d statements", explained)
	}
	t.Logf("%d distinct statements recorded, %d explained", len(qs), explained)
}
