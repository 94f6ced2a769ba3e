package xmldsig

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// warnCodes lists the codes of ws.
func warnCodes(ws []Warning) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Code)
	}
	return out
}

// knownDivergence says why the streaming Verify may answer doc otherwise
// than the DOM path, or "" when it must not: where goxmldsig departs from
// C14N (attribute order across namespaces, xmlns:xml, xmlns="" in
// exclusive C14N, xml:* inheritance of SignedInfo, InclusiveNamespaces
// PrefixList) the streamer follows
// C14N and xmlsec1, and goxmldsig's limit of about 1,000 elements does
// not apply to it.
func knownDivergence(doc []byte, domErr error) string {
	switch {
	case CodeOf(domErr) == CodeTooComplex:
		return "goxmldsig's element limit"
	case attrOrderDiverges(doc):
		return "goxmldsig's C14N deviations"
	case bytes.Contains(doc, []byte("xml:")) && CodeOf(domErr) == CodeTampered:
		return "xml:* attributes inherited by SignedInfo"
	case bytes.Contains(doc, []byte("InclusiveNamespaces")) && CodeOf(domErr) == CodeTampered:
		return "goxmldsig renders a PrefixList prefix only where it is visibly used"
	}
	return ""
}

// sameVerdict checks that Check (streaming) and the DOM path give doc the
// same verdict under every policy: both verified with the same signer and
// warnings, or both refused with the same code.
func sameVerdict(t *testing.T, v *Verifier, doc []byte) {
	t.Helper()
	for _, pol := range []Policy{Require, VerifyIfPresent, Ignore} {
		res, warns, err := v.Check(doc, pol)
		d := trimBOM(doc)
		if int64(len(doc)) > v.maxBytes() || precheck(d, v.Limits) != nil {
			continue // refused before either path
		}
		dres, dwarns, derr := v.checkDOM(d, pol)
		same := CodeOf(err) == CodeOf(derr) && (res == nil) == (dres == nil) &&
			slices.Equal(warnCodes(warns), warnCodes(dwarns))
		if same && res != nil && !res.Cert.Equal(dres.Cert) {
			same = false
		}
		if same {
			if res != nil {
				if _, err := res.Signed(); err != nil {
					t.Fatalf("%s: Signed after Verify: %v", pol, err)
				}
			}
			continue
		}
		if why := knownDivergence(doc, derr); why != "" {
			continue
		}
		t.Fatalf("%s: streaming says %v (verified %v, warnings %v), DOM says %v (verified %v, warnings %v)\n%.3000s",
			pol, err, res != nil, warnCodes(warns), derr, dres != nil, warnCodes(dwarns), doc)
	}
}

// verdictCorpus is the differential corpus: signed packets under every
// option, mutated in the ways that matter (tampered content, signature
// value, digest, references, wrapping attacks, placeholders, a second
// signature, comments, a BOM) and the streaming corpus.
func verdictCorpus(t *testing.T) [][]byte {
	var docs [][]byte
	for _, opts := range []SignOptions{{}, {C14N: Inclusive}, {Algorithm: RSASHA1, C14N: ExclusiveWithComments}, {C14N: InclusiveWithComments}} {
		for _, id := range []string{"", "pkt-1"} {
			signed := mustSign(t, edxmlDoc(id, 500), opts)
			docs = append(docs, signed,
				bytes.Replace(signed, []byte("Công văn</"), []byte("Quyết định</"), 1),
				tamperSigValue(t, signed),
				append([]byte("\xef\xbb\xbf"), signed...),
				bytes.Replace(signed, []byte("<edXML:Subject>"), []byte(docComment+"<edXML:Subject>"), 1),
				bytes.Replace(signed, []byte("DigestValue>"), []byte("DigestValue>AAAA"), 1),
			)
			if id != "" {
				docs = append(docs, setURI(t, signed, "#other"), setURI(t, signed, ""),
					bytes.Replace(signed, []byte("<edXML:Subject>"), []byte(`<edXML:Subject Id="pkt-1">`), 1))
			}
		}
	}
	for _, kind := range []string{"original nested under evil root with same Id", "original nested, evil root with another Id",
		"original moved into ds:Object, signature on evil root", "signature copied onto evil document", "second signature by attacker"} {
		docs = append(docs, wrapAttack(t, mustSign(t, edxmlDoc("pkt-1", 500), SignOptions{}), kind))
		docs = append(docs, wrapAttack(t, mustSign(t, edxmlDoc("", 500), SignOptions{}), kind))
	}
	docs = append(docs, withSig(placeholderSig("", staticSigValue, "MIIFqTCCBJG")), edxmlDoc("", 100))
	return append(docs, streamCorpus(t)...)
}

// TestVerifyStreamMatchesDOM: on every document of the corpus, the
// streaming Verify and the DOM path give the same verdict, or differ only
// where goxmldsig departs from C14N or stops at its element limit.
func TestVerifyStreamMatchesDOM(t *testing.T) {
	p := getPKI(t)
	for _, doc := range verdictCorpus(t) {
		sameVerdict(t, p.verifier(), doc)
	}
}

