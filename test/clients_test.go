package test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The client libraries under clients/<language>/ are tested against a real
// node: clientNode starts `lgsp serve` from the built binary on a loopback
// port, registers three systems with the CLI and runs a harness (webhook
// receiver and service backend); each TestClientX then runs that client's
// test program, which checks the worked examples of docs/auth.md and does the
// whole flow (F1–F7, SSE, webhooks, sessions, /svc). A missing toolchain
// fails the test: test/run.sh installs them.

const (
	clientSender   = "000.00.00.H60" // LGSP-HMAC-SHA256
	clientRecvSHA1 = "000.00.01.H60" // LGSP-HMAC-SHA1, HMAC webhooks, owns the service
	clientRecvRSA  = "000.00.02.H60" // LGSP-RSA-SHA256, webhooks signed by the platform key
	clientService  = "client-echo"
)

// hookCapture is one webhook as the harness received it.
type hookCapture struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Host    string            `json:"host"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body_base64"`
}

// harness receives webhooks (POST /hook/NAME, kept for GET /captured/NAME)
// and is the service's backend (/backend/…: echoes what the bus forwarded).
type harness struct {
	mu    sync.Mutex
	hooks map[string][]hookCapture
}

func (h *harness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	switch {
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/hook/"):
		c := hookCapture{Method: r.Method, Path: r.URL.RequestURI(), Host: r.Host, Headers: map[string]string{}, Body: base64.StdEncoding.EncodeToString(body)}
		for k := range r.Header {
			c.Headers[strings.ToLower(k)] = strings.Join(r.Header.Values(k), ",")
		}
		h.mu.Lock()
		h.hooks[strings.TrimPrefix(r.URL.Path, "/hook/")] = append(h.hooks[strings.TrimPrefix(r.URL.Path, "/hook/")], c)
		h.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/captured/"):
		h.mu.Lock()
		list := append([]hookCapture{}, h.hooks[strings.TrimPrefix(r.URL.Path, "/captured/")]...)
		h.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(list)
	case strings.HasPrefix(r.URL.Path, "/backend/"):
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery,
			"caller": r.Header.Get("X-LGSP-Caller"), "scope": r.Header.Get("X-LGSP-Scope"), "body": string(body),
		})
	default:
		http.NotFound(w, r)
	}
}

// clientNode starts a node and its harness and returns the environment the
// client test programs read (LGSP_TEST_*).
func clientNode(t *testing.T) []string {
	t.Helper()
	bin := buildLGSP(t)
	work := t.TempDir()
	copyDir(t, "../routes", filepath.Join(work, "routes"))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: &harness{hooks: map[string][]hookCapture{}}, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { hs.Close() })
	hURL := "http://" + ln.Addr().String()

	svc := "services:\n  - name: " + clientService + "\n    owner: \"" + clientRecvSHA1 + "\"\n    endpoint: \"" + hURL + "/backend\"\n    scopes: [read]\n    timeout: 5s\n"
	if err := os.WriteFile(filepath.Join(work, "routes", "clients.yaml"), []byte(svc), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "LGSP_LOG_FORMAT=json", "LGSP_LOG_LEVEL=warning", "LGSP_WEBHOOKS_ALLOW_PRIVATE=true")
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
	var logs lockedBuffer
	srv.Stderr = &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = srv.Process.Kill()
		_ = srv.Wait()
		if t.Failed() {
			t.Logf("node log:\n%s", logs.String())
		}
	})
	var addr string
	eventually(t, "server listening", func() (bool, error) {
		b, err := os.ReadFile(filepath.Join(work, "addr"))
		addr = string(b)
		return err == nil && addr != "", nil
	})
	url := "http://" + addr

	run("systems", "add", "--code", clientSender, "--name", "UBND tỉnh")
	run("systems", "add", "--code", clientRecvSHA1, "--name", "Văn phòng", "--webhook", hURL+"/hook/sha1", "--alg", "LGSP-HMAC-SHA1")
	run("systems", "add", "--code", clientRecvRSA, "--name", "Sở Nội vụ", "--webhook", hURL+"/hook/rsa", "--alg", "LGSP-RSA-SHA256")
	run("keys", "issue", "--system", clientSender, "--out", "a.json", "--url", url)
	run("keys", "issue", "--system", clientRecvSHA1, "--alg", "LGSP-HMAC-SHA1", "--out", "b.json", "--url", url)

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	keyFile, pubFile := filepath.Join(work, "c.key"), filepath.Join(work, "c.pub")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
		t.Fatal(err)
	}
	out := run("keys", "add-rsa", "--system", clientRecvRSA, "--public-key", pubFile)
	var rk string
	for _, f := range strings.Fields(out) {
		if strings.HasPrefix(f, "RK") {
			rk = f
		}
	}
	if rk == "" {
		t.Fatalf("keys add-rsa printed no access key:\n%s", out)
	}
	run("grants", "add", "--kind", "exchange", "--source", clientSender, "--to", clientRecvSHA1, "--data-type", "edoc")
	run("grants", "add", "--kind", "exchange", "--source", clientSender, "--to", clientRecvRSA, "--data-type", "edoc")
	run("grants", "add", "--kind", "service", "--source", clientSender, "--service", clientService, "--scope", "read")

	return append(os.Environ(),
		"LGSP_TEST_URL="+url,
		"LGSP_TEST_HARNESS="+hURL,
		"LGSP_TEST_SENDER_CREDS="+filepath.Join(work, "a.json"),
		"LGSP_TEST_SHA1_CREDS="+filepath.Join(work, "b.json"),
		"LGSP_TEST_RSA_CODE="+clientRecvRSA,
		"LGSP_TEST_RSA_ACCESS_KEY="+rk,
		"LGSP_TEST_RSA_KEY="+keyFile,
		"LGSP_TEST_SERVICE="+clientService,
	)
}

