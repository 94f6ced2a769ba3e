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
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
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

// TestLockoutThroughTrustedProxy: behind a reverse proxy (a real
// httputil.ReverseProxy on 127.0.0.4, named in proxy.trusted, which appends
// each client's address to X-Forwarded-For), an attacker guessing the
// victim's secret locks only its own forwarded address — even when it
// forges X-Forwarded-For with the real client's address — and the real
// client behind the same proxy keeps working. From a peer that is not a
// trusted proxy, X-Forwarded-For is ignored: it neither escapes a lock
// nor locks the address it names.
func TestLockoutThroughTrustedProxy(t *testing.T) {
	const lockAfter = 3
	const proxyIP, attackerIP, realIP, directIP = "127.0.0.4", "127.0.0.10", "127.0.0.20", "127.0.0.5"
	n := startNodeWith(t, "sqlite", func(c *service.Config) {
		c.Auth.LockFailures, c.Auth.AlertFailures = lockAfter, 100
		c.Proxy.Trusted = []string{proxyIP}
	})
	target, err := url.Parse(n.url)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = clientFrom(proxyIP).Transport
	proxy := httptest.NewServer(rp)
	defer proxy.Close()

	victim := n.system(t, "000.00.52.H60", "Sở Tư pháp")
	inbox := func(c *http.Client, base, secret, xff string) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+"/v1/inbox", nil)
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
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
	attacker, real, direct := clientFrom(attackerIP), clientFrom(realIP), clientFrom(directIP)

	// Through the proxy: the attacker forges the real client's address in
	// front; the proxy appends the attacker's own, which is what counts.
	for j := range lockAfter + 2 {
		want := "auth.bad_signature"
		if j >= lockAfter {
			want = "auth.locked"
		}
		if got := inbox(attacker, proxy.URL, "guessed-secret", realIP); got != want {
			t.Fatalf("attacker attempt %d: %q, want %q", j+1, got, want)
		}
		if got := inbox(real, proxy.URL, victim.SecretKey, ""); got != "" {
			t.Fatalf("the real client behind the same proxy after attempt %d: %s", j+1, got)
		}
	}
	if got := inbox(attacker, proxy.URL, victim.SecretKey, ""); got != "auth.locked" {
		t.Fatalf("attacker with the secret through the proxy: %q, want auth.locked", got)
	}

	// Directly from an untrusted peer, naming the locked address does not
	// make the request the attacker's (it is not locked) ...
	if got := inbox(direct, n.url, victim.SecretKey, attackerIP); got != "" {
		t.Fatalf("untrusted peer naming the locked address: %q, want served", got)
	}
	// ... and bad signatures naming the real client's address lock the
	// peer itself, never the real client.
	for j := range lockAfter + 1 {
		want := "auth.bad_signature"
		if j >= lockAfter {
			want = "auth.locked"
		}
		if got := inbox(direct, n.url, "guessed-secret", realIP); got != want {
			t.Fatalf("untrusted peer attempt %d: %q, want %q", j+1, got, want)
		}
	}
	if got := inbox(real, proxy.URL, victim.SecretKey, ""); got != "" {
		t.Fatalf("the real client after the untrusted peer's attempts: %s", got)
	}

	hist, err := n.svc.Registry().History(context.Background(), "000.00.52.H60", 0)
	if err != nil {
		t.Fatal(err)
	}
	var locks []string
	for _, e := range hist {
		if e.Action == "locked" {
			locks = append(locks, e.Detail)
		}
	}
	if len(locks) != 2 || !strings.Contains(locks[0], attackerIP) || !strings.Contains(locks[1], directIP) ||
		strings.Contains(strings.Join(locks, " "), proxyIP) || strings.Contains(strings.Join(locks, " "), realIP) {
		t.Fatalf("lock events: %q; want %s then %s, never the proxy or the real client", locks, attackerIP, directIP)
	}
}