// FuzzVerifyStreamVsDOM: the same on arbitrary mutations of signed
// packets.
//
//	go test -run '^$' -fuzz FuzzVerifyStreamVsDOM -fuzztime 60s -fuzzminimizetime 2s ./bus/xmldsig/
func FuzzVerifyStreamVsDOM(f *testing.F) {
	p := getPKI(f)
	for _, opts := range []SignOptions{{}, {Algorithm: RSASHA1, C14N: Inclusive}} {
		for _, id := range []string{"", "pkt-1"} {
			signed, err := p.signer(f, false, opts).Sign(edxmlDoc(id, 200))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(signed)
		}
	}
	f.Add(withSig(placeholderSig("", staticSigValue, "MIIFqTCCBJG")))
	now := time.Now()
	v := &Verifier{Roots: pool(p.root), Now: func() time.Time { return now }, MaxBytes: 1 << 20}
	f.Fuzz(func(t *testing.T, doc []byte) {
		sameVerdict(t, v, doc)
	})
}

// TestVerifyStreamFallsBack: what the streamer does not handle goes to
// the DOM path, which decides as before: a Reference without a
// canonicalisation transform, one holding anything but exclusive C14N's
// InclusiveNamespaces, names the byte scanner does not read (non-ASCII), a
// signature that is the root element.
func TestVerifyStreamFallsBack(t *testing.T) {
	p := getPKI(t)
	v := p.verifier()
	signed := mustSign(t, edxmlDoc("", 500), SignOptions{})
	noC14N := bytes.Replace(signed, []byte(`<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"></ds:Transform>`), nil, 1)
	noC14N = bytes.Replace(noC14N, []byte(`<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>`), nil, 1)
	prefixList := bytes.Replace(signed, []byte(`<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"`),
		[]byte(`<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"><ec:Other xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="edXML"/></ds:Transform><ds:Transform Algorithm="urn:drop"`), 1)
	prefixList = bytes.Replace(prefixList, []byte(`<ds:Transform Algorithm="urn:drop"></ds:Transform>`), nil, 1)
	prefixList = bytes.Replace(prefixList, []byte(`<ds:Transform Algorithm="urn:drop"/>`), nil, 1)
	nonASCII := mustSign(t, bytes.Replace(edxmlDoc("", 500), []byte("<edXML:Subject>"), []byte("<Tên>x</Tên><edXML:Subject>"), 1), SignOptions{})
	for _, tc := range []struct {
		name string
		doc  []byte
		ok   bool // the DOM path verifies it
	}{
		{"no canonicalisation transform", noC14N, false},
		{"canonicalisation transform holding another element", prefixList, false},
		{"non-ASCII element name", nonASCII, true},
		{"signature as root", []byte(`<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo/><ds:SignatureValue>x</ds:SignatureValue></ds:Signature>`), false},
	} {
		if bytes.Equal(tc.doc, signed) {
			t.Fatalf("%s: the mutation did not apply", tc.name)
		}
		if _, _, err := v.checkStream(tc.doc, Require); !errors.Is(err, errFallback) {
			t.Fatalf("%s: the streaming path did not hand over: %v", tc.name, err)
		}
		res, err := v.Verify(tc.doc)
		if (err == nil) != tc.ok {
			t.Fatalf("%s: Verify says %v, want verified %v", tc.name, err, tc.ok)
		}
		if _, _, derr := v.checkDOM(tc.doc, Require); CodeOf(derr) != CodeOf(err) {
			t.Fatalf("%s: Verify says %v, the DOM path %v", tc.name, err, derr)
		}
		if res != nil {
			if s := signedOf(t, res); !strings.Contains(string(s), "Tên") {
				t.Fatalf("%s: Signed lacks the content: %.300s", tc.name, s)
			}
		}
	}
}

// TestSignedRefusesChangedDocument: Signed writes the covered content
// again from the document; a document changed after Verify (the caller
// owns the slice) yields xmldsig.tampered, never other content.
func TestSignedRefusesChangedDocument(t *testing.T) {
	p := getPKI(t)
	doc := mustSign(t, edxmlDoc("", 500), SignOptions{})
	res, err := p.verifier().Verify(doc)
	if err != nil {
		t.Fatal(err)
	}
	s := signedOf(t, res)
	if !bytes.Contains(s, []byte("Công văn")) || bytes.Contains(s, []byte("Signature")) {
		t.Fatalf("Signed: %.500s", s)
	}
	i := bytes.Index(doc, []byte("Công văn"))
	copy(doc[i:], "Quyết")
	if _, err := res.Signed(); CodeOf(err) != CodeTampered {
		t.Fatalf("Signed of a changed document: %v", err)
	}
}

// naiveCheckChars is checkChars byte by byte, as it was before the
// word-at-a-time loop.
func naiveCheckChars(b []byte) bool {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 || r == 0xFFFE || r == 0xFFFF || r < 0x20 && r != '\t' && r != '\n' && r != '\r' {
			return false
		}
		b = b[n:]
	}
	return true
}

