package test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/adapters/rest"
)

// TestActivityKill9KeepsAcknowledged: a real lgsp binary on MariaDB serves
// admin actions (suspend/resume of a system, one worker per system) and
// service calls through the bus (one worker per calling system) from 8
// workers at once, and is killed with SIGKILL in the middle of the load.
// Every action and call that was answered before the kill is in the
// activity log (per system: entries ≥ answers, and at most the one request
// each worker had in flight more), and the chain verifies after a restart
// (`lgsp audit verify`).
func TestActivityKill9KeepsAcknowledged(t *testing.T) {
	const workers = 4
	dsn, db := freshMySQL(t)
	bin := buildLGSP(t)
	masterKey := filepath.Join(t.TempDir(), "master.key")
	a := newBinNode(t, bin, "node-a", dsn, masterKey, "")

	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer dest.Close()
	const owner = "000.00.90.H60"
	services := fmt.Sprintf("services:\n  - name: tra-cuu\n    owner: %q\n    endpoint: %q\n    scopes: [read]\n    timeout: 5s\n", owner, dest.URL)
	if err := os.WriteFile(filepath.Join(a.work, "routes", "dich-vu.yaml"), []byte(services), 0o644); err != nil {
		t.Fatal(err)
	}
	a.run("systems", "add", "--code", owner, "--name", "Văn phòng UBND tỉnh", "--unit", "UBND tỉnh")
	a.run("keys", "issue", "--system", owner, "--out", filepath.Join(a.work, "owner.json"))
	var targets, callers []string
	for i := range workers {
		tgt, clr := fmt.Sprintf("000.00.%02d.H60", 60+i), fmt.Sprintf("000.00.%02d.H60", 70+i)
		targets, callers = append(targets, tgt), append(callers, clr)
		a.run("systems", "add", "--code", tgt, "--name", "Hệ thống quản trị "+tgt, "--unit", "UBND tỉnh")
		a.run("systems", "add", "--code", clr, "--name", "Hệ thống gọi "+clr, "--unit", "UBND tỉnh")
		a.run("keys", "issue", "--system", clr, "--out", filepath.Join(a.work, clr+".json"))
		a.run("grants", "add", "--kind", "service", "--source", clr, "--service", "tra-cuu", "--scope", "read")
	}
	a.serve()
	tok, err := os.ReadFile(filepath.Join(a.work, "data", "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tok))
	ctx := context.Background()
	sessions := make([]*rest.ServiceSession, workers)
	clients := make([]*rest.Client, workers)
	for i, clr := range callers {
		cred, err := rest.LoadCredentials(filepath.Join(a.work, clr+".json"))
		if err != nil {
			t.Fatal(err)
		}
		clients[i] = &rest.Client{BaseURL: a.url, AccessKey: cred.AccessKey, SecretKey: cred.SecretKey}
		if sessions[i], err = clients[i].OpenSession(ctx, rest.OpenSessionRequest{Service: "tra-cuu", Scope: "read"}); err != nil {
			t.Fatal(err)
		}
	}

	// The load: each worker sends one request after the other until one
	// fails (the node died) and counts the answers it got.
	acked := map[string]*atomic.Int64{}
	for _, c := range append(append([]string{}, targets...), callers...) {
		acked[c] = &atomic.Int64{}
	}
	total := func() (n int64) {
		for _, v := range acked {
			n += v.Load()
		}
		return n
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(2)
		go func(code string) { // admin actions
			defer wg.Done()
			for k := 0; ; k++ {
				op := "suspend"
				if k%2 == 1 {
					op = "resume"
				}
				req, _ := http.NewRequest(http.MethodPost, a.url+"/admin/v1/systems/"+code+"/"+op, nil)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := hc.Do(req)
				if err != nil {
					return
				}
				resp.Body.Close()
				if resp.StatusCode/100 != 2 {
					t.Errorf("%s %s answered %d", op, code, resp.StatusCode)
					return
				}
				acked[code].Add(1)
			}
		}(targets[i])
		go func(i int) { // service calls
			defer wg.Done()
			for {
				resp, err := clients[i].CallService(ctx, sessions[i], http.MethodGet, "ho-so/1", nil, nil)
				if err != nil {
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("service call of %s answered %d", callers[i], resp.StatusCode)
					return
				}
				acked[callers[i]].Add(1)
			}
		}(i)
	}
	waitFor(t, 60*time.Second, "400 answered requests", func() bool { return total() >= 400 })
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	a.waitKilled()
	wg.Wait()

	// Count what the log holds per system, straight from the database.
	logged := func(kind, code string) int64 {
		return queryInt(t, db, "SELECT COUNT(*) FROM activity_log WHERE node = 'node-a' AND kind = ? AND system_code = ? AND outcome = 'ok'", kind, code)
	}
	var answered, entries int64
	for _, c := range targets {
		got, want := logged("admin.POST", c), acked[c].Load()
		if got < want || got > want+1 {
			t.Errorf("system %s: %d admin actions answered, %d in the activity log", c, want, got)
		}
		answered, entries = answered+want, entries+got
	}
	for _, c := range callers {
		got, want := logged("svc.call", c), acked[c].Load()
		if got < want || got > want+1 {
			t.Errorf("system %s: %d service calls answered, %d in the activity log", c, want, got)
		}
		answered, entries = answered+want, entries+got
	}
	t.Logf("kill -9 after %d answered requests (admin actions and service calls): %d entries in the log", answered, entries)

	// Restarted, the node continues its chain, and the whole log verifies.
	a.serve()
	cmd := exec.Command(bin, "audit", "verify")
	cmd.Dir, cmd.Env = a.work, append(os.Environ(), "LGSP_CONFIG="+filepath.Join(a.work, "lgsp.yaml"), "LGSP_LOG_LEVEL=warn")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "every chain holds") {
		t.Fatalf("lgsp audit verify: %v\n%s", err, out)
	}
}
