package activity_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus/activity"
	"github.com/tuyenquang/lgsp/bus/store"
)

// countingStore counts AppendActivity transactions and can fail them.
type countingStore struct {
	store.Store
	appends atomic.Int64
	fail    atomic.Bool
}

func (c *countingStore) AppendActivity(ctx context.Context, es []store.ActivityEntry) error {
	if c.fail.Load() {
		return errors.New("the database is down")
	}
	c.appends.Add(1)
	return c.Store.AppendActivity(ctx, es)
}

func runLog(t *testing.T, l *activity.Log) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestCommitIsDurableWhenItReturns: 64 concurrent Commit calls each return
// only once their entry can be read from the database; they share
// transactions (fewer appends than entries), and the chain verifies.
func TestCommitIsDurableWhenItReturns(t *testing.T) {
	s, _ := sqliteStore(t)
	cs := &countingStore{Store: s}
	l := activity.New(activity.Options{Store: cs, Vault: newVault(t), Node: "n1"})
	runLog(t, l)
	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			subj := fmt.Sprint("svc-", i)
			if err := l.Commit(t.Context(), activity.Entry{Kind: "svc.call", Actor: "A", SystemCode: "A", Subject: subj}); err != nil {
				errs <- err
				return
			}
			got, err := s.ListActivity(context.Background(), store.ActivityFilter{SystemCode: "A", Limit: 1000})
			if err != nil {
				errs <- err
				return
			}
			for _, e := range got {
				if e.Subject == subj {
					return
				}
			}
			errs <- fmt.Errorf("%s: Commit returned before the entry was in the database", subj)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if a := cs.appends.Load(); a >= n {
		t.Fatalf("%d transactions for %d concurrent entries: no group commit", a, n)
	}
	if err := l.Checkpoint(t.Context()); err != nil {
		t.Fatal(err)
	}
	if rep := verify(t, s); !rep.OK() || rep.Nodes[0].Entries != n {
		t.Fatalf("verify: %+v", rep)
	}
	t.Logf("%d entries committed in %d transactions", n, cs.appends.Load())
}

// TestCommitReportsAFailedWrite: while the database refuses, Commit
// returns the error (its caller must not acknowledge) and the entry stays
// buffered; once the database is back it is written, chained.
func TestCommitReportsAFailedWrite(t *testing.T) {
	s, _ := sqliteStore(t)
	cs := &countingStore{Store: s}
	l := activity.New(activity.Options{Store: cs, Vault: newVault(t), Node: "n1", CommitWait: 2 * time.Second})
	runLog(t, l)
	if err := l.Commit(t.Context(), activity.Entry{Kind: "admin.POST", Actor: "admin-api", Subject: "/admin/v1/systems"}); err != nil {
		t.Fatal(err)
	}
	cs.fail.Store(true)
	if err := l.Commit(t.Context(), activity.Entry{Kind: "admin.POST", Actor: "admin-api", Subject: "/admin/v1/grants"}); err == nil {
		t.Fatal("Commit succeeded while the database refused")
	}
	cs.fail.Store(false)
	if err := l.Commit(t.Context(), activity.Entry{Kind: "admin.POST", Actor: "admin-api", Subject: "/admin/v1/routes/reload"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListActivity(t.Context(), store.ActivityFilter{Limit: 10})
	if err != nil || len(got) != 3 {
		t.Fatalf("entries %+v, %v: want all three, the refused one written late", got, err)
	}
	if rep := verify(t, s); !rep.OK() {
		t.Fatalf("verify: %+v", rep)
	}
	var nilLog *activity.Log
	if err := nilLog.Commit(t.Context(), activity.Entry{Kind: "x"}); err != nil {
		t.Fatalf("a log that is off: %v", err)
	}
}

// TestLargeBatchAppends: one flush of 250 entries (three multi-row
// INSERTs) on SQLite and on MariaDB gives 250 rows in order, and the chain
// verifies.
func TestLargeBatchAppends(t *testing.T) {
	for _, dialect := range []string{"sqlite", "mysql"} {
		t.Run(dialect, func(t *testing.T) {
			var s store.Store
			if dialect == "sqlite" {
				s, _ = sqliteStore(t)
			} else {
				var err error
				if s, err = store.OpenMySQL(t.Context(), freshMySQL(t)); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
			}
			l := activity.New(activity.Options{Store: s, Vault: newVault(t), Node: "n1"})
			record(t, l, 250, "A")
			got, err := s.ActivityChain(t.Context(), "n1", 0, 1000)
			if err != nil || len(got) != 250 || got[0].Seq != 1 || got[249].Seq != 250 || got[249].Subject != "svc-249" {
				t.Fatalf("%d entries, %v", len(got), err)
			}
			if rep := verify(t, s); !rep.OK() || rep.Nodes[0].Entries != 250 {
				t.Fatalf("verify: %+v", rep)
			}
		})
	}
}

// TestCommitRefusesWhenTooManyWait: while the database refuses, entries
// that failed stay buffered up to twice Options.Buffer; past that Commit
// refuses at once instead of growing memory.
func TestCommitRefusesWhenTooManyWait(t *testing.T) {
	s, _ := sqliteStore(t)
	cs := &countingStore{Store: s}
	l := activity.New(activity.Options{Store: cs, Vault: newVault(t), Node: "n1", Buffer: 1, CommitWait: 2 * time.Second})
	runLog(t, l)
	cs.fail.Store(true)
	for i := range 2 {
		if err := l.Commit(t.Context(), activity.Entry{Kind: "svc.call", Subject: fmt.Sprint(i)}); err == nil {
			t.Fatal("Commit succeeded while the database refused")
		}
	}
	start := time.Now()
	err := l.Commit(t.Context(), activity.Entry{Kind: "svc.call", Subject: "2"})
	if err == nil || !strings.Contains(err.Error(), "waiting for the database") || time.Since(start) > time.Second {
		t.Fatalf("third commit: %v after %v", err, time.Since(start))
	}
	cs.fail.Store(false)
	if err := l.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ListActivity(t.Context(), store.ActivityFilter{Limit: 10}); len(got) != 2 {
		t.Fatalf("%d entries written, want the 2 kept", len(got))
	}
}
