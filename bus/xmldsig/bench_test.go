package xmldsig

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The benchmarks verify edXML packets of about 20 KB and 10 MB (the 10 MB
// one is mostly a base64 attachment, as real packets are).
// BenchmarkXmlsec1Verify10MB runs the real xmlsec1 --verify on the same
// 10 MB document, process start included, for comparison:
//
//	go test -run '^$' -bench . -benchtime 5x ./bus/xmldsig/

func benchVerify(b *testing.B, size int) {
	p := getPKI(b)
	signed, err := p.signer(b, false, SignOptions{}).Sign(edxmlDoc("", size))
	if err != nil {
		b.Fatal(err)
	}
	v := p.verifier()
	b.SetBytes(int64(len(signed)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := v.Verify(signed); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify20KB(b *testing.B) { benchVerify(b, 18<<10) }

func BenchmarkVerify10MB(b *testing.B) { benchVerify(b, 10<<20) }

func BenchmarkSign20KB(b *testing.B) {
	p := getPKI(b)
	s := p.signer(b, false, SignOptions{})
	doc := edxmlDoc("", 18<<10)
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if _, err := s.Sign(doc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkXmlsec1Verify10MB(b *testing.B) {
	bin := xmlsec1Path(b)
	p := getPKI(b)
	signed, err := p.signer(b, false, SignOptions{}).Sign(edxmlDoc("", 10<<20))
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	doc := filepath.Join(dir, "signed.xml")
	if err := os.WriteFile(doc, signed, 0o600); err != nil {
		b.Fatal(err)
	}
	root := writeFile(b, dir, "root.pem", certPEM(p.root))
	b.SetBytes(int64(len(signed)))
	b.ResetTimer()
	for b.Loop() {
		if out, err := exec.Command(bin, "--verify", "--trusted-pem", root, doc).CombinedOutput(); err != nil {
			b.Fatalf("xmlsec1: %v\n%s", err, out)
		}
	}
}
