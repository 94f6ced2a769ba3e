package xmldsig

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	gopkcs12 "software.sslmate.com/src/go-pkcs12"
	"testing"
)

// staticSigValue is the SignatureValue every VPCP SDK sample carries.
const staticSigValue = "GbVb8n9+qFxz466Ag0sbpVdLPs2R0+9JBekp12UyarAZjoG0W/kPZZJ1auRZDcNcrSwzgkQMpqrjwxcy3ejzbY/ON5USUPgoYNYM8p4wsgQpEAeQaZ+EWLkkEBxYjb+iWEiAjYuJI7gtJoOyENcOK4fO050SXp2ctOc32LJMA5eEI6Hw7sxhc2LAgcPiynJHdDW2Z+eut6QZiUsbIF9+S3T6u/tfLImw39dgSlCxupwLPHepxuiLOqyd08HeJGCZufg9WqRBVyLFM76uCIaPRP5wwAdx72GVjPcG2kh+2jjrt7fqtJOufJzCObtQgPgBqIvDiZCGoOM41OQMiqtF3w=="

// placeholderSig builds the placeholder Signature blocks of real traffic
// (docs/xmldsig.md): xmlns is "" (no own namespace, so in edXML's) or the
// XML-DSig one.
func placeholderSig(xmlns, sigValue, cert string) string {
	ns := ""
	if xmlns != "" {
		ns = ` xmlns="` + xmlns + `"`
	}
	return `<Signature` + ns + `>
        <SignedInfo>
          <CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315" />
          <SignatureMethod Algorithm="http://www.w3.org/2000/09/xmldsig#rsa-sha1" />
          <Reference URI="">
            <Transforms>
              <Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature" />
              <Transform Algorithm="http://www.w3.org/TR/xml-exc-c14n#" />
            </Transforms>
            <DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1" />
            <DigestValue>FwgIqsSYJshUS2+wlOM61L+q7Aw=</DigestValue>
          </Reference>
        </SignedInfo>
        <SignatureValue>` + sigValue + `</SignatureValue>
        <KeyInfo>
          <X509Data>
            <X509SubjectName>CN=user05</X509SubjectName>
            <X509Certificate>` + cert + `</X509Certificate>
          </X509Data>
        </KeyInfo>
      </Signature>`
}

func withSig(sig string) []byte {
	return bytes.Replace(edxmlDoc("", 100), []byte("<!--SIGNATURE-->"), []byte(sig), 1)
}

func TestCheckPolicies(t *testing.T) {
	p := getPKI(t)
	const dsNS = "http://www.w3.org/2000/09/xmldsig#"
	signed := mustSign(t, edxmlDoc("", 100), SignOptions{})
	docs := map[string][]byte{
		"valid":                                signed,
		"tampered":                             bytes.Replace(signed, []byte("Công văn</"), []byte("Quyết định</"), 1),
		"unsigned":                             edxmlDoc("", 100),
		"placeholder: edXML namespace (SDK)":   withSig(placeholderSig("", staticSigValue, "MIIFqTCCBJG")),
		"placeholder: static value, real cert": withSig(placeholderSig(dsNS, staticSigValue, certB64(p.leaf))),
		"placeholder: empty SignatureValue":    withSig(placeholderSig(dsNS, "", certB64(p.leaf))),
		"placeholder: truncated cert":          withSig(placeholderSig(dsNS, "AAAA", "MIIFqTCCBJG")),
		"placeholder: unfilled template":       bytes.Replace(edxmlDoc("", 100), []byte("<!--SIGNATURE-->"), []byte(dsTemplate(RSASHA256, Exclusive, "")), 1),
	}
	type want struct {
		code   string // error code, "" for none
		warn   string // warning code, "" for none
		result bool
	}
	cases := []struct {
		doc string
		pol map[Policy]want
	}{
		{"valid", map[Policy]want{Require: {result: true}, VerifyIfPresent: {result: true}, Ignore: {}}},
		{"tampered", map[Policy]want{Require: {code: CodeTampered}, VerifyIfPresent: {code: CodeTampered}, Ignore: {}}},
		{"unsigned", map[Policy]want{Require: {code: CodeNoSignature}, VerifyIfPresent: {}, Ignore: {}}},
	}
	for name := range docs {
		if len(name) > 11 && name[:11] == "placeholder" {
			cases = append(cases, struct {
				doc string
				pol map[Policy]want
			}{name, map[Policy]want{Require: {code: CodePlaceholder}, VerifyIfPresent: {warn: CodePlaceholder}, Ignore: {warn: CodePlaceholder}}})
		}
	}
	for _, tc := range cases {
		for _, pol := range []Policy{Require, VerifyIfPresent, Ignore} {
			t.Run(tc.doc+"/"+pol.String(), func(t *testing.T) {
				w := tc.pol[pol]
				res, warns, err := p.verifier().Check(docs[tc.doc], pol)
				if CodeOf(err) != w.code {
					t.Fatalf("err = %v, want code %q", err, w.code)
				}
				if (res != nil) != w.result {
					t.Fatalf("result = %v, want %v", res != nil, w.result)
				}
				if got := hasWarning(warns, w.warn); w.warn != "" && !got || w.warn == "" && len(warns) > 0 {
					t.Fatalf("warnings = %v, want %q", warns, w.warn)
				}
			})
		}
	}
}

