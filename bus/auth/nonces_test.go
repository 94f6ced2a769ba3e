package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus"
)

func TestMemoryNonces(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Unix(1790000000, 0)}
	m := NewMemoryNonces(3)
	m.Now = clk.Now
	use := func(ak, n string, ttl time.Duration) (bool, error) {
		return m.Use(ctx, ak, n, clk.Now().Add(ttl))
	}
	mustFresh := func(ak, n string, ttl time.Duration, want bool) {
		t.Helper()
		fresh, err := use(ak, n, ttl)
		if err != nil || fresh != want {
			t.Fatalf("Use(%s, %s) = %v, %v; want %v", ak, n, fresh, err, want)
		}
	}

	mustFresh("AK1", "nonce-a", time.Minute, true)
	mustFresh("AK1", "nonce-a", time.Minute, false)  // replay
	mustFresh("AK2", "nonce-a", 2*time.Minute, true) // other key: its own nonces
	mustFresh("AK1", "nonce-b", 3*time.Minute, true)

	// Full of unexpired nonces: refuse, never forget.
	fresh, err := use("AK1", "nonce-c", time.Minute)
	if fresh {
		t.Fatal("full cache said fresh")
	}
	wantCode(t, err, "system.busy")
	if !errors.Is(err, ErrNoncesFull) {
		t.Fatalf("cause = %v", err)
	}
	if ra := bus.AsError(err).RetryAfter; ra != 60 {
		t.Fatalf("RetryAfter = %d, want 60 (the earliest expiry)", ra)
	}
	if m.Len() != 3 {
		t.Fatalf("Len = %d, want 3", m.Len())
	}
	mustFresh("AK1", "nonce-a", time.Minute, false) // still remembered

	// The earliest expiry goes first; later ones stay.
	clk.Add(time.Minute)
	mustFresh("AK1", "nonce-c", time.Minute, true)
	if m.Len() != 3 {
		t.Fatalf("Len = %d, want 3", m.Len())
	}
	mustFresh("AK2", "nonce-a", time.Minute, false)
	mustFresh("AK1", "nonce-b", time.Minute, false)
	_, err = use("AK1", "nonce-d", time.Minute) // full again
	wantCode(t, err, "system.busy")
	clk.Add(time.Minute)
	mustFresh("AK1", "nonce-a", time.Minute, true) // expired and evicted: usable again

	// An entry that is already expired is not remembered and takes no room.
	clk.Add(10 * time.Minute)
	mustFresh("AK1", "nonce-e", -time.Second, true)
	if m.Len() != 0 {
		t.Fatalf("Len = %d after everything expired, want 0", m.Len())
	}
}

func TestMemoryNoncesBusyThroughVerify(t *testing.T) {
	f := newFixture(t)
	m := NewMemoryNonces(1)
	m.Now = f.clk.Now
	f.v.Nonces = m
	if _, err := f.v.Verify(signedExample(t, exAccessKey, exNonce)); err != nil {
		t.Fatal(err)
	}
	_, err := f.v.Verify(signedExample(t, exAccessKey, "n0nce-2026-11-26-0002"))
	wantCode(t, err, "system.busy")
	if ra := bus.AsError(err).RetryAfter; ra <= 0 || ra > 301 {
		t.Fatalf("RetryAfter = %d", ra)
	}
	f.clk.Add(5*time.Minute + time.Second) // the first nonce leaves the window
	f.v.Skew = time.Hour                   // keep the old timestamp acceptable
	if _, err := f.v.Verify(signedExample(t, exAccessKey, "n0nce-2026-11-26-0002")); err != nil {
		t.Fatal(err)
	}
}

func TestMemoryNoncesBoundSharded(t *testing.T) {
	const capacity = 64 << 10
	m := NewMemoryNonces(capacity)
	if len(m.shards) < 2 {
		t.Fatalf("%d shards for %d entries", len(m.shards), capacity)
	}
	clk := &clock{t: time.Unix(1790000000, 0)}
	m.Now = clk.Now
	exp := clk.Now().Add(time.Minute)
	accepted := 0
	for i := 0; i < 2*capacity; i++ {
		fresh, err := m.Use(context.Background(), "AK", fmt.Sprintf("nonce-%016d", i), exp)
		if err == nil && fresh {
			accepted++
		} else {
			wantCode(t, err, "system.busy")
		}
	}
	if n := m.Len(); n != accepted || n > len(m.shards)*m.per || n < capacity*9/10 {
		t.Fatalf("Len = %d, accepted %d, bound %d", n, accepted, len(m.shards)*m.per)
	}
}

