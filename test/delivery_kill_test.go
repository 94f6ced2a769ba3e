package test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus/delivery"
	"github.com/tuyenquang/lgsp/bus/notify"
	"github.com/tuyenquang/lgsp/bus/store"
)

// fleetNode is one real lgsp binary on a shared MariaDB store, configured by
// its own config file (the node name, webhooks to loopback, a short lease).
type fleetNode struct {
	*crashNode
	name string
}

func newBinNode(t *testing.T, bin, name, dsn, masterKey string, extra string) *fleetNode {
	t.Helper()
	n := &crashNode{t: t, bin: bin, work: t.TempDir()}
	if err := os.MkdirAll(filepath.Join(n.work, "routes"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(n.work, "routes", "test.yaml"), []byte(testRoutes), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("node: %s\nstore: %q\nmaster_key_file: %q\ndata_dir: %q\nroutes_dir: %q\nshutdown_timeout: 5s\n"+
		"webhooks:\n  allow_cidrs: [\"127.0.0.0/8\"]\n%s",
		name, dsn, masterKey, filepath.Join(n.work, "data"), filepath.Join(n.work, "routes"), extra)
	if err := os.WriteFile(filepath.Join(n.work, "lgsp.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if n.cmd != nil && n.cmd.ProcessState == nil {
			_ = n.cmd.Process.Kill()
			<-n.done
		}
	})
	return &fleetNode{crashNode: n, name: name}
}

func (n *fleetNode) run(args ...string) {
	n.t.Helper()
	cmd := exec.Command(n.bin, args...)
	cmd.Dir = n.work
	cmd.Env = append(os.Environ(), "LGSP_CONFIG="+filepath.Join(n.work, "lgsp.yaml"), "LGSP_LOG_LEVEL=warn")
	if out, err := cmd.CombinedOutput(); err != nil {
		n.t.Fatalf("lgsp %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (n *fleetNode) serve() {
	n.start("LGSP_CONFIG="+filepath.Join(n.work, "lgsp.yaml"), "LGSP_LOG_LEVEL=warn")
}

// seedWebhooks puts n webhook items, spread over the systems, straight into
// the outbox through the store API (16 writers at once): the test is about
// delivering them, and 10,000 exchanges through the front door would take
// minutes. Every item is a distinct Idempotency-Key (lgsp-<outbox id>).
func seedWebhooks(t *testing.T, st store.Store, systems []string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 16 {
				it := store.OutboxItem{Kind: notify.KindWebhook, Target: systems[i%len(systems)], Payload: []byte(fmt.Sprintf(`{"event":"load","n":%d}`, i))}
				if err := st.EnqueueOutbox(context.Background(), it); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestDeliveryKill9TwoNodesUnderLoad: two real lgsp binaries on one
// MariaDB deliver 10,000 webhooks to five loopback receivers (lease 2 s).
// When about a quarter have arrived, node A is killed with SIGKILL while it
// holds leased items; node B takes them over once their leases end, and A,
// restarted, releases what its previous run held. Afterwards every item is
// done, every key arrived at its own receiver, and the only keys that
// arrived twice are among the items A held when it died (a destination
// sees them "again with the same key", never under a new key).
func TestDeliveryKill9TwoNodesUnderLoad(t *testing.T) {
	const total, dests = 10000, 5
	dsn, db := freshMySQL(t)
	bin := buildLGSP(t)
	masterKey := filepath.Join(t.TempDir(), "master.key")
	tune := "delivery:\n  lease: 2s\n  slots: 8\n  queue: 32\n  max_held: 256\n"
	a := newBinNode(t, bin, "node-a", dsn, masterKey, tune)
	b := newBinNode(t, bin, "node-b", dsn, masterKey, tune)

	recv := make([]*keyCounter, dests)
	systems := make([]string, dests)
	for i := range dests {
		recv[i] = newKeyCounter(0)
		srv := httptest.NewServer(recv[i])
		t.Cleanup(srv.Close)
		systems[i] = fmt.Sprintf("000.00.%02d.H60", 10+i)
		a.run("systems", "add", "--code", systems[i], "--name", fmt.Sprintf("Hệ thống %d", i), "--unit", "UBND tỉnh", "--webhook", srv.URL)
		a.run("keys", "issue", "--system", systems[i], "--out", filepath.Join(a.work, systems[i]+".json"))
	}
	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	seedStart := time.Now()
	seedWebhooks(t, st, systems, total)
	t.Logf("seeded %d webhooks in %v", total, time.Since(seedStart).Round(time.Millisecond))

	arrived := func() (n int) {
		for _, r := range recv {
			n += len(r.counts())
		}
		return n
	}
	start := time.Now()
	a.serve()
	b.serve()
	waitFor(t, 60*time.Second, "a quarter of the webhooks arrive", func() bool { return arrived() >= total/4 })
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	a.waitKilled()
	killedAt := time.Now()
	heldByA := queryInt(t, db, "SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND claimed_by = 'node-a' AND claimed_until > ?", killedAt.UTC().UnixMicro())
	if heldByA == 0 {
		t.Fatal("node A held no leased item when it died: the kill missed the middle of a batch")
	}
	atKill := arrived()
	a.serve() // restarted: it releases the leases of its previous run
	waitFor(t, 90*time.Second, "every webhook done", func() bool {
		return queryInt(t, db, "SELECT COUNT(*) FROM outbox WHERE status = 'done'") == total
	})
	elapsed := time.Since(start)
	if n := queryInt(t, db, "SELECT COUNT(*) FROM outbox WHERE status <> 'done'"); n != 0 {
		t.Fatalf("%d items not done", n)
	}

	// Every key arrived at its own receiver; duplicates only under the same key.
	var ids []int64
	rows, err := db.Query("SELECT id, target FROM outbox")
	if err != nil {
		t.Fatal(err)
	}
	index := map[string]int{}
	for i, s := range systems {
		index[s] = i
	}
	want := map[string]int{} // key -> receiver
	for rows.Next() {
		var id int64
		var target string
		if err := rows.Scan(&id, &target); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		want[delivery.Key(store.OutboxItem{ID: id})] = index[target]
	}
	rows.Close()
	if len(ids) != total {
		t.Fatalf("%d outbox rows, want %d", len(ids), total)
	}
	twice, distinct := 0, 0
	for i, r := range recv {
		for key, c := range r.counts() {
			w, ok := want[key]
			if !ok || w != i {
				t.Fatalf("receiver %d got key %q, which is not one of its items", i, key)
			}
			distinct++
			if c > 1 {
				twice += c - 1
			}
		}
	}
	if distinct != total {
		t.Fatalf("%d distinct keys arrived, want %d", distinct, total)
	}
	if int64(twice) > heldByA {
		t.Fatalf("%d repeated arrivals, more than the %d items node A held when it died", twice, heldByA)
	}
	t.Logf("%d webhooks to %d receivers, two nodes, kill -9 of node A at %d arrivals holding %d leased items: all %d delivered, %d arrived again with the same key, 0 lost, 0 under a new key; %v in all, %v after the kill",
		total, dests, atKill, heldByA, distinct, twice, elapsed.Round(time.Millisecond), time.Since(killedAt).Round(time.Millisecond))
}

// waitFor polls cond until it holds or d passes (eventuallyWithin).
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	eventuallyWithin(t, d, what, func() (bool, error) { return cond(), nil })
}
