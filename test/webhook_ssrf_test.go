package test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/notify"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/bus/vault"
)

// countingListener accepts loopback connections and counts them: the proof
// that a refused webhook never reached the network.
func countingListener(t *testing.T) (port string, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted = new(atomic.Int64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	_, port, _ = net.SplitHostPort(ln.Addr().String())
	return port, accepted
}

// TestWebhookTargetsRefusedAtRegistration: a webhook URL whose host is a
// non-public address literal, in any of its spellings, is refused at
// registration (registry and admin API) with outbound.refused, and nothing
// is stored; with the operator's allow-list it is accepted.
func TestWebhookTargetsRefusedAtRegistration(t *testing.T) {
	n := startNode(t, "sqlite")
	ctx := context.Background()
	for i, host := range []string{"127.0.0.1", "[::1]", "0x7f000001", "0177.0.0.1", "2130706433", "[::ffff:127.0.0.1]",
		"169.254.169.254", "10.0.0.1", "172.16.5.4", "192.168.1.1", "[fc00::1]", "[fe80::1]", "0.0.0.0", "100.64.0.1", "224.0.0.1"} {
		code := fmt.Sprintf("000.00.%02d.H61", i)
		_, _, err := n.svc.Registry().AddSystem(ctx, store.System{Code: code, Name: "x", WebhookURL: "http://" + host + ":8080/hook"})
		if !errors.Is(err, bus.ErrOutboundRefused) {
			t.Fatalf("webhook on %s: %v, want outbound.refused", host, err)
		}
		if _, err := n.svc.Store().GetSystem(ctx, code); !errors.Is(err, bus.ErrSystemNotFound) {
			t.Fatalf("refused system %s was stored: %v", code, err)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, n.url+"/admin/v1/systems", strings.NewReader(`{"code":"000.00.50.H61","name":"x","webhook_url":"http://169.254.169.254/latest/meta-data/"}`))
	req.Header.Set("Authorization", "Bearer "+n.svc.AdminToken())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	wantProblem(t, resp, http.StatusUnprocessableEntity, "outbound.refused")

	allowed := &auth.Registry{Store: n.svc.Store(), Outbound: mustPolicy(t, false, "10.20.0.0/16")}
	if _, _, err := allowed.AddSystem(ctx, store.System{Code: "000.00.51.H61", Name: "x", WebhookURL: "https://10.20.1.2/hook"}); err != nil {
		t.Fatalf("allow-listed webhook refused: %v", err)
	}
}

func mustPolicy(t *testing.T, private bool, cidrs ...string) *bus.OutboundPolicy {
	t.Helper()
	p, err := bus.NewOutboundPolicy(private, cidrs)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestWebhookRefusedBeforeConnect: deliveries to every non-public form —
// literal or a name resolving to loopback ("localhost") — are refused
// before any connection: the dialer lets no address through, the loopback
// listener the URLs name accepts nothing, and each item is dead after one
// attempt with outbound.refused (a policy refusal is permanent). The same
// listener, allow-listed, gets the connection: the counters do count.
func TestWebhookRefusedBeforeConnect(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "lgsp.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	v, err := vault.New(randomKey(t))
	if err != nil {
		t.Fatal(err)
	}
	port, accepted := countingListener(t)
	reg := &auth.Registry{Store: st, Vault: v, Audit: st}
	urls := []string{
		"http://127.0.0.1:" + port + "/h", "http://[::1]:" + port + "/h", "http://0x7f000001:" + port + "/h",
		"http://0177.0.0.1:" + port + "/h", "http://2130706433:" + port + "/h", "http://[::ffff:127.0.0.1]:" + port + "/h",
		"http://localhost:" + port + "/h", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1:" + port + "/h",
		"http://172.16.0.1/h", "http://192.168.0.1/h", "http://[fc00::1]/h", "http://[fe80::1]/h", "http://0.0.0.0:" + port + "/h",
		"http://100.64.0.1/h",
	}
	for i, u := range urls {
		code := fmt.Sprintf("000.00.%02d.H62", i)
		// Stored directly: registration would refuse the literals already.
		if err := st.CreateSystem(ctx, store.System{Code: code, Name: "x", Status: store.SystemActive, WebhookURL: u, CreatedAt: time.Now(), UpdatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := reg.IssueKey(ctx, code, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if err := st.EnqueueOutbox(ctx, store.OutboxItem{Kind: "webhook", Target: code, Payload: []byte(`{"kind":"notified"}`), DueAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	var dialed atomic.Int64
	pol := mustPolicy(t, false)
	pol.Dialed = func(netip.AddrPort) { dialed.Add(1) }
	log := logrus.New()
	log.SetOutput(new(strings.Builder))
	wh := &notify.Webhooks{Store: st, Vault: v, Retry: bus.DefaultRetry, Log: log, Node: "t", Policy: pol}
	done := make(chan struct{})
	go func() { wh.Run(ctx); close(done) }()
	var dead []store.OutboxItem
	eventually(t, "every refused webhook dead", func() (bool, error) {
		var err error
		dead, err = st.ListDeliveries(ctx, store.OutboxFilter{Status: store.OutboxDead, Limit: 100})
		return len(dead) == len(urls), err
	})
	cancel()
	<-done
	for _, it := range dead {
		if it.Attempts != 1 || !strings.Contains(it.LastError, "outbound.refused") {
			t.Errorf("%s: %d attempts, last error %q; want dead after 1 with outbound.refused", it.Target, it.Attempts, it.LastError)
		}
	}
	if n := dialed.Load(); n != 0 {
		t.Fatalf("the dialer let %d connection(s) through", n)
	}
	if n := accepted.Load(); n != 0 {
		t.Fatalf("the loopback listener accepted %d connection(s)", n)
	}

	// Control: allow-listed, the same listener is reached (it closes the
	// connection, so the delivery fails, but the connection happened).
	allow := mustPolicy(t, false, "127.0.0.0/8")
	allow.Dialed = func(netip.AddrPort) { dialed.Add(1) }
	if err := allow.CheckURL("http://127.0.0.1:" + port + "/h"); err != nil {
		t.Fatal(err)
	}
	resp, err := allow.Client(5 * time.Second).Get("http://localhost:" + port + "/h")
	if err == nil {
		resp.Body.Close()
	}
	if dialed.Load() == 0 || accepted.Load() == 0 {
		t.Fatalf("allow-listed: dialed %d, accepted %d; the counters do not see connections", dialed.Load(), accepted.Load())
	}
}

// TestWebhookPrivateRefusedByDefault: on a node with the default policy, a
// system whose webhook name resolves to loopback gets no POST; the
// delivery is recorded at once as webhook_failed with outbound.refused in
// the ledger (not retried), and the exchange goes on (polling still works).
func TestWebhookPrivateRefusedByDefault(t *testing.T) {
	n := startNode(t, "sqlite")
	ctx := context.Background()
	port, accepted := countingListener(t)
	n.system(t, "000.00.00.H60", "UBND tỉnh")
	if err := n.svc.Store().CreateSystem(ctx, store.System{Code: "000.00.07.H60", Name: "Sở Y tế", Status: store.SystemActive, WebhookURL: "http://localhost:" + port + "/lgsp/events", CreatedAt: time.Now(), UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := n.svc.Registry().IssueKey(ctx, "000.00.07.H60", time.Time{}); err != nil {
		t.Fatal(err)
	}
	id := sendSmall(t, n, "000.00.00.H60", "000.00.07.H60")
	var failed store.Event
	eventually(t, "webhook_failed in the ledger", func() (bool, error) {
		evs, err := n.svc.Store().Events(ctx, id)
		for _, e := range evs {
			if e.Kind == "webhook_failed" {
				failed = e
				return true, nil
			}
		}
		return false, err
	})
	if !strings.Contains(failed.Detail, "outbound.refused") || !strings.Contains(failed.Detail, "127.0.0.0/8") {
		t.Fatalf("webhook_failed detail %q does not give the reason", failed.Detail)
	}
	dead, err := n.svc.Store().ListDeliveries(ctx, store.OutboxFilter{Status: store.OutboxDead, Limit: 10})
	if err != nil || len(dead) != 1 || dead[0].Attempts != 1 {
		t.Fatalf("dead items: %+v %v; want one, after one attempt", dead, err)
	}
	if accepted.Load() != 0 {
		t.Fatalf("the receiver was connected to %d time(s)", accepted.Load())
	}
}

// TestWebhookRedirectNotFollowed: a webhook answering with a redirect to
// another origin is not followed — the other origin never sees the signed
// request — and the delivery counts as failed (retried later).
func TestWebhookRedirectNotFollowed(t *testing.T) {
	n := startNodeWith(t, "sqlite", func(c *service.Config) { c.Webhooks.AllowCIDRs = []string{"127.0.0.0/8"} })
	ctx := context.Background()
	var other atomic.Int64
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		other.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer elsewhere.Close()
	var hits atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, elsewhere.URL+"/steal", http.StatusTemporaryRedirect)
	}))
	defer hook.Close()
	n.system(t, "000.00.00.H60", "UBND tỉnh")
	if _, _, err := n.svc.Registry().AddSystem(ctx, store.System{Code: "000.00.07.H60", Name: "Sở Y tế", WebhookURL: hook.URL + "/lgsp/events"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := n.svc.Registry().IssueKey(ctx, "000.00.07.H60", time.Time{}); err != nil {
		t.Fatal(err)
	}
	sendSmall(t, n, "000.00.00.H60", "000.00.07.H60")
	var pending []store.OutboxItem
	eventually(t, "the redirected delivery recorded as failed", func() (bool, error) {
		var err error
		pending, err = n.svc.Store().ListDeliveries(ctx, store.OutboxFilter{Status: store.OutboxPending, Limit: 10})
		return len(pending) == 1 && pending[0].Attempts >= 1, err
	})
	if !strings.Contains(pending[0].LastError, "307") {
		t.Fatalf("last error %q, want the 307 answer", pending[0].LastError)
	}
	if hits.Load() == 0 || other.Load() != 0 {
		t.Fatalf("webhook hit %d time(s), other origin %d time(s); want the other origin never reached", hits.Load(), other.Load())
	}
}
