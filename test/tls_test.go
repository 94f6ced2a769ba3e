package test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
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
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
)

// testPKI is a CA made by the test, with the files of the certificates it
// issued.
type testPKI struct {
	dir    string
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caFile string
	pool   *x509.CertPool
	serial int64
}

func newPKI(t *testing.T, name string) *testPKI {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name, Organization: []string{"Sở Thông tin và Truyền thông"}, Country: []string{"VN"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	p := &testPKI{dir: t.TempDir(), ca: ca, caKey: key, pool: x509.NewCertPool(), serial: 1}
	p.pool.AddCert(ca)
	p.caFile = filepath.Join(p.dir, "ca.pem")
	writePEM(t, p.caFile, "CERTIFICATE", der)
	return p
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil { // atomic: a reload never sees half a file
		t.Fatal(err)
	}
}

// issue makes a certificate for cn (server: with 127.0.0.1 and localhost;
// client: for client authentication) and writes name.crt and name.key.
func (p *testPKI) issue(t *testing.T, name, cn string, server bool) (certFile, keyFile string, cert tls.Certificate) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p.serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(p.serial), Subject: pkix.Name{CommonName: cn, Organization: []string{"Sở Nội vụ"}, Country: []string{"VN"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.DNSNames = []string{"localhost"}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile = filepath.Join(p.dir, name+".crt"), filepath.Join(p.dir, name+".key")
	writePEM(t, keyFile, "PRIVATE KEY", kder)
	writePEM(t, certFile, "CERTIFICATE", der)
	cert, err = tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

// httpsClient trusts the test CA and presents certs (if any).
func (p *testPKI) httpsClient(certs ...tls.Certificate) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{ForceAttemptHTTP2: true,
		TLSClientConfig: &tls.Config{RootCAs: p.pool, Certificates: certs, MinVersion: tls.VersionTLS12}}}
}

// startTLSNode starts a node serving HTTPS with a server certificate of pki.
func startTLSNode(t *testing.T, dialect string, pki *testPKI, mutate func(*service.Config)) (*node, string, string) {
	t.Helper()
	certFile, keyFile, _ := pki.issue(t, "server", "lgsp.test", true)
	n := startNodeWith(t, dialect, func(c *service.Config) {
		c.TLS.CertFile, c.TLS.KeyFile = certFile, keyFile
		if mutate != nil {
			mutate(c)
		}
	})
	return n, certFile, keyFile
}

// TestHTTPSGoClientAndCurl: the node serves HTTPS from PEM files, offers
// HTTP/2, and answers the Go client and curl that trust the test CA; a
// client that does not trust it is refused by its own check.
func TestHTTPSGoClientAndCurl(t *testing.T) {
	pki := newPKI(t, "LGSP test CA")
	n, _, _ := startTLSNode(t, "sqlite", pki, nil)
	if !strings.HasPrefix(n.url, "https://") {
		t.Fatalf("node URL %s", n.url)
	}
	resp, err := pki.httpsClient().Get(n.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Proto != "HTTP/2.0" || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("status %d proto %s tls %+v", resp.StatusCode, resp.Proto, resp.TLS)
	}
	// A client with only the system roots does not trust the test CA.
	if _, err := (&http.Client{Timeout: 5 * time.Second}).Get(n.url + "/healthz"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusting client: %v", err)
	}
	out, err := exec.Command("curl", "-sS", "--cacert", pki.caFile, "--http2", "-w", "\n%{http_code} %{http_version}", n.url+"/healthz").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	if !strings.HasSuffix(strings.TrimSpace(string(out)), "200 2") || !strings.Contains(string(out), `"status":"ok"`) {
		t.Fatalf("curl answer: %s", out)
	}
	// A signed call over HTTPS: the REST client with the CA.
	c := n.system(t, "000.00.01.H60", "QLVB")
	c.HTTP = pki.httpsClient()
	if _, err := c.Inbox(context.Background()); err != nil {
		t.Fatalf("signed call over HTTPS: %v", err)
	}
}

// TestHTTPSPKCS12AndRedirect: the certificate comes from a PKCS#12 file
// made by openssl, and the plain-HTTP listener only redirects to HTTPS.
func TestHTTPSPKCS12AndRedirect(t *testing.T) {
	pki := newPKI(t, "LGSP test CA")
	certFile, keyFile, _ := pki.issue(t, "server", "lgsp.test", true)
	p12 := filepath.Join(pki.dir, "server.p12")
	pass := filepath.Join(pki.dir, "p12.pass")
	if err := os.WriteFile(pass, []byte("mật-khẩu\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("openssl", "pkcs12", "-export", "-in", certFile, "-inkey", keyFile, "-certfile", pki.caFile, "-out", p12, "-passout", "file:"+pass).CombinedOutput(); err != nil {
		t.Fatalf("openssl pkcs12: %v\n%s", err, out)
	}
	redirect := freeLoopbackAddr(t)
	n := startNodeWith(t, "sqlite", func(c *service.Config) {
		c.TLS.PKCS12File, c.TLS.PKCS12PasswordFile = p12, pass
		c.TLS.RedirectListen = redirect
	})
	resp, err := pki.httpsClient().Get(n.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || len(resp.TLS.PeerCertificates) != 2 {
		t.Fatalf("status %d, chain of %d", resp.StatusCode, len(resp.TLS.PeerCertificates))
	}
	noFollow := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.Get("http://" + redirect + "/v1/inbox?x=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(n.url, "https://"))
	if want := "https://127.0.0.1:" + port + "/v1/inbox?x=1"; resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
		t.Fatalf("redirect: %d %q, want 308 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestTLSOldVersionsAndWeakCiphersRefused: openssl s_client cannot connect
// with TLS 1.0 or 1.1 (even with its own security level lowered), nor with
// TLS 1.2 suites without forward secrecy or AEAD; the modern ones work.
func TestTLSOldVersionsAndWeakCiphersRefused(t *testing.T) {
	pki := newPKI(t, "LGSP test CA")
	n, _, _ := startTLSNode(t, "sqlite", pki, nil)
	addr := strings.TrimPrefix(n.url, "https://")
	sclient := func(args ...string) (bool, string) {
		cmd := exec.Command("openssl", append([]string{"s_client", "-connect", addr, "-CAfile", pki.caFile}, args...)...)
		cmd.Stdin = strings.NewReader("")
		out, err := cmd.CombinedOutput()
		s := string(out)
		ok := err == nil && strings.Contains(s, "Verify return code: 0 (ok)") && !strings.Contains(s, "Cipher is (NONE)")
		return ok, s
	}
	for _, c := range []struct {
		name string
		args []string
		ok   bool
	}{
		{"TLS 1.0", []string{"-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"}, false},
		{"TLS 1.1", []string{"-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"}, false},
		{"TLS 1.2 RSA key exchange", []string{"-tls1_2", "-cipher", "AES128-GCM-SHA256:AES256-SHA256:AES128-SHA"}, false},
		{"TLS 1.2 CBC", []string{"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA256"}, false},
		{"TLS 1.2 3DES/RC4", []string{"-tls1_2", "-cipher", "DES-CBC3-SHA:RC4-SHA:@SECLEVEL=0"}, false},
		{"TLS 1.2 ECDHE-ECDSA-AES128-GCM", []string{"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"}, true},
		{"TLS 1.2 ECDHE-ECDSA-CHACHA20", []string{"-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305"}, true},
		{"TLS 1.3", []string{"-tls1_3"}, true},
	} {
		ok, out := sclient(c.args...)
		if ok != c.ok {
			t.Errorf("%s: handshake succeeded=%v, want %v\n%s", c.name, ok, c.ok, out)
		}
	}
}

// TestCertReloadUnderLoad: the certificate is replaced by changing its
// files, on one node picked up by the periodic check and on another
// (periodic check off) on SIGHUP, while clients keep calling both over new
// and kept-alive connections: no request fails, and new handshakes see the
// new certificate. A broken pair leaves the current one in force.
func TestCertReloadUnderLoad(t *testing.T) {
	pki := newPKI(t, "LGSP test CA")
	watched, wCert, wKey := startTLSNode(t, "sqlite", pki, func(c *service.Config) { c.TLS.ReloadCheck = 20 * time.Millisecond })
	hup, hCert, hKey := startTLSNode(t, "sqlite", pki, func(c *service.Config) { c.TLS.ReloadCheck = -1 })
	serialSeen := func(n *node) (int64, error) {
		resp, err := (&http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{RootCAs: pki.pool}}}).Get(n.url + "/healthz")
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.TLS.PeerCertificates[0].SerialNumber.Int64(), nil
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var calls, failures atomic.Int64
	var firstErr atomic.Value
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			tr := &http.Transport{DisableKeepAlives: i%2 == 0, ForceAttemptHTTP2: i%4 == 1, TLSClientConfig: &tls.Config{RootCAs: pki.pool}}
			c := &http.Client{Timeout: 10 * time.Second, Transport: tr}
			target := []*node{watched, hup}[i%3%2]
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Get(target.url + "/healthz")
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = errors.New(resp.Status)
					}
				}
				calls.Add(1)
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}(i)
	}
	for _, c := range []struct {
		n         *node
		cert, key string
		sighup    bool
		what      string
	}{{watched, wCert, wKey, false, "a file change"}, {hup, hCert, hKey, true, "SIGHUP"}} {
		first, err := serialSeen(c.n)
		if err != nil {
			t.Fatal(err)
		}
		pki.issueInto(t, c.cert, c.key)
		if c.sighup {
			if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, "the new certificate is served after "+c.what, func() (bool, error) {
			s, err := serialSeen(c.n)
			return s != first && s != 0, err
		})
	}
	before := calls.Load()
	eventually(t, "load keeps running after the reloads", func() (bool, error) { return calls.Load() > before+50, nil })
	close(stop)
	wg.Wait()
	if failures.Load() > 0 {
		t.Fatalf("%d of %d requests failed during the reloads; first: %v", failures.Load(), calls.Load(), firstErr.Load())
	}
	if calls.Load() < 100 {
		t.Fatalf("only %d requests ran", calls.Load())
	}
	t.Logf("%d requests, none failed, across two certificate reloads", calls.Load())
	current, _ := serialSeen(hup)
	if err := os.WriteFile(hKey, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	hup.svc.ReloadCertificate()
	if s, err := serialSeen(hup); err != nil || s != current {
		t.Fatalf("after a broken reload: serial %d (want %d), %v", s, current, err)
	}
}

// issueInto writes a new server certificate and key over the given files.
func (p *testPKI) issueInto(t *testing.T, certFile, keyFile string) {
	t.Helper()
	c, k, _ := p.issue(t, "next", "lgsp.test", true)
	for _, f := range [][2]string{{k, keyFile}, {c, certFile}} {
		b, err := os.ReadFile(f[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f[1]+".new", b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(f[1]+".new", f[1]); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMutualTLSBoundSystem (SQLite and MariaDB): a system bound to a client
// certificate — by fingerprint, then by CA and subject — is accepted over
// TLS with that certificate, and refused with auth.client_cert without a
// certificate, with another one (same CA, other subject; other CA, same
// subject), and over plain HTTP. The bindings are audited and removable;
// other systems are not affected.
func TestMutualTLSBoundSystem(t *testing.T) {
	for _, dialect := range []string{"sqlite", "mysql"} {
		t.Run(dialect, func(t *testing.T) { testMutualTLS(t, dialect) })
	}
}

func testMutualTLS(t *testing.T, dialect string) {
	ctx := context.Background()
	pki := newPKI(t, "LGSP test CA")
	other := newPKI(t, "Other CA")
	n, _, _ := startTLSNode(t, dialect, pki, nil)
	_, _, good := pki.issue(t, "qlvb", "qlvb.tuyenquang.gov.vn", false)
	_, _, sameCAOther := pki.issue(t, "intruder", "intruder.example", false)
	_, _, otherCASame := other.issue(t, "qlvb-forged", "qlvb.tuyenquang.gov.vn", false)

	c := n.system(t, "000.00.01.H60", "QLVB")
	free := n.system(t, "000.00.02.H60", "HCC")
	free.HTTP = pki.httpsClient()
	call := func(certs ...tls.Certificate) error {
		c.HTTP = pki.httpsClient(certs...)
		_, err := c.Inbox(ctx)
		return err
	}
	wantCode := func(what string, err error, code string) {
		t.Helper()
		var ae *rest.APIError
		if !errors.As(err, &ae) || ae.Code != code {
			t.Fatalf("%s: %v, want %s", what, err, code)
		}
	}
	if err := call(); err != nil {
		t.Fatalf("unbound system without a certificate: %v", err)
	}
	admin := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, n.url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+n.svc.AdminToken())
		req.Header.Set("Content-Type", "application/json")
		resp, err := pki.httpsClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// Bind by fingerprint through the admin API.
	st, body := admin("POST", "/admin/v1/systems/000.00.01.H60/client-certs", `{"sha256":"`+auth.CertFingerprint(good.Leaf.Raw)+`","description":"QLVB 2025"}`)
	if st != 201 {
		t.Fatalf("bind: %d %s", st, body)
	}
	id := between(body, `"id":"`, `"`)
	if err := call(good); err != nil {
		t.Fatalf("bound system with its certificate: %v", err)
	}
	wantCode("no certificate", call(), "auth.client_cert")
	wantCode("same CA, other certificate", call(sameCAOther), "auth.client_cert")
	wantCode("other CA, same subject", call(otherCASame), "auth.client_cert")
	if _, err := free.Inbox(ctx); err != nil {
		t.Fatalf("another system is not held to mTLS: %v", err)
	}
	// Plain HTTP to the same node's handler: refused although the signature is good.
	plain := startPlainHandler(t, n.svc.Handler())
	c.HTTP, c.BaseURL = &http.Client{Timeout: 5 * time.Second}, plain
	_, err := c.Inbox(ctx)
	wantCode("plain HTTP", err, "auth.client_cert")
	c.BaseURL = n.url

	// Swap to a CA+subject binding (the registry, as the CLI does).
	if st, body := admin("DELETE", "/admin/v1/systems/000.00.01.H60/client-certs/"+id, ""); st != 200 {
		t.Fatalf("unbind: %d %s", st, body)
	}
	b, err := auth.NewCABinding(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pki.ca.Raw})), good.Leaf.Subject.String(), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.svc.Registry().BindClientCert(auth.WithActor(ctx, "cli:test"), "000.00.01.H60", b); err != nil {
		t.Fatal(err)
	}
	if err := call(good); err != nil {
		t.Fatalf("CA+subject binding, right certificate: %v", err)
	}
	wantCode("CA+subject, other subject", call(sameCAOther), "auth.client_cert")
	wantCode("CA+subject, other CA", call(otherCASame), "auth.client_cert")
	wantCode("CA+subject, none", call(), "auth.client_cert")

	// Audited: two bindings and one removal, with their actors.
	events, err := n.svc.Registry().History(ctx, "000.00.01.H60", 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events {
		if e.Action == store.KeyEventClientCert {
			got = append(got, e.Actor+" "+strings.Fields(e.Detail)[0])
		}
	}
	if strings.Join(got, "|") != "admin-api bound|admin-api unbound|cli:test bound" {
		t.Fatalf("audit: %q", got)
	}
	// The refusals changed nothing: the list shows the one binding.
	if st, body := admin("GET", "/admin/v1/systems/000.00.01.H60/client-certs", ""); st != 200 || strings.Count(body, `"id"`) != 1 || !strings.Contains(body, "CN=qlvb.tuyenquang.gov.vn") {
		t.Fatalf("list: %d %s", st, body)
	}
	if !strings.Contains(readFile(t, n.logFile), "auth.client_cert") {
		t.Fatal("refusals are not logged with their code")
	}
}

func between(s, a, b string) string {
	_, rest, ok := strings.Cut(s, a)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, b)
	return v
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// startPlainHandler serves h over plain HTTP on loopback.
func startPlainHandler(t *testing.T, h http.Handler) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String()
}

// TestTLSSlowHandshakeAndRedirectBounded: a client that opens a connection
// to the HTTPS port or to the redirect listener and sends nothing (or half
// a request) is disconnected after read_header_timeout; a huge header on
// the redirect listener is refused.
func TestTLSSlowHandshakeAndRedirectBounded(t *testing.T) {
	pki := newPKI(t, "LGSP test CA")
	redirect := freeLoopbackAddr(t)
	n, _, _ := startTLSNode(t, "sqlite", pki, func(c *service.Config) {
		c.TLS.RedirectListen = redirect
		c.Limits.ReadHeaderTimeout = 300 * time.Millisecond
	})
	for _, c := range []struct{ addr, send string }{
		{strings.TrimPrefix(n.url, "https://"), ""},
		{strings.TrimPrefix(n.url, "https://"), "\x16\x03\x01\x00"}, // the start of a ClientHello
		{redirect, "GET / HTTP/1.1\r\nHost: x\r\n"},
	} {
		conn, err := net.Dial("tcp", c.addr)
		if err != nil {
			t.Fatal(err)
		}
		conn.Write([]byte(c.send))
		start := time.Now()
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = io.ReadAll(conn)
		conn.Close()
		if err != nil || time.Since(start) > 5*time.Second {
			t.Fatalf("%s with %q: not closed by the server (%v after %s)", c.addr, c.send, err, time.Since(start))
		}
	}
	req, _ := http.NewRequest("GET", "http://"+redirect+"/", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 128<<10))
	resp, err := (&http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("huge header on the redirect listener: %d", resp.StatusCode)
		}
	}
}