// runClientProgram runs one client's test program with the node's
// environment; it must end with the line "ALL OK".
func runClientProgram(t *testing.T, env []string, dir string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, env
	done := make(chan struct{})
	timer := time.AfterFunc(2*time.Minute, func() {
		select {
		case <-done:
		default:
			_ = cmd.Process.Kill()
		}
	})
	out, err := cmd.CombinedOutput()
	close(done)
	timer.Stop()
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "ALL OK") {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	t.Logf("%s", out)
}

// requireTool fails (never skips) when a toolchain is missing.
func requireTool(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Fatalf("%s is not installed: run ./test/run.sh (it installs the client toolchains) or apt-get install the package named in clients/README.md", n)
		}
	}
}

// TestClientPython runs clients/python's test program against a real node.
func TestClientPython(t *testing.T) {
	requireTool(t, "python3")
	env := clientNode(t)
	runClientProgram(t, env, "../clients/python", "python3", "-B", "test_lgsp_client.py")
}

// TestClientJava compiles clients/java at the Java 8 level (javac --release
// 8) and runs its test program against a real node.
func TestClientJava(t *testing.T) {
	requireTool(t, "javac", "java")
	classes := t.TempDir()
	srcs, _ := filepath.Glob("../clients/java/src/lgsp/*.java")
	args := append([]string{"--release", "8", "-Xlint:all", "-Werror", "-d", classes}, append(srcs, "../clients/java/test/LgspClientTest.java")...)
	if out, err := exec.Command("javac", args...).CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	env := clientNode(t)
	root, _ := filepath.Abs("..")
	runClientProgram(t, env, "../clients/java", "java", "-cp", classes, "LgspClientTest", root)
}

// TestClientCSharp compiles clients/csharp with Mono's C# compiler against the
// .NET Framework 4.x class library and runs its test program on Mono against
// a real node.
func TestClientCSharp(t *testing.T) {
	requireTool(t, "mcs", "mono")
	out := t.TempDir()
	dll, exe := filepath.Join(out, "Lgsp.dll"), filepath.Join(out, "LgspClientTest.exe")
	for _, args := range [][]string{
		{"-warnaserror", "-target:library", "-out:" + dll, "-r:System.Web.Extensions", "../clients/csharp/src/Lgsp.cs"},
		{"-warnaserror", "-out:" + exe, "-r:" + dll, "-r:System.Web.Extensions", "../clients/csharp/test/LgspClientTest.cs"},
	} {
		if b, err := exec.Command("mcs", args...).CombinedOutput(); err != nil {
			t.Fatalf("mcs %s: %v\n%s", strings.Join(args, " "), err, b)
		}
	}
	env := clientNode(t)
	root, _ := filepath.Abs("..")
	runClientProgram(t, env, "../clients/csharp", "mono", exe, root)
}
