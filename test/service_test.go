package test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/tuyenquang/lgsp/bus/exchange"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
)

// slowUpload starts an upload whose body is fed by the returned writer, and
// returns a channel with the upload's outcome.
func slowUpload(t *testing.T, n *node, sys string, id string, total []byte) (*io.PipeWriter, chan error) {
	t.Helper()
	c := n.clients[sys]
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	sum := sha256.Sum256(total)
	go func() {
		_, err := c.Upload(context.Background(), id, 0, pr, int64(len(total)), hex.EncodeToString(sum[:]))
		done <- err
	}()
	return pw, done
}

// TestBusyRefusal: past max_inflight + max_queued, requests get 503 with
// Retry-After and code system.busy instead of piling up; profiles, metrics
// and probes are still answered.
func TestBusyRefusal(t *testing.T) {
	n := startNodeWith(t, "sqlite", func(c *service.Config) { c.Limits.MaxInFlight = 1; c.Limits.MaxQueued = 0 })
	ctx := context.Background()
	a := n.system(t, "000.00.00.H60", "UBND tỉnh")
	n.system(t, "000.00.01.H60", "Văn phòng")
	n.grant(t, "exchange", "000.00.00.H60", "000.00.*.H60", "edoc")
	sp, err := a.Request(ctx, exchange.Request{Recipients: []string{"000.00.01.H60"}, Title: "Công văn", DataType: "edoc"})
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte("<doc>nội dung</doc>")
	pw, done := slowUpload(t, n, "000.00.00.H60", sp.ExchangeID, payload)
	// The upload holds the only slot once its first byte is in.
	if _, err := pw.Write(payload[:5]); err != nil {
		t.Fatal(err)
	}
	// Only then ask for more: a request sent earlier could take the slot
	// first and get the upload refused instead.
	eventually(t, "the upload holds the only slot", func() (bool, error) { return n.inflight() == 1, nil })
	resp := rawSigned(t, a, http.MethodGet, "/v1/inbox", "")
	wantProblem(t, resp, http.StatusServiceUnavailable, "system.busy")
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	// Operators still see the node (issue #13): the probes bypass admission,
	// profiles and metrics with the admin token have their own lane; an admin
	// call outside that lane is refused like the rest, and a profile asked
	// with a wrong token still meets the token check.
	for _, path := range []string{"/admin/v1/debug/pprof/goroutine?debug=1", "/admin/v1/debug/pprof/profile?seconds=1", "/metrics"} {
		if code, body := n.adminGet(t, path); code != http.StatusOK || len(body) == 0 {
			t.Fatalf("%s with the main pool full: %d %.200s", path, code, body)
		}
	}
	if resp, err := http.Get(n.url + "/readyz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz with the main pool full: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if code, body := n.adminGet(t, "/admin/v1/systems"); code != http.StatusServiceUnavailable {
		t.Fatalf("admin call outside the ops lane with the main pool full: %d %.200s", code, body)
	}
	req, _ := http.NewRequest(http.MethodGet, n.url+"/admin/v1/debug/pprof/goroutine", nil)
	req.Header.Set("Authorization", "Bearer not-the-token")
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("profile with a wrong token and the main pool full: %d, want 401", resp.StatusCode)
		}
	}
	if _, err := pw.Write(payload[5:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatalf("the in-flight upload failed: %v", err)
	}
	if resp := rawSigned(t, a, http.MethodGet, "/v1/inbox", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("after the slot freed: %d", resp.StatusCode)
	}
}

// TestGracefulShutdownDrains: an upload in flight when shutdown starts is
// finished and committed; nothing accepted is lost.
func TestGracefulShutdownDrains(t *testing.T) {
	n := startNodeWith(t, "sqlite", nil)
	ctx := context.Background()
	a := n.system(t, "000.00.00.H60", "UBND tỉnh")
	n.system(t, "000.00.01.H60", "Văn phòng")
	n.grant(t, "exchange", "000.00.00.H60", "000.00.*.H60", "edoc")
	sp, err := a.Request(ctx, exchange.Request{Recipients: []string{"000.00.01.H60"}, Title: "Công văn", DataType: "edoc"})
	if err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 600_000)
	for i := range payload {
		payload[i] = byte(i)
	}
	pw, done := slowUpload(t, n, "000.00.00.H60", sp.ExchangeID, payload)
	if _, err := pw.Write(payload[:1000]); err != nil {
		t.Fatal(err)
	}
	// Wait until the server is inside the upload, then shut down.
	eventually(t, "upload in flight", func() (bool, error) { return n.inflight() > 0, nil })
	stopped := make(chan error, 1)
	go func() { stopped <- n.shutdown() }()
	eventually(t, "node draining", func() (bool, error) {
		resp, err := http.Get(n.url + "/readyz")
		if err != nil {
			return true, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable, nil
	})
	if _, err := pw.Write(payload[1000:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatalf("upload in flight during shutdown failed: %v", err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	// Reopen the store as a restarted node would: the part is committed.
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(n.dataDir, "lgsp.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ex, err := st.GetExchange(ctx, sp.ExchangeID)
	if err != nil || ex.Received != int64(len(payload)) {
		t.Fatalf("after restart: received %d of %d (%v)", ex.Received, len(payload), err)
	}
}

// TestRoutesReloadKeepsGoodSet: a bad route file never replaces the running
// set; a good one does (admin call; SIGHUP is covered by the CLI test).
func TestRoutesReloadKeepsGoodSet(t *testing.T) {
	n := startNodeWith(t, "sqlite", nil)
	tok := n.svc.AdminToken()
	reload := func() *http.Response {
		req, _ := http.NewRequest(http.MethodPost, n.url+"/admin/v1/routes/reload", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	before := len(n.svc.Routes().Routes())
	bad := filepath.Join(n.routesDir, "zz-bad.yaml")
	if err := os.WriteFile(bad, []byte("routes:\n  - name: x\n    endpont: typo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wantProblem(t, reload(), http.StatusUnprocessableEntity, "route.invalid")
	if got := len(n.svc.Routes().Routes()); got != before {
		t.Fatalf("bad reload changed the running set: %d → %d routes", before, got)
	}
	extra := "routes:\n  - name: them\n    match: {sources: [\"*\"], data_types: [\"extra\"]}\n    delivery: {mode: immediate}\n"
	if err := os.WriteFile(bad, []byte(extra), 0o644); err != nil {
		t.Fatal(err)
	}
	if resp := reload(); resp.StatusCode != http.StatusOK {
		t.Fatalf("good reload: %d", resp.StatusCode)
	}
	if got := len(n.svc.Routes().Routes()); got != before+1 {
		t.Fatalf("after good reload: %d routes, want %d", got, before+1)
	}
	// Admin calls without the token are refused.
	resp, err := http.Post(n.url+"/admin/v1/routes/reload", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("X-LGSP-Error-Code") != "admin.unauthorized" {
		t.Fatalf("unauthenticated admin call: %d %s", resp.StatusCode, resp.Header.Get("X-LGSP-Error-Code"))
	}
}
