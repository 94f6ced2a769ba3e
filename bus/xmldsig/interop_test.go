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
// through an intermediate CA; and, over documents holding a comment, for
// the #WithComments canonicalizations, which over URI="" and URI="#id"
// digest no comment (XML-DSig 1.0 §4.3.3.3). The tests fail (never skip)
// without xmlsec1.

type interopCase struct {
	name     string
	alg      Algorithm
	c14n     C14N
	rootID   string
	viaInter bool
	comment  bool   // the document holds a comment the signature must not cover
	uri      string // Reference URI for xmlsec1 to sign, when not "" or "#rootID"
}

// docComment is the comment the comment cases put into the document, and
// editedComment what a later hand changes it to: neither tool may care.
const (
	docComment    = "<!-- ghi chú: bản chính lưu tại văn thư -->"
	editedComment = "<!-- ghi chú: đã sửa sau khi ký -->"
)

// interopDoc is the document a case signs.
func interopDoc(tc interopCase) []byte {
	doc := edxmlDoc(tc.rootID, 2000)
	if tc.comment {
		doc = bytes.Replace(doc, []byte("<edXML:Subject>"), []byte(docComment+"<edXML:Subject>"), 1)
	}
	return doc
}

// c14nURI is the algorithm URI of c.
func c14nURI(c C14N) string {
	switch c {
	case Inclusive:
		return "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
	case ExclusiveWithComments:
		return "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"
	case InclusiveWithComments:
		return "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"
	}
	return "http://www.w3.org/2001/10/xml-exc-c14n#"
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
		// URI="" and URI="#id" exclude comments whatever the canonicalization.
		interopCase{name: "rsa-sha256/exc-c14n#WithComments/uri-empty/comment", alg: RSASHA256, c14n: ExclusiveWithComments, comment: true},
		interopCase{name: "rsa-sha256/c14n#WithComments/uri-empty/comment", alg: RSASHA256, c14n: InclusiveWithComments, comment: true},
		interopCase{name: "rsa-sha256/exc-c14n#WithComments/uri-id/comment", alg: RSASHA256, c14n: ExclusiveWithComments, rootID: "pkt-2026-125", comment: true},
		interopCase{name: "rsa-sha1/c14n#WithComments/uri-id/comment", alg: RSASHA1, c14n: InclusiveWithComments, rootID: "pkt-2026-125", comment: true},
		interopCase{name: "rsa-sha256/exc-c14n/uri-empty/comment", alg: RSASHA256, c14n: Exclusive, comment: true},
		interopCase{name: "rsa-sha256/c14n/uri-id/comment", alg: RSASHA256, c14n: Inclusive, rootID: "pkt-2026-125", comment: true},
	)
}

