package test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus/delivery"
	"github.com/tuyenquang/lgsp/bus/notify"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
)

// arrivals records when each Idempotency-Key first arrived.
type arrivals struct {
	mu    sync.Mutex
	first map[string]time.Time
}

func (a *arrivals) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	a.mu.Lock()
	if _, seen := a.first[r.Header.Get(delivery.HeaderKey)]; !seen {
		a.first[r.Header.Get(delivery.HeaderKey)] = now
	}
	a.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (a *arrivals) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.first)
}

// hanging never answers until the test ends (or the caller gives up).
type hanging struct{ stop chan struct{} }

func (h hanging) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case <-h.stop:
	case <-r.Context().Done():
	}
}

// healthyLatencies runs two nodes on a fresh MariaDB with nine healthy
// webhook receivers (and, if hang, a tenth that never answers and has 200
// items due first), feeds the healthy ones perHealthy items each, due
// evenly over 3 s, and returns their due→arrival times, sorted.
func healthyLatencies(t *testing.T, hang bool, perHealthy int) []time.Duration {
	t.Helper()
	dsn, db := freshMySQL(t)
	key := filepath.Join(t.TempDir(), "master.key")
	on := func(name string) func(*service.Config) {
		return func(c *service.Config) {
			c.Store, c.MasterKeyFile, c.Node = dsn, key, name
			c.Webhooks.AllowCIDRs = []string{"127.0.0.0/8"}
		}
	}
	a := startNodeWith(t, "sqlite", on("node-a"))
	startNodeWith(t, "sqlite", on("node-b"))
	ctx := context.Background()
	rec := &arrivals{first: map[string]time.Time{}}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	var healthy []string
	for i := range 9 {
		code := fmt.Sprintf("000.00.%02d.H60", 20+i)
		addWebhookSystem(t, a, code, fmt.Sprintf("%s/%d", srv.URL, i))
		healthy = append(healthy, code)
	}
	st := a.svc.Store()
	t0 := time.Now().UTC()
	if hang {
		h := hanging{stop: make(chan struct{})}
		hs := httptest.NewServer(h)
		t.Cleanup(hs.Close)
		t.Cleanup(func() { close(h.stop) }) // runs first: the handlers end, then the server closes
		addWebhookSystem(t, a, "000.00.99.H60", hs.URL)
		for range 200 {
			if err := st.EnqueueOutbox(ctx, store.OutboxItem{Kind: notify.KindWebhook, Target: "000.00.99.H60", DueAt: t0, Payload: []byte(`{"event":"hang"}`)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	n := perHealthy * len(healthy)
	start := t0.Add(time.Second)
	for i := range n {
		due := start.Add(time.Duration(i) * 3 * time.Second / time.Duration(n))
		if err := st.EnqueueOutbox(ctx, store.OutboxItem{Kind: notify.KindWebhook, Target: healthy[i%len(healthy)], DueAt: due, Payload: []byte(`{"event":"ok"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 30*time.Second, "every healthy webhook arrives", func() bool { return rec.count() >= n })
	rows, err := db.Query("SELECT id, due_at FROM outbox WHERE target <> '000.00.99.H60'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var lat []time.Duration
	for rows.Next() {
		var id, due int64
		if err := rows.Scan(&id, &due); err != nil {
			t.Fatal(err)
		}
		at, ok := rec.first[delivery.Key(store.OutboxItem{ID: id})]
		if !ok {
			t.Fatalf("outbox item %d never arrived", id)
		}
		lat = append(lat, at.Sub(time.UnixMicro(due)))
	}
	if len(lat) != n {
		t.Fatalf("%d healthy items, want %d", len(lat), n)
	}
	slices.Sort(lat)
	return lat
}

func addWebhookSystem(t *testing.T, n *node, code, url string) {
	t.Helper()
	ctx := context.Background()
	if _, _, err := n.svc.Registry().AddSystem(ctx, store.System{Code: code, Name: "Hệ thống " + code, WebhookURL: url}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := n.svc.Registry().IssueKey(ctx, code, time.Time{}); err != nil {
		t.Fatal(err)
	}
}

func pct(sorted []time.Duration, p float64) time.Duration {
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

// TestDeliveryIsolationHangingDestination: two nodes on one MariaDB, nine
// healthy webhook receivers and a tenth that never answers, with 200 items
// due before the healthy ones. The hanging destination holds only its own
// slots: the healthy items' p99 due→arrival stays within 2× of the same
// run without it (figure in docs/load.md, "Delivery isolation").
func TestDeliveryIsolationHangingDestination(t *testing.T) {
	const per = 40
	base := healthyLatencies(t, false, per)
	with := healthyLatencies(t, true, per)
	b50, b99, w50, w99 := pct(base, .5), pct(base, .99), pct(with, .5), pct(with, .99)
	t.Logf("healthy due→arrival, %d items over 9 receivers: alone p50 %v p99 %v; beside a hanging destination (200 items) p50 %v p99 %v (%.2f×)",
		len(base), b50.Round(time.Millisecond), b99.Round(time.Millisecond), w50.Round(time.Millisecond), w99.Round(time.Millisecond), float64(w99)/float64(b99))
	if w99 > 2*b99 {
		t.Fatalf("healthy p99 %v beside a hanging destination, more than 2× the %v without it", w99, b99)
	}
}
