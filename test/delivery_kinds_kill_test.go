package test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/adapters/soapout"
	"github.com/tuyenquang/lgsp/adapters/vxp"
	"github.com/tuyenquang/lgsp/bus/delivery"
	"github.com/tuyenquang/lgsp/bus/exchange"
	"github.com/tuyenquang/lgsp/bus/notify"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/test/sim/qlvbvnpt"
	vxpsim "github.com/tuyenquang/lgsp/test/sim/vxp"
)

// keyCounting counts, by Idempotency-Key, the POSTs a handler (a legacy
// SOAP system) answered 200.
type keyCounting struct {
	h    http.Handler
	down atomic.Bool // answer 503 without calling h
	mu   sync.Mutex
	seen map[string]int
}

type codeWriter struct {
	http.ResponseWriter
	code int
}

func (w *codeWriter) WriteHeader(code int) { w.code = code; w.ResponseWriter.WriteHeader(code) }

func (k *keyCounting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if k.down.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	cw := &codeWriter{ResponseWriter: w, code: http.StatusOK}
	k.h.ServeHTTP(cw, r)
	if r.Method == http.MethodPost && cw.code == http.StatusOK {
		k.mu.Lock()
		k.seen[r.Header.Get(delivery.HeaderKey)]++
		k.mu.Unlock()
	}
}

func (k *keyCounting) counts() map[string]int {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make(map[string]int, len(k.seen))
	for key, n := range k.seen {
		out[key] = n
	}
	return out
}

