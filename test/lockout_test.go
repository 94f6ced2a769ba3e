package test

// Issue #8: nobody without the secret can lock a key out. An attacker
// knows the victim's access key (it travels in every request) and sends
// bad signatures from its own addresses: it locks itself only, the real
// client keeps working throughout, and a burst across addresses raises an
// error-level alert.

import (
	"context"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/service"
)

// clientFrom is an HTTP client whose connections leave from ip (a loopback
// address: all of 127.0.0.0/8 is usable as a source on Linux).
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 10 * time.Second}
}

func TestAttackerCannotLockOutTheRealClient(t *testing.T) {
	const lockAfter, alertAfter = 3, 6
	n := startNodeWith(t, "sqlite", func(c *service.Config) {
		c.Auth.LockFailures, c.Auth.AlertFailures = lockAfter, alertAfter
	})
	ctx := context.Background()
	victim := n.system(t, "000.00.51.H60", "Sở Tài chính")
	inbox := func(c *http.Client, secret string) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, n.url+"/v1/inbox", nil)
		if err := auth.Sign(req, victim.AccessKey, secret, auth.EmptySHA256, time.Now(), ""); err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return ""
		}
		return resp.Header.Get("X-LGSP-Error-Code")
	}
	real := clientFrom("127.0.0.1")
	attackers := []*http.Client{clientFrom("127.0.0.2"), clientFrom("127.0.0.3")}

	for i, a := range attackers {
		for j := range lockAfter + 3 {
			want := "auth.bad_signature"
			if j >= lockAfter {
				want = "auth.locked"
			}
			if got := inbox(a, "guessed-secret"); got != want {
				t.Fatalf("attacker %d, attempt %d: %q, want %q", i, j+1, got, want)
			}
			if got := inbox(real, victim.SecretKey); got != "" {
				t.Fatalf("the real client after attacker %d's attempt %d: %s", i, j+1, got)
			}
		}
		// Locked for the attacker's address even with the right secret.
		if got := inbox(a, victim.SecretKey); got != "auth.locked" {
			t.Fatalf("attacker %d with the secret: %q, want auth.locked", i, got)
		}
	}
	if _, err := victim.Inbox(ctx); err != nil {
		t.Fatalf("the real client's own client: %v", err)
	}

	// Both locks are recorded, each with its address, and the burst across
	// addresses was alerted at error level.
	hist, err := n.svc.Registry().History(ctx, "000.00.51.H60", 0)
	if err != nil {
		t.Fatal(err)
	}
	var locks []string
	for _, e := range hist {
		if e.Action == "locked" {
			locks = append(locks, e.Detail)
		}
	}
	if len(locks) != 2 || !strings.Contains(locks[0], "127.0.0.2") || !strings.Contains(locks[1], "127.0.0.3") {
		t.Fatalf("lock events: %q", locks)
	}
	eventually(t, "burst alert in the log", func() (bool, error) {
		b, err := os.ReadFile(n.logFile)
		if err != nil {
			return false, err
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			if strings.Contains(line, `"alert":"auth.failure_burst"`) && strings.Contains(line, `"level":"error"`) && strings.Contains(line, victim.AccessKey) {
				return true, nil
			}
		}
		return false, nil
	})
}
