package store_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus/store"
)

// cycleBound is the most one exchange cycle (hotCycle, from F1 connect to
// the F7 confirmation and its purge, without the auth, ledger-reading and
// sweep steps that are not per exchange) may cost: a change that adds
// statements or transactions to the exchange path fails here, and its
// figures in docs/load.md ("Statements per exchange") are to be updated.
// readTx counts read transactions and reads of one statement outside one
// (each one round trip or more to the database).
type cycleBound struct{ statements, writeTx, readTx int }

// exchangeSteps are the steps of hotCycle bounded by cycleBound.
var exchangeSteps = []string{"F1 connect", "F2 request", "F3 upload", "F4 complete", "notify", "F5 inbox", "F6 ready", "F7 download", "F7 confirm"}

func countCycle(t *testing.T, s store.Store, log *stmtLog, bound cycleBound) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	seedHot(t, s, now)
	hotCycle(t, s, "warm", now.Add(-time.Hour), "", nil)
	log.start()
	hotCycle(t, s, "counted", now, "", log.mark)
	log.stop()
	table, _ := log.table()
	t.Logf("one exchange cycle, per step:\n%s", table)
	var got stmtCount
	log.mu.Lock()
	for _, st := range exchangeSteps {
		c := log.counts[st]
		if c == nil {
			log.mu.Unlock()
			t.Fatalf("step %q recorded nothing", st)
		}
		got.statements += c.statements
		got.writeTx += c.writeTx
		got.readTx += c.readTx
		if c.rollbacks > 0 {
			t.Errorf("step %q rolled back %d write transactions", st, c.rollbacks)
		}
	}
	log.mu.Unlock()
	t.Logf("exchange path (F1–F7): %d statements, %d write transactions (durable commits), %d read transactions", got.statements, got.writeTx, got.readTx)
	if got.statements > bound.statements || got.writeTx > bound.writeTx || got.readTx > bound.readTx {
		t.Errorf("exchange path costs %d statements, %d write and %d read transactions; the bound is %d, %d, %d",
			got.statements, got.writeTx, got.readTx, bound.statements, bound.writeTx, bound.readTx)
	}
}

// TestExchangeCycleStatementsSQLite counts and bounds the statements and
// transactions of one exchange cycle on the embedded store.
func TestExchangeCycleStatementsSQLite(t *testing.T) {
	log := newStmtLog()
	s, err := store.OpenSQLiteRecorded(t.Context(), filepath.Join(t.TempDir(), "count.db"), log.rec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	countCycle(t, s, log, cycleBound{statements: 38, writeTx: 8, readTx: 11})
}

// TestExchangeCycleStatementsMySQL is the same on MariaDB.
func TestExchangeCycleStatementsMySQL(t *testing.T) {
	log := newStmtLog()
	s, err := store.OpenMySQLRecorded(t.Context(), freshDatabase(t), log.rec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	countCycle(t, s, log, cycleBound{statements: 39, writeTx: 8, readTx: 11})
}

// countSubmit bounds what an exchange submitted whole (sendEdoc, the VXP
// endpoint: SubmitExchange) costs the store, beside the three steps a REST
// client takes for the same content (F2 request, F3 upload, F4 complete).
func countSubmit(t *testing.T, s store.Store, log *stmtLog) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	seedHot(t, s, now)
	log.start()
	hotCycle(t, s, "three-steps", now, store.RecipientNotified, log.mark)
	log.mark("submit")
	err := s.SubmitExchange(t.Context(), store.Exchange{ID: "submitted", Source: hotSrc, Title: "Công văn", Importance: "normal", DataType: "edoc",
		Protocol: "rest", MediaType: "application/xml", Route: "r1", Status: store.ExchangeAccepted, MaxBytes: 1 << 20, Received: 6, Size: 6,
		SHA256: hexSHA("abcdef"), WrappedKey: []byte("wk"), CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(24 * time.Hour),
		Recipients: []store.Recipient{{ExchangeID: "submitted", Code: hotDst, Status: store.RecipientPlanned, DueAt: now}}},
		[]store.Chunk{{ExchangeID: "submitted", Offset: 0, Size: 6, Data: []byte("abcdef")}},
		store.Event{Kind: "requested", Actor: hotSrc, Node: "n1"}, store.Event{Kind: "uploaded", Actor: hotSrc, Node: "n1"},
		store.Event{Kind: "accepted", Actor: "lgsp", Node: "n1"}, store.Event{Kind: "planned", Actor: "lgsp", Recipient: hotDst, Node: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	log.stop()
	table, _ := log.table()
	t.Logf("F2–F4 as three steps and as one submission:\n%s", table)
	log.mu.Lock()
	defer log.mu.Unlock()
	var three stmtCount
	for _, st := range []string{"F2 request", "F3 upload", "F4 complete"} {
		three.statements += log.counts[st].statements
		three.writeTx += log.counts[st].writeTx
		three.readTx += log.counts[st].readTx
	}
	sub := log.counts["submit"]
	if sub.writeTx != 1 || sub.readTx != 0 || sub.statements > 4 || sub.rollbacks != 0 {
		t.Errorf("a submission costs %d statements, %d write and %d read transactions (%d rolled back); want at most 4 statements in 1 write transaction",
			sub.statements, sub.writeTx, sub.readTx, sub.rollbacks)
	}
	t.Logf("F2–F4: three steps %d statements, %d write and %d read transactions; one submission %d, %d, %d",
		three.statements, three.writeTx, three.readTx, sub.statements, sub.writeTx, sub.readTx)
}

// TestSubmitStatementsSQLite: a submission is one write transaction of at
// most four statements on the embedded store.
func TestSubmitStatementsSQLite(t *testing.T) {
	log := newStmtLog()
	s, err := store.OpenSQLiteRecorded(t.Context(), filepath.Join(t.TempDir(), "count.db"), log.rec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	countSubmit(t, s, log)
}

// TestSubmitStatementsMySQL is the same on MariaDB.
func TestSubmitStatementsMySQL(t *testing.T) {
	log := newStmtLog()
	s, err := store.OpenMySQLRecorded(t.Context(), freshDatabase(t), log.rec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	countSubmit(t, s, log)
}