// TestDeliveryKill9SeveralKinds: two real lgsp binaries on one MariaDB
// deliver 10,000 items of three kinds — 7,750 webhooks to five receivers,
// 2,000 SOAP pushes to eight legacy SOAP systems (VNPT-style NhanVanBan:
// 250 documents, each to the eight) and 250 VXP pushes (the same documents,
// also addressed to the VXP gateway system) to the VXP simulator — with a
// 5 s lease (a 2 s lease, as the webhook-only test uses, is renewed too
// late on a loaded 2-core machine: many SOAP pushes are then fenced and
// sent again with the same key, which the assertions below allow and
// count, but the run is then about the machine, not the kill). When a
// quarter have arrived, every kind among them, node A is killed with SIGKILL while it holds leased
// items, then restarted. Afterwards every item is done and arrived at its
// own destination; the only repeats are "again with the same key": the
// same Idempotency-Key (webhooks, SOAP pushes) or the same packet bytes,
// DocumentId included (VXP, whose key is the exchange id); and they are no
// more than the items node A held, plus the attempts whose outcome a node
// could not record because its lease had passed meanwhile (fenced: the
// machine was too slow to renew it), plus items queued twice.
func TestDeliveryKill9SeveralKinds(t *testing.T) {
	const hooks, docs, legacy, hookDests = 7750, 250, 8, 5
	bin := buildLGSP(t)
	ctx := context.Background()

	// Destinations: webhook receivers, legacy SOAP systems, the axis.
	recv := make([]*keyCounter, hookDests)
	hookSystems, hookURLs := make([]string, hookDests), make([]string, hookDests)
	for i := range hookDests {
		recv[i] = newKeyCounter(0)
		srv := httptest.NewServer(recv[i])
		t.Cleanup(srv.Close)
		hookSystems[i], hookURLs[i] = fmt.Sprintf("000.00.%02d.H60", 40+i), srv.URL
	}
	legacySystems := make([]string, legacy)
	legacyCount := make([]*keyCounting, legacy)
	var pushes bytes.Buffer
	pushes.WriteString("pushes:\n")
	for i := range legacy {
		sim, err := qlvbvnpt.New("../wsdl/consumed/qlvb-vnpt.wsdl")
		if err != nil {
			t.Fatal(err)
		}
		legacyCount[i] = &keyCounting{h: sim, seen: map[string]int{}}
		srv := httptest.NewServer(legacyCount[i])
		t.Cleanup(srv.Close)
		legacySystems[i] = fmt.Sprintf("000.00.%02d.H60", 50+i)
		fmt.Fprintf(&pushes, "  - system: %s\n    wsdl: consumed/qlvb-vnpt.wsdl\n    operation: NhanVanBan\n    endpoint: %s/ws\n    version: \"1.1\"\n    timeout: 10s\n    mapping: %s\n    retry: {initial: 200ms, max_interval: 1s, max_attempts: 50}\n",
			legacySystems[i], srv.URL, vnptMapping)
	}
	axis := vxpsim.New(map[string]string{gwOrgan: vxpSecret, vpcpOrgan: "vpcp-secret"})
	axisSrv := axis.Start()
	t.Cleanup(axisSrv.Close)
	t.Setenv("LGSP_VXP_SECRET", vxpSecret)

	// The documents: made through the front door of an in-process node on
	// the same database, with the pushes but no VXP gateway, which then
	// stops; each is an edXML packet for the VXP gateway system and the
	// legacy systems. Its pushes run on a yearly schedule, so the pushes it
	// plans (soapout's diverter) wait for the binaries, which the test then
	// makes due at once; the legacy systems answer 503 meanwhile anyway,
	// and until the binaries' VXP pushes are arriving.
	for _, l := range legacyCount {
		l.down.Store(true)
	}
	dsn, db := freshMySQL(t)
	seed := startNodeWith(t, "sqlite", func(c *service.Config) {
		c.Store, c.Node = dsn, "seeder"
		c.Webhooks.AllowCIDRs = []string{"127.0.0.0/8"}
		yearly := bytes.ReplaceAll(pushes.Bytes(), []byte("    retry:"), []byte("    schedule: \"0 0 0 1 1 *\"\n    retry:"))
		if err := os.WriteFile(filepath.Join(c.RoutesDir, "pushes.yaml"), yearly, 0o644); err != nil {
			t.Fatal(err)
		}
	})
	masterKey := filepath.Join(seed.dataDir, "master.key")
	seed.system(t, senderSys, "QLVB Sở Nội vụ")
	seed.system(t, gwSystem, "Trục liên thông văn bản quốc gia (VXP)")
	seed.grant(t, "exchange", senderSys, gwSystem, "edoc")
	for _, s := range legacySystems {
		seed.system(t, s, "QLVB "+s)
		seed.grant(t, "exchange", senderSys, s, "edoc")
	}
	for i, s := range hookSystems {
		if _, _, err := seed.svc.Registry().AddSystem(ctx, store.System{Code: s, Name: "Hệ thống " + s, Unit: "UBND tỉnh", WebhookURL: hookURLs[i]}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := seed.svc.Registry().IssueKey(ctx, s, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	seedStart := time.Now()
	packets := map[string]int{} // packet bytes -> document number
	var pmu sync.Mutex
	exIDs := make([]string, docs)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := seed.clients[senderSys]
			for i := w; i < docs; i += 16 {
				pkt := vxpsim.SamplePacket(senderSys, []string{vpcpOrgan}, fmt.Sprintf("Văn bản số %d gửi Văn phòng Chính phủ", i), fmt.Appendf(nil, "noi dung %d", i))
				pmu.Lock()
				packets[string(pkt)] = i
				pmu.Unlock()
				sp, err := c.Request(ctx, exchange.Request{Recipients: append([]string{gwSystem}, legacySystems...), Title: fmt.Sprintf("Văn bản %d", i), DataType: "edoc", MediaType: "application/xml"})
				if err == nil {
					_, err = c.UploadBytes(ctx, sp.ExchangeID, pkt)
				}
				if err == nil {
					_, err = c.Complete(ctx, sp.ExchangeID, exchange.CompleteRequest{SHA256: sumHex(pkt)})
				}
				if err != nil {
					errs <- err
					return
				}
				exIDs[i] = sp.ExchangeID
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Every notification dispatched: each legacy recipient's diverted into
	// a planned push.
	waitFor(t, 60*time.Second, "the seeder's pushes planned", func() bool {
		return queryInt(t, db, "SELECT COUNT(*) FROM outbox WHERE kind = ?", soapout.KindSOAPPush) == legacy*docs &&
			queryInt(t, db, "SELECT COUNT(*) FROM outbox WHERE kind = ? AND status <> 'done'", notify.KindWebhook) == 0
	})
	if err := seed.shutdown(); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().UnixMicro()
	if _, err := db.Exec("UPDATE outbox SET due_at = ?, first_at = ? WHERE kind = ?", now, now, soapout.KindSOAPPush); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	seedWebhooks(t, st, hookSystems, hooks)
	t.Logf("seeded %d exchanges (%d SOAP pushes planned) and %d webhooks in %v (the VXP pushes are queued by the nodes' poll)", docs, legacy*docs, hooks, time.Since(seedStart).Round(time.Millisecond))

	// Two binaries with the pushes and the VXP gateway.
	tune := fmt.Sprintf("delivery:\n  lease: 5s\n  slots: 8\n  queue: 32\n  max_held: 256\nexchange:\n  inbox_limit: 2000\n"+
		"gateways:\n  vxp:\n    url: %s\n    system_id: %s\n    gateway_system: %s\n    schedule: \"@every 1s\"\n    organs: {%q: [%q]}\n    retry: {initial: 200ms, max_interval: 1s, max_attempts: 50}\n",
		axisSrv.URL, gwOrgan, gwSystem, rcptSys, rcptSys)
	nodes := make([]*fleetNode, 2)
	for i, name := range []string{"node-a", "node-b"} {
		nodes[i] = newBinNode(t, bin, name, dsn, masterKey, tune)
		if err := os.WriteFile(filepath.Join(nodes[i].work, "routes", "pushes.yaml"), pushes.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a, b := nodes[0], nodes[1]
	sentToAxis := func() []vxpsim.Doc {
		return axis.Docs(func(d *vxpsim.Doc) bool { return d.From == gwOrgan && d.MessageType == vxp.MessageEdoc })
	}
	arrived := func() (n int) {
		for _, r := range recv {
			n += len(r.counts())
		}
		for _, l := range legacyCount {
			n += len(l.counts())
		}
		return n + len(sentToAxis())
	}
	const total = hooks + legacy*docs + docs
	start := time.Now()
	a.serve()
	b.serve()
	// The kill comes when a quarter have arrived and every kind is moving.
	perKind := func() (hooksIn, pushesIn, axisIn int) {
		for _, r := range recv {
			hooksIn += len(r.counts())
		}
		for _, l := range legacyCount {
			pushesIn += len(l.counts())
		}
		return hooksIn, pushesIn, len(sentToAxis())
	}
	// The legacy systems stay down (503: retried) until the VXP pushes are
	// arriving, so that the kill finds all three kinds in flight.
	eventuallyWithin(t, 120*time.Second, "the VXP pushes arriving", func() (bool, error) {
		h, p, x := perKind()
		return x >= 5, fmt.Errorf("arrived: %d webhooks, %d SOAP pushes, %d VXP pushes", h, p, x)
	})
	for _, l := range legacyCount {
		l.down.Store(false)
	}
	eventuallyWithin(t, 120*time.Second, "a quarter of the deliveries arrive, SOAP pushes among them", func() (bool, error) {
		h, p, x := perKind()
		return h+p+x >= total/4 && p >= 100, fmt.Errorf("arrived: %d webhooks, %d SOAP pushes, %d VXP pushes", h, p, x)
	})
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	a.waitKilled()
	killedAt := time.Now()
	heldByA := queryInt(t, db, "SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND claimed_by = 'node-a' AND claimed_until > ?", killedAt.UTC().UnixMicro())
	if heldByA == 0 {
		t.Fatal("node A held no leased item when it died: the kill missed the middle of a batch")
	}
	heldKinds := map[string]int64{}
	for _, k := range []string{notify.KindWebhook, soapout.KindSOAPPush, vxp.KindPush} {
		heldKinds[k] = queryInt(t, db, "SELECT COUNT(*) FROM outbox WHERE kind = ? AND status = 'pending' AND claimed_by = 'node-a' AND claimed_until > ?", k, killedAt.UTC().UnixMicro())
	}
	atKill := arrived()
	h, p, x := perKind()
	t.Logf("kill -9 of node A after %v: %d webhooks, %d SOAP pushes, %d VXP pushes had arrived", time.Since(start).Round(time.Millisecond), h, p, x)
	logsA := a.logs.String() // the restart starts a new log
	a.serve()
	t.Cleanup(func() {
		if t.Failed() {
			rows, err := db.Query("SELECT kind, status, COUNT(*), MAX(last_error) FROM outbox GROUP BY kind, status")
			if err != nil {
				return
			}
			defer rows.Close()
			for rows.Next() {
				var kind, status, last string
				var n int
				_ = rows.Scan(&kind, &status, &n, &last)
				t.Logf("outbox: %s %s %d (last error %q)", kind, status, n, last)
			}
		}
	})
	waitFor(t, 90*time.Second, "every delivery done", func() bool {
		return queryInt(t, db, "SELECT COUNT(*) FROM outbox WHERE kind = ?", vxp.KindPush) >= docs &&
			queryInt(t, db, "SELECT COUNT(*) FROM outbox WHERE status <> 'done'") == 0
	})
	elapsed := time.Since(start)
	vxpItems := queryInt(t, db, "SELECT COUNT(*) FROM outbox WHERE kind = ?", vxp.KindPush)
	pushItems := queryInt(t, db, "SELECT COUNT(*) FROM outbox WHERE kind = ?", soapout.KindSOAPPush)

	// Expected keys -> destination: lgsp-<item id> for the webhooks,
	// lgsp-<exchange>-<system> for the pushes (one per recipient).
	wantHook, wantPush := map[string]int{}, map[string]int{}
	index := map[string]int{}
	for i, s := range hookSystems {
		index[s] = i
	}
	for i, s := range legacySystems {
		index[s] = i
		for _, id := range exIDs {
			wantPush[soapout.PushKey(id, s)] = i
		}
	}
	rows, err := db.Query("SELECT id, target FROM outbox WHERE kind = ?", notify.KindWebhook)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var target string
		if err := rows.Scan(&id, &target); err != nil {
			t.Fatal(err)
		}
		if i, ok := index[target]; ok && slices.Contains(hookSystems, target) {
			wantHook[delivery.Key(store.OutboxItem{ID: id})] = i
		}
	}
	rows.Close()
	if len(wantHook) != hooks {
		t.Fatalf("%d webhook items to the receivers, want %d", len(wantHook), hooks)
	}
	again := map[string]int{}
	check := func(kind string, want map[string]int, dest int, counts map[string]int) int {
		distinct := 0
		for key, c := range counts {
			if w, ok := want[key]; !ok || w != dest {
				t.Fatalf("%s destination %d got key %q, which is not one of its items", kind, dest, key)
			}
			distinct++
			again[kind] += c - 1
		}
		return distinct
	}
	hookDistinct, pushDistinct := 0, 0
	for i, r := range recv {
		hookDistinct += check(notify.KindWebhook, wantHook, i, r.counts())
	}
	for i, l := range legacyCount {
		pushDistinct += check(soapout.KindSOAPPush, wantPush, i, l.counts())
	}
	if hookDistinct != hooks || pushDistinct != legacy*docs {
		t.Fatalf("%d webhook and %d SOAP push keys arrived, want %d and %d", hookDistinct, pushDistinct, hooks, legacy*docs)
	}
	// VXP: every packet reached the axis, to VPCP; a repeat is the same
	// bytes (the same edXML DocumentId).
	seen := map[int]int{}
	for _, d := range sentToAxis() {
		i, ok := packets[string(d.Body)]
		if !ok || len(d.To) != 1 || d.To[0] != vpcpOrgan {
			t.Fatalf("the axis got a packet that is none of the documents (to %v)", d.To)
		}
		seen[i]++
	}
	if len(seen) != docs {
		t.Fatalf("%d documents reached the axis, want %d", len(seen), docs)
	}
	for _, c := range seen {
		again[vxp.KindPush] += c - 1
	}
	for i, id := range exIDs {
		row, err := st.GetGatewayDoc(ctx, vxp.GatewayName, store.GatewayOut, id)
		if err != nil || row.Status != vxp.OutSent {
			t.Fatalf("document %d (%s): gateway row %+v, %v", i, id, row, err)
		}
	}
	repeats := again[notify.KindWebhook] + again[soapout.KindSOAPPush] + again[vxp.KindPush]
	fenced := strings.Count(logsA+a.logs.String()+b.logs.String(), "delivery outcome not recorded")
	if extra := (vxpItems - docs) + (pushItems - legacy*docs); int64(repeats) > heldByA+int64(fenced)+extra {
		t.Fatalf("%d repeated arrivals (%v), more than the %d items node A held when it died plus %d fenced outcomes plus %d items queued twice", repeats, again, heldByA, fenced, extra)
	}
	t.Logf("%d deliveries (%d webhooks to %d receivers, %d SOAP pushes to %d legacy systems, %d VXP pushes), two nodes, kill -9 of node A at %d arrivals holding %d leased items %v: all delivered, repeats with the same key %v (%d outcomes fenced by a passed lease), 0 lost, 0 under a new key; %d soap_push and %d vxp_push items for %d documents; %v in all, %v after the kill",
		total, hooks, hookDests, legacy*docs, legacy, docs, atKill, heldByA, heldKinds, again, fenced, pushItems, vxpItems, docs, elapsed.Round(time.Millisecond), time.Since(killedAt).Round(time.Millisecond))
}