// editComment changes the comment of a comment case: the signature does not
// cover it, so the edited document must still verify.
func editComment(t testing.TB, signed []byte) []byte {
	t.Helper()
	if !bytes.Contains(signed, []byte(docComment)) {
		t.Fatalf("the signed document lost its comment:\n%.3000s", signed)
	}
	return bytes.Replace(signed, []byte(docComment), []byte(editedComment), 1)
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
			signed, err := s.Sign(interopDoc(tc))
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
			if !strings.Contains(string(signed), `Algorithm="`+c14nURI(tc.c14n)+`"`) {
				t.Fatalf("signature does not name %s", c14nURI(tc.c14n))
			}
			if tc.comment {
				fc := writeFile(t, t.TempDir(), "comment.xml", editComment(t, signed))
				if out, err := runXmlsec1(t, append(args, fc)...); err != nil {
					t.Fatalf("xmlsec1 refused our signature after a comment changed: %v\n%s", err, out)
				}
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
	cm := c14nURI(c)
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
	if tc.uri != "" {
		uri = tc.uri
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
			signed := xmlsec1Sign(t, p, t.TempDir(), tc, interopDoc(tc))
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
			if !bytes.Contains(signedOf(t, res), []byte("Nguyễn Thị Hồng Nhung")) || bytes.Contains(signedOf(t, res), []byte("SignatureValue")) {
				t.Fatalf("Signed is not the root without its signature:\n%.2000s", signedOf(t, res))
			}
			if res.C14NMethod != c14nURI(tc.c14n) {
				t.Fatalf("C14NMethod = %s, want %s", res.C14NMethod, c14nURI(tc.c14n))
			}
			if tc.comment {
				if bytes.Contains(signedOf(t, res), []byte("<!--")) {
					t.Fatalf("Signed carries a comment the signature does not cover:\n%.2000s", signedOf(t, res))
				}
				if _, err := v.Verify(editComment(t, signed)); err != nil {
					t.Fatalf("Verify refused xmlsec1's signature after a comment changed: %v", err)
				}
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

// TestInteropXpointerRefused: URI="#xpointer(/)" keeps comments under a
// #WithComments canonicalization, unlike URI="". We do not dereference
// XPointer, so such a signature, which xmlsec1 makes and accepts, is
// refused as xmldsig.algorithm, never misreported as tampered.
func TestInteropXpointerRefused(t *testing.T) {
	p := getPKI(t)
	tc := interopCase{alg: RSASHA256, c14n: ExclusiveWithComments, comment: true, uri: "#xpointer(/)"}
	dir := t.TempDir()
	signed := xmlsec1Sign(t, p, dir, tc, interopDoc(tc))
	rootPEM := writeFile(t, dir, "root.pem", certPEM(p.root))
	f := writeFile(t, dir, "xp.xml", signed)
	if out, err := runXmlsec1(t, "--verify", "--trusted-pem", rootPEM, f); err != nil {
		t.Fatalf("xmlsec1 refused its own #xpointer(/) signature: %v\n%s", err, out)
	}
	// xmlsec1 covers the comment here: editing it breaks its signature.
	fc := writeFile(t, dir, "xp-edited.xml", editComment(t, signed))
	if out, err := runXmlsec1(t, "--verify", "--trusted-pem", rootPEM, fc); err == nil {
		t.Fatalf("xmlsec1 ignored an edited comment under #xpointer(/):\n%s", out)
	}
	if _, err := p.verifier().Verify(signed); CodeOf(err) != CodeAlgorithm {
		t.Fatalf("Verify(#xpointer(/)) = %v, want %s", err, CodeAlgorithm)
	}
}

// TestInteropSignKeepsCharacterReferences: what we sign keeps verifying
// after a parser reads it back, in xmlsec1 and in ours, when the document
// holds characters a parser would otherwise normalize: CR in text, TAB, LF
// and CR in attribute values (given as character references), a literal
// CRLF, and the other escapes.
func TestInteropSignKeepsCharacterReferences(t *testing.T) {
	p := getPKI(t)
	dir := t.TempDir()
	rootPEM := writeFile(t, dir, "root.pem", certPEM(p.root))
	s := p.signer(t, false, SignOptions{})
	for name, doc := range map[string]string{
		"text CR":        `<r xmlns="urn:x"><t>dòng 1&#13;dòng 2</t></r>`,
		"attribute TAB":  `<r xmlns="urn:x" a="cột&#9;1">t</r>`,
		"attribute LF":   `<r xmlns="urn:x" a="dòng&#10;2">t</r>`,
		"attribute CR":   `<r xmlns="urn:x" a="dòng&#13;2">t</r>`,
		"UTF-8 BOM":      "\xef\xbb\xbf<?xml version='1.0' encoding='utf-8'?>\n<r xmlns=\"urn:x\">t</r>",
		"CRLF and marks": "<r xmlns=\"urn:x\" q='\"&apos;'>\r\n<t>a &gt; b &amp; c &#233; '\"</t><c><![CDATA[x < y]]></c>\r\n</r>",
	} {
		t.Run(name, func(t *testing.T) {
			signed, err := s.Sign([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.verifier().Verify(signed); err != nil {
				t.Fatalf("our Verify refused our signature: %v\n%s", err, signed)
			}
			f := writeFile(t, t.TempDir(), "signed.xml", signed)
			if out, err := runXmlsec1(t, "--verify", "--trusted-pem", rootPEM, f); err != nil {
				t.Fatalf("xmlsec1 refused our signature: %v\n%s\n--- document ---\n%s", err, out, signed)
			}
		})
	}
}

// TestInteropXmlsec1SignedWithBOM: a document saved with a UTF-8 byte order
// mark and signed by xmlsec1 verifies with ours.
func TestInteropXmlsec1SignedWithBOM(t *testing.T) {
	p := getPKI(t)
	tc := interopCase{alg: RSASHA256, c14n: Exclusive}
	doc := append([]byte("\xef\xbb\xbf"), interopDoc(tc)...)
	signed := xmlsec1Sign(t, p, t.TempDir(), tc, doc)
	res, err := p.verifier().Verify(append([]byte("\xef\xbb\xbf"), bytes.TrimPrefix(signed, []byte("\xef\xbb\xbf"))...))
	if err != nil {
		t.Fatalf("Verify refused a signed document with a BOM: %v", err)
	}
	if !bytes.Contains(signedOf(t, res), []byte("Nguyễn Thị Hồng Nhung")) {
		t.Fatalf("Signed lacks the content:\n%.1000s", signedOf(t, res))
	}
}