func TestMemoryNoncesConcurrent(t *testing.T) {
	m := NewMemoryNonces(1 << 16)
	clk := &clock{t: time.Unix(1790000000, 0)}
	m.Now = clk.Now
	const workers, nonces = 16, 500
	var fresh atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Every worker tries every nonce of two keys: each pair must be
			// fresh exactly once across all workers.
			for i := 0; i < nonces; i++ {
				for _, ak := range []string{"AK1", "AK2"} {
					ok, err := m.Use(context.Background(), ak, fmt.Sprintf("nonce-%08d", i), clk.Now().Add(time.Minute))
					if err != nil {
						t.Error(err)
						return
					}
					if ok {
						fresh.Add(1)
					}
				}
				if i%100 == 0 {
					clk.Add(time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	if got := fresh.Load(); got != 2*nonces {
		t.Fatalf("%d fresh answers, want %d", got, 2*nonces)
	}
}

func TestStoreNonces(t *testing.T) {
	st := newMemStore()
	n := StoreNonces(st)
	exp := time.Unix(1790000300, 0)
	if fresh, err := n.Use(context.Background(), "AK", "nonce-0000000001", exp); !fresh || err != nil {
		t.Fatal(fresh, err)
	}
	if fresh, err := n.Use(context.Background(), "AK", "nonce-0000000001", exp); fresh || err != nil {
		t.Fatal(fresh, err)
	}
	st.fail = bus.ErrBusy.New("pool exhausted")
	_, err := n.Use(context.Background(), "AK", "nonce-0000000002", exp)
	wantCode(t, err, "system.busy") // catalogue errors pass through
}

// TestMemoryNoncesSaveLoad: a saved cache gives its live nonces back to a
// new one (expired ones dropped), refuses every Use once saved, and a torn
// or altered state is refused whole.
func TestMemoryNoncesSaveLoad(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1790000000, 0)
	m := NewMemoryNonces(1 << 14)
	m.Now = func() time.Time { return now }
	for i, ttl := range []time.Duration{time.Minute, 2 * time.Minute, time.Second} {
		if fresh, err := m.Use(ctx, "AK1", fmt.Sprintf("nonce-%d", i), now.Add(ttl)); !fresh || err != nil {
			t.Fatalf("Use: %v %v", fresh, err)
		}
	}
	var b bytes.Buffer
	if err := m.Save(&b, now.Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Use(ctx, "AK1", "nonce-after-save", now.Add(time.Minute)); !errors.Is(err, bus.ErrUnavailable.Err()) {
		t.Fatalf("Use after Save: %v, want system.unavailable", err)
	}
	state := b.String()

	n := NewMemoryNonces(1 << 14)
	n.Now = func() time.Time { return now.Add(10 * time.Second) }
	got, err := n.Load(strings.NewReader(state), now.Add(10*time.Second))
	if err != nil || got != 2 {
		t.Fatalf("Load = %d, %v; want the 2 live nonces", got, err)
	}
	for i, want := range []bool{false, false, true} { // nonce-2 had expired
		if fresh, err := n.Use(ctx, "AK1", fmt.Sprintf("nonce-%d", i), now.Add(time.Hour)); fresh != want || err != nil {
			t.Errorf("nonce-%d after Load: fresh %v (%v), want %v", i, fresh, err, want)
		}
	}

	for name, bad := range map[string]string{
		"empty":         "",
		"no header":     strings.SplitN(state, "\n", 2)[1],
		"torn":          strings.TrimSuffix(state, "end\n"),
		"bad line":      strings.Replace(state, "\nend\n", "\nxyz\nend\n", 1),
		"after trailer": state + "1 41\n",
	} {
		o := NewMemoryNonces(1 << 14)
		if k, err := o.Load(strings.NewReader(bad), now); err == nil {
			t.Errorf("%s: Load accepted it (%d nonces)", name, k)
		}
		if o.Len() != 0 {
			t.Errorf("%s: a refused state left %d nonces", name, o.Len())
		}
	}
}
