package xmldsig

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The interop matrix: our signatures verify with the real xmlsec1, and
// xmlsec1's signatures verify with ours, for RSA-SHA1 and RSA-SHA256 ×
// exclusive and inclusive C14N, with URI="" and URI="#id", and for a chain
// through an intermediate CA. The tests fail (never skip) without xmlsec1.

type interopCase struct {
	name     string
	alg      Algorithm
	c14n     C14N
	rootID   string
	viaInter bool
}

func interopCases() []interopCase {
	var cases []interopCase
	for _, alg := range []Algorithm{RSASHA256, RSASHA1} {
		for _, c := range []C14N{Exclusive, Inclusive} {
			cases = append(cases, interopCase{name: alg.String() + "/" + c.String(), alg: alg, c14n: c})
		}
	}
	return append(cases,
		interopCase{name: "rsa-sha256/exc-c14n/uri-id", alg: RSASHA256, c14n: Exclusive, rootID: "pkt-2026-125"},
		interopCase{name: "rsa-sha1/c14n/uri-id", alg: RSASHA1, c14n: Inclusive, rootID: "pkt-2026-125"},
		interopCase{name: "rsa-sha256/exc-c14n/intermediate-chain", alg: RSASHA256, c14n: Exclusive, viaInter: true},
		interopCase{name: "rsa-sha1/c14n/intermediate-chain", alg: RSASHA1, c14n: Inclusive, viaInter: true},
	)
}

// idAttrArgs tells xmlsec1 which attribute is an ID (there is no DTD).
func idAttrArgs(rootID string) []string {
	if rootID == "" {
		return nil
	}
	return []string{"--id-attr:Id", edNS + ":edXML"}
}

