package test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus/alert"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
)

// alertSink is a loopback webhook receiver that checks each signature.
type alertSink struct {
	mu   sync.Mutex
	msgs []alert.Message
	bad  int
}

func (a *alertSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.Header.Get("X-LGSP-Alert-Signature") != alert.Sign([]byte(alertSecret), r.Header.Get("X-LGSP-Alert-Timestamp"), b) {
		a.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var m alert.Message
	if err := json.Unmarshal(b, &m); err == nil {
		a.msgs = append(a.msgs, m)
	}
}

func (a *alertSink) count(rule, kind string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, m := range a.msgs {
		if m.Rule == rule && m.Kind == kind {
			n++
		}
	}
	return n
}

const alertSecret = "test-alert-secret-0123456789"

// TestAlertKeyExpiring: a key that expires within key_expiry_days fires one
// signed webhook message in both languages; revoking it sends "resolved".
func TestAlertKeyExpiring(t *testing.T) {
	sink := &alertSink{}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	t.Setenv("LGSP_ALERTS_WEBHOOK_SECRET", alertSecret)
	n := startNodeWith(t, "sqlite", func(c *service.Config) {
		c.Webhooks.AllowPrivate = true
		c.Alerts.Interval = 100 * time.Millisecond
		c.Alerts.Repeat = time.Hour
		c.Alerts.Webhook.URL = srv.URL
	})
	n.system(t, "000.00.01.H60", "Sở A")
	ctx := context.Background()
	ak, _, err := n.svc.Registry().IssueKey(ctx, "000.00.01.H60", time.Now().Add(72*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "key_expiring fired", func() (bool, error) { return sink.count(alert.RuleKeyExpiring, alert.Firing) == 1, nil })
	sink.mu.Lock()
	m := sink.msgs[0]
	sink.mu.Unlock()
	if m.Subject != ak || !strings.Contains(m.MessageVI, "hết hạn") || !strings.Contains(m.MessageEN, "expires") {
		t.Fatalf("message: %+v", m)
	}
	if err := n.svc.Registry().RevokeKey(ctx, ak); err != nil {
		t.Fatal(err)
	}
	eventually(t, "key_expiring resolved", func() (bool, error) { return sink.count(alert.RuleKeyExpiring, alert.Resolved) == 1, nil })
	if f := sink.count(alert.RuleKeyExpiring, alert.Firing); f != 1 || sink.bad != 0 {
		t.Fatalf("fired %d times, %d bad signatures", f, sink.bad)
	}
	if left, _ := n.svc.Store().ListAlerts(ctx); len(left) != 0 {
		t.Fatalf("alerts left in the store: %+v", left)
	}
	_ = store.KeyActive
}

// TestMetricsEndpoint: /metrics needs the admin token and serves the
// client_golang text format with the node's metrics.
func TestMetricsEndpoint(t *testing.T) {
	n := startNode(t, "sqlite")
	resp, err := http.Get(n.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without token: %d", resp.StatusCode)
	}
	_, _ = http.Get(n.url + "/healthz")
	req, _ := http.NewRequest("GET", n.url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+n.svc.AdminToken())
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"lgsp_http_requests_total{code=\"200\",route=\"GET /healthz\"}", "lgsp_outbox_pending", "lgsp_due_backlog", "lgsp_notify_subscribers", "lgsp_ready 1", "go_goroutines", "lgsp_http_requests_total{code=\"401\",route=\"GET /metrics\"}"} {
		if !strings.Contains(string(b), name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}
