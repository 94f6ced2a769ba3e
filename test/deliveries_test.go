package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus/delivery"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
)

// keyCounter is a webhook receiver that counts arrivals per Idempotency-Key.
type keyCounter struct {
	mu    sync.Mutex
	seen  map[string]int
	delay time.Duration
	code  atomic.Int32
}

func newKeyCounter(delay time.Duration) *keyCounter {
	k := &keyCounter{seen: map[string]int{}, delay: delay}
	k.code.Store(http.StatusNoContent)
	return k
}

func (k *keyCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if k.delay > 0 { // the destination's own slowness
		select {
		case <-time.After(k.delay):
		case <-r.Context().Done():
			return
		}
	}
	code := int(k.code.Load())
	if code/100 == 2 {
		k.mu.Lock()
		k.seen[r.Header.Get(delivery.HeaderKey)]++
		k.mu.Unlock()
	}
	w.WriteHeader(code)
}

func (k *keyCounter) counts() map[string]int {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := map[string]int{}
	for key, n := range k.seen {
		out[key] = n
	}
	return out
}

func outboxItems(t *testing.T, st store.Store, status string) []store.OutboxItem {
	t.Helper()
	l, err := st.ListDeliveries(context.Background(), store.OutboxFilter{Status: status, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestDeliverySlowerThanLeaseTwoNodes: two nodes on one MariaDB, a webhook
// receiver slower (2.5 s) than the delivery lease (1 s). Heartbeats keep
// the lease of the node delivering, fencing keeps a stale holder's outcome
// out: every webhook arrives exactly once (issue #10: 13 of 20 arrived
// twice before).
func TestDeliverySlowerThanLeaseTwoNodes(t *testing.T) {
	dsn, _ := freshMySQL(t)
	key := filepath.Join(t.TempDir(), "master.key")
	on := func(name string) func(*service.Config) {
		return func(c *service.Config) {
			c.Store, c.MasterKeyFile, c.Node = dsn, key, name
			c.Webhooks.AllowCIDRs = []string{"127.0.0.0/8"}
			c.Delivery.Lease = time.Second
		}
	}
	a := startNodeWith(t, "sqlite", on("node-a"))
	b := startNodeWith(t, "sqlite", on("node-b"))
	recv := newKeyCounter(2500 * time.Millisecond)
	hook := httptest.NewServer(recv)
	defer hook.Close()
	ctx := context.Background()
	a.system(t, "000.00.00.H60", "UBND tỉnh")
	if _, _, err := a.svc.Registry().AddSystem(ctx, store.System{Code: "000.00.07.H60", Name: "Sở Y tế", WebhookURL: hook.URL}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.svc.Registry().IssueKey(ctx, "000.00.07.H60", time.Time{}); err != nil {
		t.Fatal(err)
	}
	const n = 8
	for range n {
		sendSmall(t, a, "000.00.00.H60", "000.00.07.H60")
	}
	st := b.svc.Store()
	eventuallyWithin(t, 30*time.Second, "every webhook done", func() (bool, error) {
		done := len(outboxItems(t, st, store.OutboxDone))
		return done >= n, fmt.Errorf("%d of %d done", done, n)
	})
	got := recv.counts()
	if len(got) != n {
		t.Fatalf("%d distinct webhooks arrived, want %d: %v", len(got), n, got)
	}
	for k, c := range got {
		if c != 1 {
			t.Fatalf("webhook %s arrived %d times (all: %v)", k, c, got)
		}
	}
	t.Logf("%d webhooks, receiver 2.5 s, lease 1 s, two nodes: each arrived once", n)
}

// TestDeadLettersAdmin: a webhook the receiver refuses (400) is a dead
// letter at once, with its history; the admin API lists it (no payload),
// requeues it by id (it is then delivered with the same idempotency key)
// and discards others by filter; each action is in the ledger.
func TestDeadLettersAdmin(t *testing.T) {
	n := startNodeWith(t, "sqlite", func(c *service.Config) { c.Webhooks.AllowCIDRs = []string{"127.0.0.0/8"} })
	recv := newKeyCounter(0)
	recv.code.Store(http.StatusBadRequest)
	hook := httptest.NewServer(recv)
	defer hook.Close()
	ctx := context.Background()
	n.system(t, "000.00.00.H60", "UBND tỉnh")
	if _, _, err := n.svc.Registry().AddSystem(ctx, store.System{Code: "000.00.07.H60", Name: "Sở Y tế", WebhookURL: hook.URL}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := n.svc.Registry().IssueKey(ctx, "000.00.07.H60", time.Time{}); err != nil {
		t.Fatal(err)
	}
	id1 := sendSmall(t, n, "000.00.00.H60", "000.00.07.H60")
	id2 := sendSmall(t, n, "000.00.00.H60", "000.00.07.H60")
	admin := func(method, path string, body any, out any) int {
		t.Helper()
		var rd *bytes.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		} else {
			rd = bytes.NewReader(nil)
		}
		req, _ := http.NewRequest(method, n.url+path, rd)
		req.Header.Set("Authorization", "Bearer "+n.svc.AdminToken())
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if out != nil {
			if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
				t.Fatal(err)
			}
		}
		return resp.StatusCode
	}
	var list struct{ Items []map[string]any }
	eventually(t, "two dead letters", func() (bool, error) {
		list.Items = nil
		admin("GET", "/admin/v1/deliveries?kind=webhook", nil, &list)
		return len(list.Items) == 2, nil
	})
	var first map[string]any
	for _, it := range list.Items {
		if it["exchange_id"] == id1 {
			first = it
		}
		if _, has := it["payload"]; has {
			t.Fatalf("a dead letter shows its payload: %v", it)
		}
		if it["attempts"].(float64) != 1 || len(it["history"].([]any)) != 1 || it["last_error"] != "webhook answered 400 Bad Request" {
			t.Fatalf("dead letter = %v", it)
		}
	}
	if code := admin("POST", "/admin/v1/deliveries/retry", map[string]any{}, nil); code != http.StatusBadRequest {
		t.Fatalf("retry without a filter: %d, want 400", code)
	}
	recv.code.Store(http.StatusNoContent)
	var res struct{ Count int }
	if code := admin("POST", "/admin/v1/deliveries/retry", map[string]any{"id": first["id"]}, &res); code != http.StatusOK || res.Count != 1 {
		t.Fatalf("retry by id: %d, count %d", code, res.Count)
	}
	eventually(t, "the requeued webhook arrives", func() (bool, error) { return recv.counts()[first["idempotency_key"].(string)] == 1, nil })
	if code := admin("POST", "/admin/v1/deliveries/discard", map[string]any{"target": "000.00.07.H60"}, &res); code != http.StatusOK || res.Count != 1 {
		t.Fatalf("discard by target: %d, count %d", code, res.Count)
	}
	if left := outboxItems(t, n.svc.Store(), store.OutboxDead); len(left) != 0 {
		t.Fatalf("dead letters left: %+v", left)
	}
	for id, want := range map[string]string{id1: delivery.EventRequeued, id2: delivery.EventDiscarded} {
		st, err := n.svc.Exchange().Status(ctx, "", id)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range st.Ledger {
			found = found || (e.Kind == want && e.Actor == "admin")
		}
		if !found {
			t.Fatalf("%s: no %s event in the ledger", id, want)
		}
	}
}
