package test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus/alert"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/service"
)

// TestAlertAuthFailuresPerAddress: requests with bad signatures from one
// client address reach alerts.rules.auth_failures within auth_window and
// fire auth_failures for that address (signed webhook, vi + en; the count
// shown is capped at the threshold); another
// address with fewer failures does not fire; once the failures age out of
// the window the alert sends "resolved".
func TestAlertAuthFailuresPerAddress(t *testing.T) {
	const window = 1500 * time.Millisecond
	n, sink := ruleNode(t, alert.Rules{AuthFailures: 5, AuthWindow: window}, func(c *service.Config) {
		// The key lock stays out of the way: the rule is about addresses.
		c.Auth.LockFailures, c.Auth.AlertFailures = 1000, 1000
	})
	victim := n.system(t, "000.00.53.H60", "Sở Xây dựng")
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
		if code := resp.Header.Get("X-LGSP-Error-Code"); !strings.HasPrefix(code, "auth.") {
			t.Fatalf("bad signature answered %d %q", resp.StatusCode, code)
		}
	}
	attacker, other := clientFrom("127.0.0.4"), clientFrom("127.0.0.5")
	bad(other)
	bad(other)
	start := time.Now()
	for range 6 {
		bad(attacker)
	}
	eventually(t, "auth_failures fired", func() (bool, error) {
		return sink.count(alert.RuleAuthFailures, alert.Firing) == 1, nil
	})
	if d := time.Since(start); d > 60*time.Second {
		t.Fatalf("the alert took %v", d)
	}
	m := sink.message(alert.RuleAuthFailures, alert.Firing)
	if m.Subject != "test-node/addr:127.0.0.4" || !strings.Contains(m.MessageVI, "xác thực sai") || !strings.Contains(m.MessageEN, "5 failed authentications by addr:127.0.0.4") {
		t.Fatalf("message: %+v", m)
	}
	if strings.Contains(m.MessageEN, "guessed-secret") || strings.Contains(m.MessageVI, "guessed-secret") {
		t.Fatal("the alert quotes what the caller sent")
	}
	eventually(t, "auth_failures resolved", func() (bool, error) {
		return sink.count(alert.RuleAuthFailures, alert.Resolved) == 1, nil
	})
	r := sink.message(alert.RuleAuthFailures, alert.Resolved)
	if r.Subject != m.Subject || !strings.Contains(r.MessageVI, "Đã hết") || !strings.Contains(r.MessageEN, "Resolved") {
		t.Fatalf("resolved: %+v", r)
	}
	if f := sink.count(alert.RuleAuthFailures, alert.Firing); f != 1 || sink.bad != 0 {
		t.Fatalf("fired %d times (the other address must not fire), %d bad signatures", f, sink.bad)
	}
}
