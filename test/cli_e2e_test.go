package test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildLGSP returns cmd/lgsp, built once per test binary.
func buildLGSP(t *testing.T) string {
	t.Helper()
	return builtLGSP(t, "")
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCLIWalkthrough runs the README's five-minute walk-through with the
// real binary: serve, register, issue keys, send, inbox, receive, status;
// then SIGHUP with a broken route file (refused, old routes keep working)
// and SIGTERM (clean exit).
func TestCLIWalkthrough(t *testing.T) {
	bin := buildLGSP(t)
	work := t.TempDir()
	copyDir(t, "../routes", filepath.Join(work, "routes"))
	env := append(os.Environ(), "LGSP_LOG_FORMAT=json", "LGSP_LOG_LEVEL=info")
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = work, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("lgsp %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	srv := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--addr-file", "addr")
	srv.Dir, srv.Env = work, env
	var logs lockedBuffer // written by exec's copier while the test reads it
	srv.Stderr = &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	defer func() {
		if srv.ProcessState == nil {
			srv.Process.Kill()
		}
	}()
	var addr string
	eventually(t, "server listening", func() (bool, error) {
		b, err := os.ReadFile(filepath.Join(work, "addr"))
		addr = string(b)
		return err == nil && addr != "", err
	})
	url := "http://" + addr

	run("systems", "add", "--code", "000.00.00.H60", "--name", "UBND tỉnh", "--unit", "UBND tỉnh Tuyên Quang", "--contact", "vanthu@example.gov.vn")
	run("systems", "add", "--code", "000.00.01.H60", "--name", "Văn phòng UBND tỉnh", "--unit", "UBND tỉnh Tuyên Quang")
	run("keys", "issue", "--system", "000.00.00.H60", "--out", "ubnd.json", "--url", url)
	run("keys", "issue", "--system", "000.00.01.H60", "--out", "vp.json", "--url", url)
	run("grants", "add", "--kind", "exchange", "--source", "000.00.00.H60", "--to", "000.00.01.H60", "--data-type", "edoc")
	if out := run("keys", "history", "--system", "000.00.00.H60"); !strings.Contains(out, "issued") || !strings.Contains(out, "cli:") {
		t.Fatalf("keys history:\n%s", out)
	}
	if st, err := os.Stat(filepath.Join(work, "vp.json")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file mode: %v %v", st, err)
	}
	if out := run("systems", "list"); !strings.Contains(out, "000.00.01.H60") || !strings.Contains(out, "active") {
		t.Fatalf("systems list:\n%s", out)
	}
	doc := "<congvan><so>12/UBND-VP</so><trichyeu>Về việc chuyển đổi số</trichyeu></congvan>\n"
	if err := os.WriteFile(filepath.Join(work, "cv.xml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	out := run("exchange", "send", "--creds", "ubnd.json", "--to", "000.00.01.H60", "--title", "Công văn số 12/UBND-VP", "--type", "edoc", "cv.xml")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	id := lines[len(lines)-1]
	if !strings.HasPrefix(id, "ex_") {
		t.Fatalf("send did not end with the exchange id:\n%s", out)
	}
	eventually(t, "document in the office's inbox", func() (bool, error) {
		return strings.Contains(run("exchange", "inbox", "--creds", "vp.json"), id), nil
	})
	out = run("exchange", "receive", "--creds", "vp.json", "--out", "nhan")
	if !strings.Contains(out, id) || !strings.Contains(out, "completed") {
		t.Fatalf("receive:\n%s", out)
	}
	got, err := os.ReadFile(filepath.Join(work, "nhan", id+".xml"))
	if err != nil || string(got) != doc {
		t.Fatalf("received file: %q %v", got, err)
	}
	var st struct {
		Status     string `json:"status"`
		PurgedAt   string `json:"purged_at"`
		Recipients []struct{ Status string }
		Ledger     []struct{ Kind string }
	}
	if err := json.Unmarshal([]byte(run("exchange", "status", "--creds", "ubnd.json", id)), &st); err != nil {
		t.Fatal(err)
	}
	if st.Status != "completed" || st.PurgedAt == "" || st.Recipients[0].Status != "confirmed" || len(st.Ledger) < 8 {
		t.Fatalf("status: %+v", st)
	}
	if out := run("routes", "test", "--dir", "routes"); !strings.Contains(out, " 0 failed") {
		t.Fatalf("routes test:\n%s", out)
	}

	// SIGHUP with a broken file: refused, the running routes stay.
	if err := os.WriteFile(filepath.Join(work, "routes", "zz.yaml"), []byte("routes:\n  - name: hong\n    endpont: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv.Process.Signal(syscall.SIGHUP)
	eventually(t, "reload refusal logged", func() (bool, error) {
		return strings.Contains(logs.String(), "route reload refused"), nil
	})
	run("exchange", "send", "--creds", "ubnd.json", "--to", "000.00.01.H60", "--title", "Công văn số 13", "--type", "edoc", "cv.xml")

	// SIGTERM: drain and exit 0.
	srv.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("serve exited with %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s of SIGTERM")
	}
	// Every log line is JSON; request lines carry a request id.
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	reqLines := 0
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "{") {
			continue // the human "listening on" line
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		if _, ok := m["path"]; ok {
			reqLines++
			if m["request_id"] == nil {
				t.Fatalf("request log line without request_id: %s", line)
			}
		}
	}
	if reqLines == 0 {
		t.Log("no request log lines at info level (request lines are debug); checked reload and lifecycle lines only")
	}
}

// lockedBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
