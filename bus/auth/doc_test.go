package auth

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/test/testenv"
)

// The worked example of docs/auth.md. Every value below must appear
// verbatim in the page; the tests recompute them.
const (
	exAccessKey = "AKEXAMPLE0000000000001"
	exSecret    = "lgsp-example-secret-do-not-use"
	exTS        = "1790000000"
	exNonce     = "n0nce-2026-11-26-0001"
	exURL       = "https://lgsp.example.gov.vn/v1/exchanges?b=2&a=1"
	exBody      = `{"recipients":["000.00.01.H60"],"title":"Công văn số 12/UBND","data_type":"edoc"}`
	exBodyHash  = "53bc184d569f2612784177d63c849910a01238d809c28d46ad31ef4bb31bc5e9"
	exCanonical = `LGSP-HMAC-SHA256
POST
/v1/exchanges
a=1&b=2
content-type:application/json
host:lgsp.example.gov.vn
content-type;host
1790000000
n0nce-2026-11-26-0001
53bc184d569f2612784177d63c849910a01238d809c28d46ad31ef4bb31bc5e9`
	exSignature     = "df98b2424ed784bbf7f86608edbf1352328723ff92764d774360e5bf226f344e"
	exAuthorization = "LGSP-HMAC-SHA256 Credential=AKEXAMPLE0000000000001, SignedHeaders=content-type;host, Signature=" + exSignature
	exSystem        = "000.00.01.H60"
)

func readDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "auth.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// codeBlocks returns the fenced code blocks of a markdown page with their
// info strings.
func codeBlocks(doc string) (infos, bodies []string) {
	sc := bufio.NewScanner(strings.NewReader(doc))
	var in bool
	var info string
	var body []string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !in && strings.HasPrefix(line, "```"):
			in, info, body = true, strings.TrimPrefix(line, "```"), nil
		case in && line == "```":
			in = false
			infos = append(infos, info)
			bodies = append(bodies, strings.Join(body, "\n"))
		case in:
			body = append(body, line)
		}
	}
	return infos, bodies
}

// exampleRequest is the worked example as a client builds it.
func exampleRequest(t testing.TB) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, exURL, strings.NewReader(exBody))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	return r
}

func TestWorkedExampleMatchesDoc(t *testing.T) {
	doc := readDoc(t)
	for name, v := range map[string]string{
		"access key": "`" + exAccessKey + "`", "secret": "`" + exSecret + "`", "timestamp": "`" + exTS + "`",
		"nonce": "`" + exNonce + "`", "url": "`POST " + exURL + "`", "body": "```json\n" + exBody + "\n```",
		"body hash": "```text\n" + exBodyHash + "\n```", "canonical": "```text\n" + exCanonical + "\n```",
		"signature": "```text\n" + exSignature + "\n```", "authorization": "Authorization: " + exAuthorization + "\n",
		"body length": fmt.Sprintf("is these %d bytes", len(exBody)), "empty hash": EmptySHA256,
	} {
		if !strings.Contains(doc, v) {
			t.Errorf("docs/auth.md does not contain the %s %q", name, v)
		}
	}

	if got := HashBody([]byte(exBody)); got != exBodyHash {
		t.Errorf("body hash = %s, doc says %s", got, exBodyHash)
	}
	r := exampleRequest(t)
	c, err := CanonicalRequest(r, []string{"content-type", "host"}, exTS, exNonce, exBodyHash)
	if err != nil {
		t.Fatal(err)
	}
	if c != exCanonical {
		t.Errorf("canonical request:\n%s\ndoc says:\n%s", c, exCanonical)
	}
	ts := time.Unix(1790000000, 0)
	if err := Sign(r, exAccessKey, exSecret, HashBody([]byte(exBody)), ts, exNonce); err != nil {
		t.Fatal(err)
	}
	for h, want := range map[string]string{
		HeaderAuthorization: exAuthorization, HeaderTimestamp: exTS, HeaderNonce: exNonce, HeaderContentSHA256: exBodyHash,
	} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if s := ts.UTC().Format("2006-01-02 15:04:05 UTC"); !strings.Contains(doc, s) {
		t.Errorf("docs/auth.md should give the timestamp as %s", s)
	}
}