func runXmlsec1(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(xmlsec1Path(t), args...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestInteropOursVerifiedByXmlsec1(t *testing.T) {
	xmlsec1Path(t)
	p := getPKI(t)
	dir := t.TempDir()
	rootPEM := writeFile(t, dir, "root.pem", certPEM(p.root))
	for _, tc := range interopCases() {
		t.Run(tc.name, func(t *testing.T) {
			s := p.signer(t, tc.viaInter, SignOptions{Algorithm: tc.alg, C14N: tc.c14n})
			signed, err := s.Sign(edxmlDoc(tc.rootID, 2000))
			if err != nil {
				t.Fatal(err)
			}
			f := writeFile(t, t.TempDir(), "signed.xml", signed)
			args := append([]string{"--verify", "--trusted-pem", rootPEM}, idAttrArgs(tc.rootID)...)
			out, err := runXmlsec1(t, append(args, f)...)
			if err != nil || !strings.Contains(out, "\nOK\n") && !strings.HasPrefix(out, "OK\n") {
				t.Fatalf("xmlsec1 --verify refused our signature: %v\n%s\n--- document ---\n%.3000s", err, out, signed)
			}
			if !strings.Contains(out, "SignedInfo References (ok/all): 1/1") {
				t.Fatalf("xmlsec1 did not check the one reference:\n%s", out)
			}
			// And tampering is caught by xmlsec1 too: the check is not vacuous.
			bad := bytes.Replace(signed, []byte("Nguyễn Thị Hồng Nhung"), []byte("Nguyễn Văn Giả Mạo"), 1)
			fb := writeFile(t, t.TempDir(), "bad.xml", bad)
			if out, err := runXmlsec1(t, append(args, fb)...); err == nil {
				t.Fatalf("xmlsec1 accepted a tampered document:\n%s", out)
			}
		})
	}
}

// dsTemplate is the empty Signature xmlsec1 --sign fills in.
func dsTemplate(alg Algorithm, c C14N, uri string) string {
	sm, dm := "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "http://www.w3.org/2001/04/xmlenc#sha256"
	if alg == RSASHA1 {
		sm, dm = "http://www.w3.org/2000/09/xmldsig#rsa-sha1", "http://www.w3.org/2000/09/xmldsig#sha1"
	}
	cm := "http://www.w3.org/2001/10/xml-exc-c14n#"
	if c == Inclusive {
		cm = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
	}
	return fmt.Sprintf(`<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
        <ds:SignedInfo>
          <ds:CanonicalizationMethod Algorithm="%[1]s"/>
          <ds:SignatureMethod Algorithm="%[2]s"/>
          <ds:Reference URI="%[4]s">
            <ds:Transforms>
              <ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
              <ds:Transform Algorithm="%[1]s"/>
            </ds:Transforms>
            <ds:DigestMethod Algorithm="%[3]s"/>
            <ds:DigestValue/>
          </ds:Reference>
        </ds:SignedInfo>
        <ds:SignatureValue/>
        <ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo>
      </ds:Signature>`, cm, sm, dm, uri)
}

// xmlsec1Sign signs doc with xmlsec1, the Signature placed where edXML puts
// it: last child of edXMLHeader (docs/xmldsig.md, placeholders), not as the root's last child.
func xmlsec1Sign(t testing.TB, p *testPKI, dir string, tc interopCase, doc []byte) []byte {
	t.Helper()
	uri := ""
	if tc.rootID != "" {
		uri = "#" + tc.rootID
	}
	tmpl := bytes.Replace(doc, []byte("<!--SIGNATURE-->"), []byte(dsTemplate(tc.alg, tc.c14n, uri)), 1)
	in := writeFile(t, dir, "template.xml", tmpl)
	out := filepath.Join(dir, "signed.xml")
	keyArg := writeFile(t, dir, "leaf.key", keyPEM(t, p.leafKey, false)) + "," + writeFile(t, dir, "leaf.pem", certPEM(p.leaf))
	if tc.viaInter {
		keyArg = writeFile(t, dir, "ileaf.key", keyPEM(t, p.interLeafKey, true)) + "," +
			writeFile(t, dir, "ileaf.pem", certPEM(p.interLeaf)) + "," + writeFile(t, dir, "inter.pem", certPEM(p.inter))
	}
	args := append([]string{"--sign", "--privkey-pem", keyArg}, idAttrArgs(tc.rootID)...)
	args = append(args, "--output", out, in)
	cmd := exec.Command(xmlsec1Path(t), args...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("xmlsec1 --sign: %v\n%s", err, b)
	}
	signed, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func TestInteropXmlsec1VerifiedByOurs(t *testing.T) {
	xmlsec1Path(t)
	p := getPKI(t)
	for _, tc := range interopCases() {
		t.Run(tc.name, func(t *testing.T) {
			signed := xmlsec1Sign(t, p, t.TempDir(), tc, edxmlDoc(tc.rootID, 2000))
			v := p.verifier()
			res, err := v.Verify(signed)
			if err != nil {
				t.Fatalf("our Verify refused xmlsec1's signature: %v\n--- document ---\n%.4000s", err, signed)
			}
			want := p.leaf
			if tc.viaInter {
				want = p.interLeaf
			}
			if !res.Cert.Equal(want) {
				t.Fatalf("signer = %q, want %q", res.Cert.Subject.CommonName, want.Subject.CommonName)
			}
			if !bytes.Contains(res.Signed, []byte("Nguyễn Thị Hồng Nhung")) || bytes.Contains(res.Signed, []byte("SignatureValue")) {
				t.Fatalf("Signed is not the root without its signature:\n%.2000s", res.Signed)
			}
			if (tc.alg == RSASHA1) != hasWarning(res.Warnings, WarnSHA1) {
				t.Fatalf("warnings = %v for %s", res.Warnings, tc.alg)
			}
			bad := bytes.Replace(signed, []byte("Nguyễn Thị Hồng Nhung"), []byte("Nguyễn Văn Giả Mạo"), 1)
			if _, err := v.Verify(bad); CodeOf(err) != CodeTampered {
				t.Fatalf("tampered xmlsec1 document: err = %v, want %s", err, CodeTampered)
			}
		})
	}
}

func hasWarning(ws []Warning, code string) bool {
	for _, w := range ws {
		if w.Code == code {
			return true
		}
	}
	return false
}
