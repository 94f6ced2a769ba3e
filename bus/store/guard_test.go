package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/bus/store/storetest"
)

// The guard is transparent while the database works: the whole store
// conformance suite passes through it.
func TestGuardedSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return store.Guard(openSQLite(t, filepath.Join(t.TempDir(), "lgsp.db")), store.GuardOptions{})
	}, store.PlantChunk)
}

// A store whose database is gone opens the circuit after Failures faults;
// then requests are refused at once with a coded 503 and Retry-After, and
// background calls wait instead of failing.
func TestGuardOpensOnFaults(t *testing.T) {
	raw, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "lgsp.db"))
	if err != nil {
		t.Fatal(err)
	}
	var downs atomic.Int32
	raw = &closeOnce{Store: raw}
	g := store.Guard(raw, store.GuardOptions{Failures: 2, ProbeEvery: 10 * time.Millisecond, OnDown: func(error) { downs.Add(1) }})
	defer g.Close()
	req := store.FailFast(t.Context())
	// Domain errors are answers of a working database: they never count.
	for range 3 {
		if _, err := g.GetSystem(req, "000.00.00.X99"); !errors.Is(err, bus.ErrSystemNotFound) {
			t.Fatalf("GetSystem of an unknown system: %v", err)
		}
	}
	if open, _ := g.State(); open {
		t.Fatal("circuit opened on domain errors")
	}
	raw.Close() // the database is gone: every call now fails
	for i := range 2 {
		_, err := g.GetSystem(req, "000.00.00.X99")
		if bus.CodeOf(err) != bus.ErrUnavailable.Code || store.IsOutage(err) || !store.IsFault(err) {
			t.Fatalf("fault %d: got %v, want a coded system.unavailable fault", i, err)
		}
	}
	open, o := g.State()
	if !open || downs.Load() != 1 {
		t.Fatalf("circuit open=%v after 2 faults, OnDown called %d times", open, downs.Load())
	}
	start := time.Now()
	for range 100 {
		_, err := g.ListSystems(req)
		e := bus.AsError(err)
		if !store.IsOutage(err) || e.Def != bus.ErrUnavailable || e.RetryAfter < 1 {
			t.Fatalf("refusal while open: %v (retry after %d)", err, e.RetryAfter)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("100 refusals took %s: not at once", d)
	}
	if _, o = g.State(); o.Refused != 100 || o.Cause == "" {
		t.Fatalf("outage counts: %+v", o)
	}
	// Background work (no FailFast) waits for the database until its own
	// context ends.
	bctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := g.ListSystems(bctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("background call while open: %v, want it to wait until its deadline", err)
	}
	if _, o = g.State(); o.Waited != 1 {
		t.Fatalf("background waits = %d, want 1", o.Waited)
	}
}

// Retry-After is 1 s at first, doubles every 10 s of outage, and is capped.
func TestGuardRetryAfterGrows(t *testing.T) {
	g := store.Guard(nil, store.GuardOptions{MaxRetryAfter: 30})
	for _, c := range []struct {
		open time.Duration
		want int
	}{{0, 1}, {9 * time.Second, 1}, {10 * time.Second, 2}, {25 * time.Second, 4}, {45 * time.Second, 16}, {time.Hour, 30}} {
		if got := g.RetryAfter(c.open); got != c.want {
			t.Errorf("RetryAfter(%s) = %d, want %d", c.open, got, c.want)
		}
	}
}

// closeOnce lets a test close the database under the guard and still close
// the guard (which stops its prober) at the end.
type closeOnce struct {
	store.Store
	once sync.Once
}

func (c *closeOnce) Close() error { c.once.Do(func() { c.Store.Close() }); return nil }

// TestGuardObservesCalls: every call through the guard reaches Observe
// with its kind, a read for GetSystem and ListSystems, a write for
// CreateSystem.
func TestGuardObservesCalls(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	g := store.Guard(openSQLite(t, filepath.Join(t.TempDir(), "lgsp.db")), store.GuardOptions{Observe: func(op string, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if d >= 0 {
			seen[op]++
		}
	}})
	ctx := context.Background()
	if err := g.CreateSystem(ctx, store.System{Code: "000.00.01.H60", Name: "Sở A"}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.GetSystem(ctx, "000.00.01.H60"); err != nil {
		t.Fatal(err)
	}
	if _, err := g.ListSystems(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if seen["write"] != 1 || seen["read"] != 2 || len(seen) != 2 {
		t.Fatalf("observed %v", seen)
	}
	if store.OpKind("UseNonce") != "write" || store.OpKind("ListKeys") != "read" {
		t.Fatal("OpKind")
	}
}
