package test

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus/auth"
)

// TestReplayRefusedAcrossRestarts: a node whose replay cache lives in
// memory (one node on SQLite) must still refuse a captured signed request
// after it restarts. After a clean stop it saved its nonces and answers
// the replay auth.replay; after kill -9 the nonces are lost, so it refuses
// every request signed before its start (auth.clock_skew) and serves the
// fresh ones.
func TestReplayRefusedAcrossRestarts(t *testing.T) {
	const replayHost = "lgsp.test"
	n, a, _ := newCrashNode(t)
	n.start()

	sign := func(at time.Time, nonce string) http.Header {
		r, _ := http.NewRequest(http.MethodGet, n.url+"/v1/inbox", nil)
		r.Host = replayHost // the port changes with every start
		sum := sha256.Sum256(nil)
		if err := auth.Sign(r, a.AccessKey, a.SecretKey, hex.EncodeToString(sum[:]), at, nonce); err != nil {
			t.Fatal(err)
		}
		return r.Header
	}
	send := func(h http.Header) (int, string) {
		t.Helper()
		r, _ := http.NewRequest(http.MethodGet, n.url+"/v1/inbox", nil)
		r.Header, r.Host = h.Clone(), replayHost
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("X-LGSP-Error-Code") + " " + string(b)
	}
	want := func(what string, h http.Header, status int, code string) {
		t.Helper()
		got, body := send(h)
		if got != status || (code != "" && !strings.Contains(body, code)) {
			t.Fatalf("%s: %d %s, want %d %s", what, got, body, status, code)
		}
	}

	first := sign(time.Now(), "restart-replay-first-0001")
	want("first request", first, 200, "")
	want("replay, same run", first, 401, "auth.replay")

	// Clean stop: the cache is saved and given back to the next start.
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-n.done; err != nil {
		t.Fatalf("clean stop: %v\n%s", err, n.logs.String())
	}
	if _, err := os.Stat(filepath.Join(n.work, "data", "nonces.state")); err != nil {
		t.Fatalf("no saved replay cache after a clean stop: %v", err)
	}
	n.start()
	want("replay after a clean restart", first, 401, "auth.replay")
	if _, err := os.Stat(filepath.Join(n.work, "data", "nonces.state")); !os.IsNotExist(err) {
		t.Fatalf("the saved replay cache is still there after it was loaded (%v): a later unclean stop would bring it back", err)
	}

	// Unclean stop: signed two seconds ago (inside the skew), accepted,
	// then the node dies without saving its cache.
	second := sign(time.Now().Add(-2*time.Second), "restart-replay-second-0002")
	want("second request", second, 200, "")
	if err := n.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	n.waitKilled()
	n.start()
	want("replay after kill -9", second, 401, "auth.clock_skew")
	want("a fresh request after kill -9", sign(time.Now(), "restart-replay-third-0003"), 200, "")
	c := n.client(a)
	if _, err := c.Inbox(t.Context()); err != nil {
		t.Fatalf("client after kill -9: %v", err)
	}
}
