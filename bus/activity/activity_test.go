package activity_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tuyenquang/lgsp/bus/activity"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/bus/vault"
	"github.com/tuyenquang/lgsp/test/testenv"
)

func newVault(t testing.TB) *vault.Vault {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	v, err := vault.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// sqliteStore opens a real SQLite file and returns it with a raw
// connection to the same file (for editing the table behind the store).
func sqliteStore(t *testing.T) (store.Store, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lgsp.db")
	s, err := store.OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return s, raw
}

// record writes n entries through a log and signs a checkpoint.
func record(t *testing.T, l *activity.Log, n int, system string) {
	t.Helper()
	for i := range n {
		l.Record(t.Context(), activity.Entry{Kind: "svc.call", Actor: system, SystemCode: system, Subject: fmt.Sprint("svc-", i)})
	}
	if err := l.Checkpoint(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func verify(t *testing.T, s store.Store) activity.Report {
	t.Helper()
	rep, err := activity.Verify(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// wantProblemAt asserts that verification fails and that its first problem
// is at node/seq.
func wantProblemAt(t *testing.T, rep activity.Report, node string, seq int64, what string) {
	t.Helper()
	if rep.OK() {
		t.Fatalf("%s: verification passed", what)
	}
	if p := rep.Problems[0]; p.Node != node || p.Seq != seq {
		t.Fatalf("%s: first problem %v, want at %s entry %d (all: %v)", what, p, node, seq, rep.Problems)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	cases := []struct {
		name string
		sql  []string
		seq  int64
	}{
		{"edited", []string{"UPDATE activity_log SET outcome = 'ok-forged' WHERE seq = 7"}, 7},
		{"deleted", []string{"DELETE FROM activity_log WHERE seq = 5"}, 5},
		{"reordered", []string{
			"UPDATE activity_log SET seq = -1 WHERE seq = 3",
			"UPDATE activity_log SET seq = 3 WHERE seq = 4",
			"UPDATE activity_log SET seq = 4 WHERE seq = -1"}, 3},
		{"inserted", []string{
			"INSERT INTO activity_log (node, seq, at, kind, actor, system_code, unit, subject, outcome, detail, event_id, prev_hash, hash) " +
				"SELECT node, 21, at, kind, actor, system_code, unit, subject, outcome, detail, event_id, hash, hash FROM activity_log WHERE seq = 20"}, 21},
		{"tail deleted", []string{"DELETE FROM activity_log WHERE seq >= 18"}, 18},
		{"checkpoint forged", []string{"UPDATE activity_checkpoints SET hash = '00' WHERE seq = 20"}, 20},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, raw := sqliteStore(t)
			l := activity.New(activity.Options{Store: s, Vault: newVault(t), Node: "n1"})
			record(t, l, 20, "000.00.01.H60")
			if rep := verify(t, s); !rep.OK() || rep.Nodes[0].Entries != 20 || rep.Nodes[0].Signed != 20 {
				t.Fatalf("untouched log: %+v", rep)
			}
			for _, q := range tc.sql {
				if _, err := raw.ExecContext(t.Context(), q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			wantProblemAt(t, verify(t, s), "n1", tc.seq, tc.name)
		})
	}
}

// TestVerifyDetectsRewrittenChain edits an entry and recomputes every hash
// after it, as an attacker who knows the scheme would: only the signed
// checkpoint can tell, and it does.
func TestVerifyDetectsRewrittenChain(t *testing.T) {
	s, raw := sqliteStore(t)
	l := activity.New(activity.Options{Store: s, Vault: newVault(t), Node: "n1"})
	record(t, l, 10, "000.00.01.H60")
	chain, err := s.ActivityChain(t.Context(), "n1", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	prev := chain[3].PrevHash
	for _, e := range chain[3:] {
		if e.Seq == 4 {
			e.Outcome = "ok-forged"
		}
		e.PrevHash = prev
		e.Hash = activity.Hash(e)
		prev = e.Hash
		if _, err := raw.ExecContext(t.Context(), "UPDATE activity_log SET outcome = ?, prev_hash = ?, hash = ? WHERE node = 'n1' AND seq = ?", e.Outcome, e.PrevHash, e.Hash, e.Seq); err != nil {
			t.Fatal(err)
		}
	}
	rep := verify(t, s)
	if rep.OK() || !strings.Contains(rep.Problems[0].What, "checkpoint") || rep.Problems[0].Seq != 10 {
		t.Fatalf("rewritten chain: %+v", rep)
	}
}

// TestChainSurvivesRestart: a new writer for the same node continues the
// chain where the last one stopped.
func TestChainSurvivesRestart(t *testing.T) {
	s, _ := sqliteStore(t)
	v := newVault(t)
	record(t, activity.New(activity.Options{Store: s, Vault: v, Node: "n1"}), 5, "A")
	record(t, activity.New(activity.Options{Store: s, Vault: v, Node: "n1"}), 5, "A")
	if rep := verify(t, s); !rep.OK() || rep.Nodes[0].Entries != 10 || rep.Nodes[0].Checkpoints != 2 {
		t.Fatalf("after restart: %+v", rep)
	}
}

// TestLedgerEventsAreRecorded: the writer copies its own node's ledger
// events (exchange state changes) and only those, without their detail.
func TestLedgerEventsAreRecorded(t *testing.T) {
	s, _ := sqliteStore(t)
	ctx := t.Context()
	now := time.Now()
	if err := s.CreateSystem(ctx, store.System{Code: "000.00.01.H60", Name: "A", Unit: "Sở Nội vụ"}); err != nil {
		t.Fatal(err)
	}
	e := store.Exchange{ID: "ex_1", Source: "000.00.01.H60", Status: store.ExchangeRequested, MaxBytes: 10, CreatedAt: now, UpdatedAt: now,
		Recipients: []store.Recipient{{ExchangeID: "ex_1", Code: "000.00.02.H60", Status: store.RecipientPending}}}
	if err := s.CreateExchange(ctx, e, store.Event{Kind: "requested", Actor: "000.00.01.H60", Node: "n1", At: now, Detail: "Công văn mật"},
		store.Event{Kind: "requested", Actor: "000.00.01.H60", Node: "n2", At: now}); err != nil {
		t.Fatal(err)
	}
	l := activity.New(activity.Options{Store: s, Vault: newVault(t), Node: "n1", Settle: time.Millisecond, Now: func() time.Time { return now.Add(time.Second) }})
	ctx2, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { l.Run(ctx2); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	var got []store.ActivityEntry
	for len(got) == 0 && time.Now().Before(deadline) {
		got, _ = s.ListActivity(ctx, store.ActivityFilter{Unit: "Sở Nội vụ"})
		if len(got) == 0 {
			select {
			case <-time.After(20 * time.Millisecond):
			case <-ctx.Done():
			}
		}
	}
	cancel()
	<-done
	if len(got) != 1 || got[0].Kind != "exchange.requested" || got[0].Subject != "ex_1" || got[0].Node != "n1" || strings.Contains(got[0].Detail, "Công văn") {
		t.Fatalf("recorded ledger entries = %+v", got)
	}
	if rep := verify(t, s); !rep.OK() {
		t.Fatalf("verify: %+v", rep)
	}
}

// freshMySQL creates a database on the test server and drops it after.
func freshMySQL(t *testing.T) string {
	t.Helper()
	dsn := testenv.RequireMariaDB(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	admin := cfg.Clone()
	admin.DBName = ""
	db, err := sql.Open("mysql", admin.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b := make([]byte, 6)
	rand.Read(b)
	name := "lgsp_test_" + hex.EncodeToString(b)
	if _, err := db.ExecContext(t.Context(), "CREATE DATABASE "+name+" CHARACTER SET utf8mb4"); err != nil {
		t.Fatalf("MariaDB: %v", err)
	}
	t.Cleanup(func() { db.ExecContext(context.Background(), "DROP DATABASE "+name) })
	c := cfg.Clone()
	c.DBName = name
	return c.FormatDSN()
}

// TestTwoNodesOnMariaDB: two nodes (two store connections, two writers)
// record at once on one MariaDB; both chains verify together, and an edit
// in one is reported on that node only.
func TestTwoNodesOnMariaDB(t *testing.T) {
	dsn := freshMySQL(t)
	v := newVault(t)
	var stores []store.Store
	for range 2 {
		s, err := store.OpenMySQL(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() {
			l := activity.New(activity.Options{Store: s, Vault: v, Node: fmt.Sprint("node-", i+1), CheckpointEvery: 7})
			for j := range 30 {
				l.Record(t.Context(), activity.Entry{Kind: "svc.call", Actor: "A", Subject: fmt.Sprint(j)})
				if j%5 == 0 {
					if err := l.Flush(t.Context()); err != nil {
						t.Error(err)
					}
				}
			}
			if err := l.Checkpoint(t.Context()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	rep := verify(t, stores[0])
	if !rep.OK() || len(rep.Nodes) != 2 || rep.Nodes[0].Entries != 30 || rep.Nodes[1].Entries != 30 || rep.Nodes[1].Signed != 30 {
		t.Fatalf("two nodes: %+v", rep)
	}
	raw, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.ExecContext(t.Context(), "UPDATE activity_log SET subject = 'x' WHERE node = 'node-2' AND seq = 12"); err != nil {
		t.Fatal(err)
	}
	rep = verify(t, stores[1])
	wantProblemAt(t, rep, "node-2", 12, "edit on node-2")
	for _, p := range rep.Problems {
		if p.Node != "node-2" {
			t.Fatalf("problem reported on the untouched node: %v", p)
		}
	}
}