func TestParsePolicy(t *testing.T) {
	for _, pol := range []Policy{Require, VerifyIfPresent, Ignore} {
		if got, err := ParsePolicy(pol.String()); err != nil || got != pol {
			t.Fatalf("ParsePolicy(%q) = %v, %v", pol, got, err)
		}
	}
	if _, err := ParsePolicy("maybe"); err == nil {
		t.Fatal("ParsePolicy accepted an unknown name")
	}
	// An unknown Policy value fails closed, like Require.
	if _, _, err := getPKI(t).verifier().Check(edxmlDoc("", 10), Policy(42)); CodeOf(err) != CodeNoSignature {
		t.Fatalf("unknown policy: err = %v", err)
	}
}

func TestLoadSigner(t *testing.T) {
	p := getPKI(t)
	dir := t.TempDir()
	w := func(name string, data []byte) string { return writeFile(t, dir, name, data) }
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, _ := x509.MarshalECPrivateKey(ecKey)
	pfx, _ := asn1.Marshal(struct {
		Version  int
		AuthSafe struct {
			Type asn1.ObjectIdentifier
		}
	}{Version: 3, AuthSafe: struct{ Type asn1.ObjectIdentifier }{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}}})
	leafPEM := w("leaf.pem", certPEM(p.leaf))
	cases := []struct {
		name      string
		key, cert string
		want      string
	}{
		{"PKCS#1 key + cert", w("k1.pem", keyPEM(t, p.leafKey, false)), leafPEM, ""},
		{"PKCS#8 key + cert", w("k8.pem", keyPEM(t, p.leafKey, true)), leafPEM, ""},
		{"openssl pkcs12 -nodes bundle, same path twice", w("bundle.pem", append(append([]byte("Bag Attributes\n    localKeyID: 01\n"), certPEM(p.interLeaf, p.inter)...), keyPEM(t, p.interLeafKey, true)...)), "", ""},
		{".p12 file that is not PKCS#12", w("signer.p12", []byte("whatever")), "", CodeKey},
		{".pfx file that is not PKCS#12", w("signer.PFX", []byte("whatever")), "", CodeKey},
		{"broken PKCS#12 content under another name", w("signer.key", pfx), leafPEM, CodeKey},
		{"PKCS#12 from openssl, chain inside", opensslP12(t, dir, p, "bí-mật"), "", ""},
		{"PKCS#12 (modern AES) from go-pkcs12", goP12(t, dir, p, "bí-mật"), "", ""},
		{"key does not match cert", w("k2.pem", keyPEM(t, p.evilKey, false)), leafPEM, CodeKey},
		{"encrypted key", w("enc.pem", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}})), leafPEM, CodeKey},
		{"EC key", w("ec.pem", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})), leafPEM, CodeAlgorithm},
		{"no key", leafPEM, leafPEM, CodeKey},
		{"missing file", filepath.Join(dir, "nope.pem"), leafPEM, CodeKey},
		{"not PEM", w("junk.pem", []byte("hello")), leafPEM, CodeKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := LoadSigner(tc.key, tc.cert, SignOptions{Password: "bí-mật"})
			if CodeOf(err) != tc.want {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if err != nil {
				return
			}
			signed, err := s.Sign(edxmlDoc("", 10))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.verifier().Verify(signed); err != nil {
				t.Fatalf("verify: %v", err)
			}
		})
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
}

func TestSignRefusals(t *testing.T) {
	p := getPKI(t)
	s := p.signer(t, false, SignOptions{})
	signed := mustSign(t, edxmlDoc("", 10), SignOptions{})
	cases := []struct {
		name string
		doc  []byte
		want string
	}{
		{"already signed", signed, CodeMalformed},
		{"DTD", []byte(`<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`), CodeDTD},
		{"not XML", []byte("nope"), CodeMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.Sign(tc.doc); CodeOf(err) != tc.want {
				t.Fatalf("err = %v, want %s", err, tc.want)
			}
		})
	}
	if _, err := NewSigner(p.leafKey, nil, SignOptions{Algorithm: 7}); CodeOf(err) != CodeAlgorithm {
		t.Fatalf("unknown algorithm: %v", err)
	}
}

// opensslP12 writes a PKCS#12 file made by the real openssl (the way CAs
// and administrators produce them): the intermediate-issued leaf, its key
// and the intermediate.
func opensslP12(t *testing.T, dir string, p *testPKI, password string) string {
	t.Helper()
	key := filepath.Join(dir, "p12key.pem")
	leaf := filepath.Join(dir, "p12leaf.pem")
	inter := filepath.Join(dir, "p12inter.pem")
	out := filepath.Join(dir, "openssl.p12")
	os.WriteFile(key, keyPEM(t, p.interLeafKey, true), 0o600)
	os.WriteFile(leaf, certPEM(p.interLeaf), 0o600)
	os.WriteFile(inter, certPEM(p.inter), 0o600)
	if b, err := exec.Command("openssl", "pkcs12", "-export", "-inkey", key, "-in", leaf, "-certfile", inter, "-passout", "pass:"+password, "-out", out).CombinedOutput(); err != nil {
		t.Fatalf("openssl pkcs12 -export: %v\n%s", err, b)
	}
	return out
}

// goP12 writes a PKCS#12 file with go-pkcs12's modern (AES-256, PBKDF2) encoder.
func goP12(t *testing.T, dir string, p *testPKI, password string) string {
	t.Helper()
	der, err := gopkcs12.Modern.Encode(p.leafKey, p.leaf, nil, password)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "modern.pfx")
	if err := os.WriteFile(out, der, 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}
