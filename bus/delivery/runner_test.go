package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/delivery"
	"github.com/tuyenquang/lgsp/bus/store"
)

func openStore(t *testing.T) store.Store {
	t.Helper()
	s, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "lgsp.db"))
	if err != nil {
		t.Fatalf("opening sqlite: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// fakeKind is a real kind whose destination is a function (the engine is
// what is under test here; the HTTP kinds have their own tests).
type fakeKind struct {
	name    string
	slots   int
	deliver func(ctx context.Context, it store.OutboxItem) error
	mu      sync.Mutex
	records []string
}

func (k *fakeKind) Name() string { return k.name }
func (k *fakeKind) Slots() int   { return k.slots }
func (k *fakeKind) Deliver(ctx context.Context, it store.OutboxItem) error {
	return k.deliver(ctx, it)
}
func (k *fakeKind) RetryPolicy(store.OutboxItem) bus.RetryPolicy {
	return bus.RetryPolicy{Initial: time.Millisecond, MaxInterval: time.Millisecond, MaxAttempts: 3, MaxElapsed: time.Hour, Jitter: -1}
}
func (k *fakeKind) Record(_ context.Context, it store.OutboxItem, status string, _ error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.records = append(k.records, fmt.Sprintf("%s:%d:%s", it.Target, it.Attempts, status))
}

func enqueue(t *testing.T, s store.Store, kind, target string, n int) {
	t.Helper()
	for i := range n {
		if err := s.EnqueueOutbox(t.Context(), store.OutboxItem{Kind: kind, Target: target, ExchangeID: fmt.Sprint(target, "-", i)}); err != nil {
			t.Fatal(err)
		}
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

func count(t *testing.T, s store.Store, status string) int {
	t.Helper()
	l, err := s.ListDeliveries(t.Context(), store.OutboxFilter{Status: status, Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	return len(l)
}

func start(t *testing.T, r *delivery.Runner) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Errorf("runner did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// Transient failures are retried with the kind's policy, permanent ones
// and panics go straight to the dead letters with their history, and
// every attempt of one item carries the same idempotency key.
func TestRunnerOutcomes(t *testing.T) {
	s := openStore(t)
	var mu sync.Mutex
	keys := map[string]map[string]int{} // target → key → attempts
	k := &fakeKind{name: "fake", deliver: func(ctx context.Context, it store.OutboxItem) error {
		mu.Lock()
		if keys[it.Target] == nil {
			keys[it.Target] = map[string]int{}
		}
		keys[it.Target][delivery.Key(it)]++
		mu.Unlock()
		switch it.Target {
		case "flaky":
			if it.Attempts < 1 {
				return errors.New("503")
			}
			return nil
		case "down":
			return errors.New("connection refused")
		case "bad":
			return delivery.Permanent(errors.New("answered 400"))
		case "boom":
			panic("kind bug")
		}
		return nil
	}}
	reg := delivery.NewRegistry()
	reg.Register(k)
	for _, tg := range []string{"ok", "flaky", "down", "bad", "boom"} {
		enqueue(t, s, "fake", tg, 2)
	}
	start(t, &delivery.Runner{Store: s, Kinds: reg, Node: "n1", Poll: 10 * time.Millisecond})
	eventually(t, 10*time.Second, "every item final", func() bool { return count(t, s, store.OutboxPending) == 0 })
	if d, dead := count(t, s, store.OutboxDone), count(t, s, store.OutboxDead); d != 4 || dead != 6 {
		t.Fatalf("done %d dead %d, want 4 and 6", d, dead)
	}
	dl, _ := s.ListDeliveries(t.Context(), store.OutboxFilter{Status: store.OutboxDead, Target: "down"})
	if len(dl) != 2 || dl[0].Attempts != 3 || len(dl[0].History) != 3 || dl[0].LastError != "connection refused" {
		t.Fatalf("exhausted item = %+v", dl)
	}
	for _, tg := range []string{"bad", "boom"} {
		dl, _ = s.ListDeliveries(t.Context(), store.OutboxFilter{Status: store.OutboxDead, Target: tg})
		if len(dl) != 2 || dl[0].Attempts != 1 {
			t.Fatalf("permanent failure of %s = %+v", tg, dl)
		}
	}
	if dl[0].LastError != "delivery kind fake panicked: kind bug" {
		t.Fatalf("panic recorded as %q", dl[0].LastError)
	}
	mu.Lock()
	defer mu.Unlock()
	for tg, want := range map[string]int{"ok": 1, "flaky": 2, "down": 3, "bad": 1} {
		if len(keys[tg]) != 2 {
			t.Fatalf("%s: %d distinct keys for 2 items", tg, len(keys[tg]))
		}
		for key, n := range keys[tg] {
			if n != want {
				t.Fatalf("%s: key %s used %d times, want %d", tg, key, n, want)
			}
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.records) != 2+2*2+2*3+2+2 { // ok, flaky (retry+done), down (2 retries+dead), bad, boom
		t.Fatalf("records = %v", k.records)
	}
}

// A destination that hangs uses only its own slots: the items of the
// other destinations are all delivered while it hangs.
func TestRunnerIsolation(t *testing.T) {
	s := openStore(t)
	hang := make(chan struct{})
	defer close(hang)
	var slow atomic.Int32
	k := &fakeKind{name: "fake", slots: 2, deliver: func(ctx context.Context, it store.OutboxItem) error {
		if it.Target == "hanging" {
			slow.Add(1)
			select {
			case <-hang:
			case <-ctx.Done():
			}
			return ctx.Err()
		}
		return nil
	}}
	reg := delivery.NewRegistry()
	reg.Register(k)
	enqueue(t, s, "fake", "hanging", 200) // first in due order
	for i := range 9 {
		enqueue(t, s, "fake", fmt.Sprint("healthy", i), 20)
	}
	r := &delivery.Runner{Store: s, Kinds: reg, Node: "n1", Poll: 10 * time.Millisecond, Queue: 3, MaxHeld: 32, Batch: 16}
	start(t, r)
	eventually(t, 10*time.Second, "healthy destinations served", func() bool { return count(t, s, store.OutboxDone) == 180 })
	if n := slow.Load(); n != 2 {
		t.Fatalf("%d deliveries to the hanging destination started, want its 2 slots", n)
	}
	if h := r.Held(); h != 2+3 {
		t.Fatalf("runner holds %d items, want the hanging target's slots+queue (5)", h)
	}
}

// A delivery slower than the lease keeps its lease by heartbeats: two
// runners on one store deliver every item exactly once.
func TestRunnerSlowerThanLease(t *testing.T) {
	s := openStore(t)
	var mu sync.Mutex
	arrivals := map[string]int{}
	k := func() *fakeKind {
		return &fakeKind{name: "fake", deliver: func(ctx context.Context, it store.OutboxItem) error {
			select {
			case <-time.After(600 * time.Millisecond): // the destination's slowness
			case <-ctx.Done():
				return ctx.Err()
			}
			mu.Lock()
			arrivals[delivery.Key(it)]++
			mu.Unlock()
			return nil
		}}
	}
	enqueue(t, s, "fake", "slow", 6)
	for _, node := range []string{"n1", "n2"} {
		reg := delivery.NewRegistry()
		reg.Register(k())
		start(t, &delivery.Runner{Store: s, Kinds: reg, Node: node, Lease: 150 * time.Millisecond, Poll: 10 * time.Millisecond})
	}
	eventually(t, 20*time.Second, "all delivered", func() bool { return count(t, s, store.OutboxDone) == 6 })
	mu.Lock()
	defer mu.Unlock()
	if len(arrivals) != 6 {
		t.Fatalf("%d distinct items arrived, want 6", len(arrivals))
	}
	for key, n := range arrivals {
		if n != 1 {
			t.Fatalf("%s arrived %d times", key, n)
		}
	}
}

// Shutdown releases what is waiting at once and what still runs after the
// grace period, without counting an attempt; a restarted node frees the
// leases of its previous run.
func TestRunnerShutdownReleases(t *testing.T) {
	s := openStore(t)
	var started atomic.Int32
	k := &fakeKind{name: "fake", slots: 2, deliver: func(ctx context.Context, it store.OutboxItem) error {
		started.Add(1)
		<-ctx.Done()
		return ctx.Err()
	}}
	reg := delivery.NewRegistry()
	reg.Register(k)
	enqueue(t, s, "fake", "stuck", 5)
	r := &delivery.Runner{Store: s, Kinds: reg, Node: "n1", Poll: 10 * time.Millisecond, Grace: 100 * time.Millisecond, Lease: time.Hour}
	stop := start(t, r)
	eventually(t, 5*time.Second, "two running, three waiting", func() bool { return started.Load() == 2 && r.Held() == 5 })
	t0 := time.Now()
	stop()
	if d := time.Since(t0); d > 3*time.Second {
		t.Fatalf("shutdown took %s", d)
	}
	all, _ := s.ListDeliveries(t.Context(), store.OutboxFilter{})
	for _, it := range all {
		if it.Status != store.OutboxPending || it.Attempts != 0 || it.ClaimedBy != "" || it.LeaseToken != "" {
			t.Fatalf("after shutdown: %+v", it)
		}
	}
	// A node killed while holding items: its restart releases them at once
	// even though their (one hour) lease has not ended.
	if got, err := s.ClaimDeliveries(t.Context(), store.Claim{Limit: 10, Node: "n1", Lease: time.Hour}); err != nil || len(got) != 5 {
		t.Fatalf("claim as the dying node: %d, %v", len(got), err)
	}
	k2 := &fakeKind{name: "fake", deliver: func(ctx context.Context, it store.OutboxItem) error { return nil }}
	reg2 := delivery.NewRegistry()
	reg2.Register(k2)
	start(t, &delivery.Runner{Store: s, Kinds: reg2, Node: "n1", Poll: 10 * time.Millisecond})
	eventually(t, 5*time.Second, "restarted node delivers its old items", func() bool { return count(t, s, store.OutboxDone) == 5 })
}