// TestWorkedExampleOpenSSL recomputes the example with an independent
// implementation of SHA-256 and HMAC.
func TestWorkedExampleOpenSSL(t *testing.T) {
	testenv.RequireTool(t, "openssl")
	dgst := func(input string, args ...string) string {
		cmd := exec.Command("openssl", append([]string{"dgst", "-sha256", "-r"}, args...)...)
		cmd.Stdin = strings.NewReader(input)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("openssl %v: %v", args, err)
		}
		return strings.Fields(string(out))[0]
	}
	if got := dgst(exBody); got != exBodyHash {
		t.Errorf("openssl body hash = %s, want %s", got, exBodyHash)
	}
	if got := dgst(exCanonical, "-hmac", exSecret); got != exSignature {
		t.Errorf("openssl HMAC = %s, want %s", got, exSignature)
	}
}

// TestDocSnippets runs the Python and shell clients of docs/auth.md: each
// must print the worked example's Authorization header.
func TestDocSnippets(t *testing.T) {
	infos, bodies := codeBlocks(readDoc(t))
	ran := 0
	for i, info := range infos {
		var prog string
		var args []string
		switch {
		case info == "python":
			prog, args = "python3", []string{"-c", bodies[i]}
		case info == "sh" && strings.Contains(bodies[i], "openssl dgst"):
			prog, args = "sh", []string{"-c", bodies[i]}
		default:
			continue
		}
		ran++
		t.Run(info, func(t *testing.T) {
			testenv.RequireTool(t, prog)
			out, err := exec.Command(prog, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", prog, err, out)
			}
			for _, want := range []string{"Authorization: " + exAuthorization, "X-LGSP-Content-SHA256: " + exBodyHash, "X-LGSP-Timestamp: " + exTS, "X-LGSP-Nonce: " + exNonce} {
				if !strings.Contains(string(out), want+"\n") {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
	if ran != 2 {
		t.Fatalf("found %d runnable snippets in docs/auth.md, want 2 (python, sh)", ran)
	}
}

// TestPythonClientInterop signs requests with the Python client of the doc
// (edge cases of percent-encoding included) and verifies them with Verify,
// as a server receives them.
func TestPythonClientInterop(t *testing.T) {
	testenv.RequireTool(t, "python3")
	infos, bodies := codeBlocks(readDoc(t))
	var snippet string
	for i, info := range infos {
		if info == "python" {
			snippet = bodies[i]
		}
	}
	snippet = strings.SplitN(snippet, `if __name__ == "__main__"`, 2)[0]
	urls := []string{
		"https://lgsp.example.gov.vn/v1/exchanges?b=2&a=1",
		"https://lgsp.example.gov.vn/v1/t%C3%A0i%20li%E1%BB%87u?q=Tuy%C3%AAn+Quang&x",
		"https://lgsp.example.gov.vn/a/%7euser/b+c?k=a%2Bb&k=a+b&sel=*&r=a:b/c%3Fd",
		"https://lgsp.example.gov.vn:8443/a%2Fb//c/?z=&y=%20%20&y=%7e",
		"http://10.0.0.7/",
	}
	var py strings.Builder
	py.WriteString(snippet + "\nimport json\n")
	for _, u := range urls {
		fmt.Fprintf(&py, "print(json.dumps(sign('GET', %q, {'Content-Type': 'text/plain;  charset=utf-8'}, b'', %q, %q, ts=1790000000, nonce=secrets.token_hex(16))))\n", u, exAccessKey, exSecret)
	}
	out, err := exec.Command("python3", "-c", py.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(urls) {
		t.Fatalf("python printed %d lines for %d urls:\n%s", len(lines), len(urls), out)
	}
	f := newFixture(t)
	for i, u := range urls {
		var hs map[string]string
		if err := json.Unmarshal([]byte(lines[i]), &hs); err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodGet, u, nil)
		r.Header.Set("Content-Type", "text/plain;  charset=utf-8")
		for k, v := range hs {
			r.Header.Set(k, v)
		}
		if _, err := f.v.Verify(r); err != nil {
			t.Errorf("%s: Go refuses the Python signature: %v", u, err)
		}
	}
}

// TestDocErrorTable checks the error table against the catalogue.
func TestDocErrorTable(t *testing.T) {
	doc := readDoc(t)
	for _, d := range bus.Catalogue() {
		if !strings.HasPrefix(string(d.Code), "auth.") && d.Code != bus.ErrBusy.Code && d.Code != bus.ErrUnavailable.Code {
			continue
		}
		row := fmt.Sprintf("| `%s` | %d | %s | %s |", d.Code, d.Status, d.VI, d.EN)
		if !strings.Contains(doc, row) {
			t.Errorf("docs/auth.md lacks the row %s", row)
		}
	}
}

var edgeRow = regexp.MustCompile("^\\| (path|query) `([^`]*)`[^|]*\\| `([^`]*)` \\|$")

// TestDocEdgeCases checks the table of canonical forms in docs/auth.md.
func TestDocEdgeCases(t *testing.T) {
	n := 0
	for line := range strings.SplitSeq(readDoc(t), "\n") {
		m := edgeRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n++
		f := CanonicalPath
		if m[1] == "query" {
			f = CanonicalQuery
		}
		got, err := f(m[2])
		if err != nil || got != m[3] {
			t.Errorf("%s %q: canonical %q (%v), doc says %q", m[1], m[2], got, err, m[3])
		}
	}
	if n < 6 {
		t.Fatalf("found only %d edge-case rows in docs/auth.md", n)
	}
}

// fixture is a verifier over a fake store at the worked example's time,
// with the example key, and keys in every state.
type fixture struct {
	st  *memStore
	clk *clock
	v   *Verifier
	reg *Registry
}

const (
	akRevoked   = "AKREVOKED000000000001"
	akExpired   = "AKEXPIRED000000000001"
	akSuspended = "AKSUSPENDED0000000001"
	akRSA       = "AKRSA000000000000001"
	akOrphan    = "AKORPHAN00000000000001"
)

func newFixture(t testing.TB) *fixture {
	t.Helper()
	st := newMemStore()
	vlt := testVault(t)
	clk := &clock{t: time.Unix(1790000000, 0)}
	reg := &Registry{Store: st, Vault: vlt, Now: clk.Now}
	ctx := context.Background()
	for _, code := range []string{exSystem, "000.00.02.H60"} {
		if _, _, err := reg.AddSystem(ctx, store.System{Code: code, Name: "Hệ thống " + code}); err != nil {
			t.Fatal(err)
		}
	}
	if err := reg.Suspend(ctx, "000.00.02.H60"); err != nil {
		t.Fatal(err)
	}
	putKey(t, st, vlt, store.Key{AccessKey: exAccessKey, SystemCode: exSystem}, exSecret)
	putKey(t, st, vlt, store.Key{AccessKey: akRevoked, SystemCode: exSystem, Status: store.KeyRevoked, RevokedAt: clk.Now().Add(-time.Hour)}, exSecret)
	putKey(t, st, vlt, store.Key{AccessKey: akExpired, SystemCode: exSystem, ExpiresAt: clk.Now().Add(-time.Second)}, exSecret)
	putKey(t, st, vlt, store.Key{AccessKey: akSuspended, SystemCode: "000.00.02.H60"}, exSecret)
	putKey(t, st, vlt, store.Key{AccessKey: akRSA, SystemCode: exSystem, Alg: "LGSP-RSA-SHA256"}, exSecret)
	putKey(t, st, vlt, store.Key{AccessKey: akOrphan, SystemCode: "000.00.99.H60"}, exSecret)
	nonces := NewMemoryNonces(1000)
	nonces.Now = clk.Now
	return &fixture{st: st, clk: clk, reg: reg, v: &Verifier{Keys: st, Vault: vlt, Nonces: nonces, Now: clk.Now}}
}
