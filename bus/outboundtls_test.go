package bus

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string
}

func makeCA(t *testing.T, dir, name string) testCA {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	f := filepath.Join(dir, name+".pem")
	os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	return testCA{c, key, f}
}

func (ca testCA) leaf(t *testing.T, dir, name string, usage x509.ExtKeyUsage) (string, string, tls.Certificate) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	cf, kf := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	os.WriteFile(cf, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(kf, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	pair, _ := tls.LoadX509KeyPair(cf, kf)
	return cf, kf, pair
}

// TestOutboundTLS: a destination whose CA is not in the system store is
// reached once its CA file is configured (globally or for it alone), its
// demand for a client certificate is met with the configured one, and it
// is refused — before any request is sent — without the CA, or when the
// destination pins another CA.
func TestOutboundTLS(t *testing.T) {
	dir := t.TempDir()
	ca, other := makeCA(t, dir, "province-ca"), makeCA(t, dir, "other-ca")
	_, _, srvCert := ca.leaf(t, dir, "dest", x509.ExtKeyUsageServerAuth)
	cf, kf, _ := ca.leaf(t, dir, "lgsp-client", x509.ExtKeyUsageClientAuth)
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	var requests int
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests++
		w.Write([]byte(r.TLS.PeerCertificates[0].Subject.CommonName))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{srvCert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "https://")
	get := func(o OutboundTLS) (string, error) {
		c, err := o.Build()
		if err != nil {
			t.Fatal(err)
		}
		tr := &http.Transport{ForceAttemptHTTP2: true}
		c.Apply(tr)
		resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get(srv.URL)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b := make([]byte, 64)
		n, _ := resp.Body.Read(b)
		return resp.Proto + " " + string(b[:n]), nil
	}
	if got, err := get(OutboundTLS{CAFiles: []string{ca.file}, CertFile: cf, KeyFile: kf}); err != nil || !strings.HasSuffix(got, " lgsp-client") {
		t.Fatalf("global CA and client certificate: %q %v", got, err)
	}
	if got, err := get(OutboundTLS{Destinations: map[string]OutboundTLSDest{host: {CAFiles: []string{ca.file}, OnlyCAFiles: true, CertFile: cf, KeyFile: kf}}}); err != nil || !strings.HasSuffix(got, "lgsp-client") {
		t.Fatalf("per-destination CA and client certificate: %q %v", got, err)
	}
	seen := requests
	if _, err := get(OutboundTLS{CertFile: cf, KeyFile: kf}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without the CA: %v", err)
	}
	if _, err := get(OutboundTLS{CAFiles: []string{ca.file}, CertFile: cf, KeyFile: kf, Destinations: map[string]OutboundTLSDest{"127.0.0.1": {CAFiles: []string{other.file}, OnlyCAFiles: true}}}); err == nil {
		t.Fatal("a destination pinned to another CA was reached")
	}
	if requests != seen {
		t.Fatalf("%d requests reached the server through refused TLS", requests-seen)
	}
	if err := (OutboundTLS{CAFiles: []string{cf + ".missing"}}).Validate(); err == nil {
		t.Fatal("a missing CA file is accepted")
	}
	if err := (OutboundTLS{CAFiles: []string{kf}}).Validate(); err == nil {
		t.Fatal("a key file is accepted as a CA file")
	}
}

// TestNoInsecureSkipVerify: no code outside tests turns off certificate
// verification.
func TestNoInsecureSkipVerify(t *testing.T) {
	root := ".."
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == ".git" || p == filepath.Join(root, "test")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), "InsecureSkipVerify") {
			t.Errorf("%s sets InsecureSkipVerify", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
