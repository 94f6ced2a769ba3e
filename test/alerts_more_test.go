package test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus/alert"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/service"
)

// ruleNode starts a node whose alerts go to a signed webhook sink, with
// only the given rules on; more adjusts the rest of the configuration.
func ruleNode(t *testing.T, rules alert.Rules, more func(*service.Config)) (*node, *alertSink) {
	t.Helper()
	sink := &alertSink{}
	srv := httptest.NewServer(sink)
	t.Cleanup(srv.Close)
	t.Setenv("LGSP_ALERTS_WEBHOOK_SECRET", alertSecret)
	n := startNodeWith(t, "sqlite", func(c *service.Config) {
		c.Webhooks.AllowCIDRs = []string{"127.0.0.0/8"}
		c.Alerts.Interval = 100 * time.Millisecond
		c.Alerts.Repeat = time.Hour
		c.Alerts.Rules = rules
		c.Alerts.Webhook.URL = srv.URL
		if more != nil {
			more(c)
		}
	})
	return n, sink
}

// TestAlertAuthKeyFailures: bad signatures with one access key from two
// client addresses (neither reaching the lock) reach auth.alert_failures
// within auth.lock_window and fire auth_key_failures for that key; once
// they age out of the window the alert resolves.
func TestAlertAuthKeyFailures(t *testing.T) {
	n, sink := ruleNode(t, alert.Rules{AuthKeyFailures: true}, func(c *service.Config) {
		c.Auth.LockFailures, c.Auth.AlertFailures, c.Auth.LockWindow = 100, 4, 2*time.Second
	})
	victim := n.system(t, "000.00.52.H60", "Sở Nội vụ")
	bad := func(c *http.Client) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, n.url+"/v1/inbox", nil)
		if err := auth.Sign(req, victim.AccessKey, "guessed-secret", auth.EmptySHA256, time.Now(), ""); err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if code := resp.Header.Get("X-LGSP-Error-Code"); code != "auth.bad_signature" {
			t.Fatalf("bad signature answered %d %q", resp.StatusCode, code)
		}
	}
	a, b := clientFrom("127.0.0.2"), clientFrom("127.0.0.3")
	for range 2 {
		bad(a)
		bad(b)
	}
	eventually(t, "auth_key_failures fired", func() (bool, error) {
		return sink.count(alert.RuleAuthKeyFailures, alert.Firing) == 1, nil
	})
	m := sink.message(alert.RuleAuthKeyFailures, alert.Firing)
	if !strings.HasSuffix(m.Subject, "/key:"+victim.AccessKey) || !strings.Contains(m.MessageVI, "chữ ký sai") || !strings.Contains(m.MessageEN, "4 bad signatures") {
		t.Fatalf("message: %+v", m)
	}
	eventually(t, "auth_key_failures resolved", func() (bool, error) {
		return sink.count(alert.RuleAuthKeyFailures, alert.Resolved) == 1, nil
	})
	if f := sink.count(alert.RuleAuthKeyFailures, alert.Firing); f != 1 || sink.bad != 0 {
		t.Fatalf("fired %d times, %d bad signatures", f, sink.bad)
	}
}