// FuzzCheckChars: the word-at-a-time checkChars agrees with the byte loop.
func FuzzCheckChars(f *testing.F) {
	for _, s := range []string{"", "JVBERi0xLjcKJeLjz9MK\n", "abcdefgh\x01", "abcdefg\x1f", " !\"#$%&'()*+,-./", "\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x00",
		"Nguyễn Thị", "\xef\xbf\xbe", "\xef\xbf\xbd", "\xed\xa0\x80", "abcdefg\xc3", "\t\n\r        \x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := checkChars(b) == nil, naiveCheckChars(b); got != want {
			t.Fatalf("checkChars(%q) ok=%v, want %v", b, got, want)
		}
	})
}

// TestReadLimitedHoldsOnce: a reader that knows its size (a file, a bytes
// reader) is read into one buffer of that size, not grown by doubling; a
// file over the limit is refused without reading it; and VerifyReader of
// a file verifies.
func TestReadLimitedHoldsOnce(t *testing.T) {
	signed := mustSign(t, edxmlDoc("", 300<<10), SignOptions{})
	file := filepath.Join(t.TempDir(), "signed.xml")
	if err := os.WriteFile(file, signed, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for name, r := range map[string]io.Reader{"bytes.Reader": bytes.NewReader(signed), "file": f} {
		b, err := readLimited(r, 1<<30)
		if err != nil || !bytes.Equal(b, signed) {
			t.Fatalf("%s: %v", name, err)
		}
		if cap(b) > len(signed)+bytes.MinRead {
			t.Fatalf("%s: buffer of %d bytes for %d", name, cap(b), len(signed))
		}
	}
	if _, err := readLimited(bytes.NewReader(signed), int64(len(signed)-1)); CodeOf(err) != CodeTooLarge {
		t.Fatalf("over the limit: %v", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if _, err := getPKI(t).verifier().VerifyReader(f); err != nil {
		t.Fatalf("VerifyReader of a file: %v", err)
	}
}

// TestInteropXmlsec1PrefixList: exclusive C14N with an InclusiveNamespaces
// PrefixList, signed by xmlsec1: the listed prefixes are rendered where
// they are declared (also when only a QName in a value uses them, which
// is what the list is for), not again where an output ancestor rendered
// the same binding; Verify streams it and accepts xmlsec1's signature,
// and Signed carries the listed declarations.
func TestInteropXmlsec1PrefixList(t *testing.T) {
	xmlsec1Path(t)
	p := getPKI(t)
	for _, tc := range []struct{ list, doc, want string }{
		{"q #default",
			`<a xmlns="urn:d" xmlns:q="urn:q" xmlns:r="urn:r"><b type="q:T">x</b><c xmlns:q="urn:q"><d xmlns:q="urn:q2" v="q:U"/></c><e xmlns="">y</e><!--SIGNATURE--></a>`,
			`<a xmlns="urn:d" xmlns:q="urn:q"><b type="q:T">x</b><c><d xmlns:q="urn:q2" v="q:U"></d></c><e xmlns="">y</e></a>`},
		{"edXML", string(bytes.Replace(edxmlDoc("", 2000), []byte("<edXML:Subject>"), []byte(`<edXML:Subject xmlns:edXML="http://www.mic.gov.vn/TBT/QCVN_102_2016">`), 1)), ""},
	} {
		tmpl := strings.Replace(dsTemplate(RSASHA256, Exclusive, ""),
			`<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>`,
			`<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"><ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="`+tc.list+`"/></ds:Transform>`, 1)
		if !strings.Contains(tmpl, "PrefixList") {
			t.Fatal("template not changed")
		}
		doc := strings.Replace(tc.doc, "<!--SIGNATURE-->", tmpl, 1)
		signed := xmlsec1Sign(t, p, t.TempDir(), interopCase{alg: RSASHA256, c14n: Exclusive}, []byte(doc))
		if !bytes.Contains(signed, []byte("PrefixList")) {
			t.Fatalf("xmlsec1 dropped the PrefixList:\n%.2000s", signed)
		}
		v := p.verifier()
		if _, _, err := v.checkStream(trimBOM(signed), Require); errors.Is(err, errFallback) {
			t.Fatalf("%s: handed to the DOM path", tc.list)
		}
		res, err := v.Verify(signed)
		if err != nil {
			t.Fatalf("%s: Verify refuses xmlsec1's signature: %v\n%.3000s", tc.list, err, signed)
		}
		if got := signedOf(t, res); tc.want != "" && string(got) != tc.want {
			t.Fatalf("%s: Signed is\n%s\nwant\n%s", tc.list, got, tc.want)
		}
		if _, err := v.Verify(bytes.Replace(signed, []byte(">x<"), []byte(">z<"), 1)); tc.want != "" && CodeOf(err) != CodeTampered {
			t.Fatalf("%s: tampered content: %v", tc.list, err)
		}
	}
}
