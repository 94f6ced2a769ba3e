package test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus/edxml"
	"github.com/tuyenquang/lgsp/bus/xmldsig"
	"github.com/tuyenquang/lgsp/test/testenv"
)

// The benchmarks of issue #4: parse + validate + verify of a signed edXML
// packet of 20 KB (ops/s) and 10 MB (MB/s), and xmlsec1 --verify on the same
// 10 MB packet in the same run:
//
//	go test ./test -run '^$' -bench 'EdXML|Xmlsec1' -benchtime 20x

// fixturePacket is one of our own edXML fixtures (bus/edxml/testdata/packets).
func fixturePacket(name string) string {
	return filepath.Join("..", "bus", "edxml", "testdata", "packets", name)
}

type benchPKI struct {
	signer  *xmldsig.Signer
	roots   *x509.CertPool
	certPEM []byte
}

func newBenchPKI(tb testing.TB) *benchPKI {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "LGSP benchmark signer", Organization: []string{"UBND tỉnh (thử nghiệm)"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	s, err := xmldsig.NewSigner(key, []*x509.Certificate{cert}, xmldsig.SignOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &benchPKI{signer: s, roots: pool, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// signedPacket returns the new-document fixture with its attachment
// replaced by pseudo-random content so the packet is about size bytes, signed.
func signedPacket(tb testing.TB, pki *benchPKI, size int64) []byte {
	tb.Helper()
	f, err := os.Open(fixturePacket("doc_new.edxml"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	p, err := edxml.Parse(f, nil)
	if err != nil {
		tb.Fatal(err)
	}
	p.Extra = nil // drop a placeholder signature kept as an unknown element
	p.Envelope.Header.Signature = nil
	att := p.Attachments[0]
	n := size * 3 / 4
	att.Open = func() (io.ReadCloser, error) {
		return io.NopCloser(io.LimitReader(mrand.NewChaCha8([32]byte{7}), n)), nil
	}
	p.Attachments = p.Attachments[:1]
	var buf bytes.Buffer
	if err := edxml.Build(&buf, p); err != nil {
		tb.Fatal(err)
	}
	signed, err := pki.signer.Sign(buf.Bytes())
	if err != nil {
		tb.Fatal(err)
	}
	return signed
}

func parseValidateVerify(b *testing.B, size int64) {
	pki := newBenchPKI(b)
	raw := signedPacket(b, pki, size)
	v := &xmldsig.Verifier{Roots: pki.roots, MaxBytes: 64 << 20}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		p, err := edxml.Parse(bytes.NewReader(raw), nil)
		if err != nil {
			b.Fatal(err)
		}
		if edxml.HasErrors(edxml.Validate(p)) {
			b.Fatal("packet does not validate")
		}
		if _, _, err := v.Check(raw, xmldsig.Require); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEdXMLParseValidateVerify20KB(b *testing.B) { parseValidateVerify(b, 20<<10) }
func BenchmarkEdXMLParseValidateVerify10MB(b *testing.B) { parseValidateVerify(b, 10<<20) }

func BenchmarkXmlsec1Verify10MB(b *testing.B) {
	testenv.RequireTool(b, "xmlsec1")
	pki := newBenchPKI(b)
	raw := signedPacket(b, pki, 10<<20)
	dir := b.TempDir()
	doc, ca := filepath.Join(dir, "signed.xml"), filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(doc, raw, 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(ca, pki.certPEM, 0o600); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if out, err := exec.Command("xmlsec1", "--verify", "--trusted-pem", ca, doc).CombinedOutput(); err != nil {
			b.Fatalf("xmlsec1: %v\n%s", err, out)
		}
	}
}

// TestSignedPacketInterop checks the benchmark's packet is what it claims:
// valid edXML whose signature xmlsec1 accepts.
func TestSignedPacketInterop(t *testing.T) {
	testenv.RequireTool(t, "xmlsec1")
	pki := newBenchPKI(t)
	raw := signedPacket(t, pki, 20<<10)
	dir := t.TempDir()
	doc, ca := filepath.Join(dir, "signed.xml"), filepath.Join(dir, "ca.pem")
	os.WriteFile(doc, raw, 0o600)
	os.WriteFile(ca, pki.certPEM, 0o600)
	if out, err := exec.Command("xmlsec1", "--verify", "--trusted-pem", ca, doc).CombinedOutput(); err != nil {
		t.Fatalf("xmlsec1 refused our signed packet: %v\n%s", err, out)
	}
	p, err := edxml.Parse(bytes.NewReader(raw), nil)
	if err != nil {
		t.Fatal(err)
	}
	if edxml.HasErrors(edxml.Validate(p)) {
		t.Fatalf("signed packet does not validate: %v", edxml.Validate(p))
	}
}
