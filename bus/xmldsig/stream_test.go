package xmldsig

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"runtime"
	"strings"
	"testing"

	"github.com/beevik/etree"

	dsig "github.com/russellhaering/goxmldsig"
	"github.com/tuyenquang/lgsp/bus/xmlscan"
)

// streamMethods are the canonicalisations the streamer is proven for, as
// (algorithm URI, PrefixList).
var streamMethods = []struct{ alg, prefixes string }{
	{string(dsig.CanonicalXML10ExclusiveAlgorithmId), ""},
	{string(dsig.CanonicalXML10ExclusiveWithCommentsAlgorithmId), ""},
	{string(dsig.CanonicalXML10RecAlgorithmId), ""},
	{string(dsig.CanonicalXML10WithCommentsAlgorithmId), ""},
	{string(dsig.CanonicalXML11AlgorithmId), ""},
}

// domCanon is what the verify path digests for a reference with the
// enveloped-signature transform and canonicalisation alg: the root without
// its comments and ds:Signature subtrees, through goxmldsig's
// canonicaliser.
func domCanon(t testing.TB, doc []byte, alg, prefixes string) ([]byte, error) {
	t.Helper()
	d, err := parse(doc, xmlscan.Limits{})
	if err != nil {
		return nil, err
	}
	root := d.Root().Copy()
	for _, s := range findSignatures(root).dsig {
		s.Parent().RemoveChild(s)
	}
	stripComments(root)
	var c dsig.Canonicalizer
	switch dsig.AlgorithmID(alg) {
	case dsig.CanonicalXML10ExclusiveAlgorithmId:
		c = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList(prefixes)
	case dsig.CanonicalXML10ExclusiveWithCommentsAlgorithmId:
		c = dsig.MakeC14N10ExclusiveWithCommentsCanonicalizerWithPrefixList(prefixes)
	case dsig.CanonicalXML10RecAlgorithmId:
		c = dsig.MakeC14N10RecCanonicalizer()
	case dsig.CanonicalXML10WithCommentsAlgorithmId:
		c = dsig.MakeC14N10WithCommentsCanonicalizer()
	case dsig.CanonicalXML11AlgorithmId:
		c = dsig.MakeC14N11Canonicalizer()
	default:
		t.Fatalf("no canonicaliser for %s", alg)
	}
	return c.Canonicalize(root)
}

func streamCanonBytes(doc []byte, alg, prefixes string) ([]byte, error) {
	m, ok := streamMethodFor(alg, prefixes)
	if !ok {
		return nil, fmt.Errorf("method %s not handled", alg)
	}
	var b bytes.Buffer
	err := streamCanon(bytes.NewReader(bytes.TrimPrefix(doc, []byte("\xef\xbb\xbf"))), &b, m)
	return b.Bytes(), err
}

// scanCanonBytes is streamCanonBytes through the byte scanner.
func scanCanonBytes(doc []byte, alg, prefixes string) ([]byte, error) {
	m, ok := streamMethodFor(alg, prefixes)
	if !ok {
		return nil, fmt.Errorf("method %s not handled", alg)
	}
	var b bytes.Buffer
	err := scanCanon(bytes.TrimPrefix(doc, []byte("\xef\xbb\xbf")), &b, m)
	return b.Bytes(), err
}

// sameAsStream fails unless the byte scanner refuses what encoding/xml
// refuses and otherwise writes the same bytes (it may refuse more).
func sameAsStream(t *testing.T, doc []byte, alg, prefixes string) {
	t.Helper()
	want, werr := streamCanonBytes(doc, alg, prefixes)
	got, gerr := scanCanonBytes(doc, alg, prefixes)
	switch {
	case werr != nil && gerr == nil:
		t.Fatalf("%s: encoding/xml refused (%v), the scanner wrote %q", alg, werr, got)
	case werr == nil && gerr == nil && !bytes.Equal(got, want):
		t.Fatalf("%s:\nscanner:      %q\nencoding/xml: %q", alg, got, want)
	}
}

// trickyDocs exercise the rendering rules one by one.
var trickyDocs = []string{
	`<a/>`,
	"\n<?pi before?>\n<a  b='1'   a=\"2\"\n>t</a>\n<!-- after -->\n",
	`<a xmlns="urn:d" xmlns:p="urn:p" xmlns:q="urn:q"><p:b q:x="1" y="2"><c xmlns="">text</c><p:d xmlns:p="urn:p"/></p:b></a>`,
	`<a xmlns:p="urn:p"><b xmlns:p="urn:other"><p:c p:x="1"/></b><p:e/></a>`,
	`<p:a xmlns:p="urn:p" xmlns:z="urn:z" xmlns:a="urn:a" a:y="1" z:x="2" b="3" p:c="4"/>`,
	`<a xml:lang="vi" xml:space="preserve" xmlns:xml="http://www.w3.org/XML/1998/namespace"> x </a>`,
	`<a>&lt;&amp;&gt;&quot;&apos;&#13;&#xD;&#9;&#10;<![CDATA[x < y & z ]]> ]]&gt;</a>`,
	`<a b="&lt;&amp;&gt;&quot;&apos;&#9;&#10;&#13;é" c='"'/>`,
	"<a>line1\r\nline2\rline3\n</a>",
	"<a b=\"x\r\ny\">\u00e9\u1ec7\U0001F600</a>",
	`<a><?pi  some data ?><?empty?><!-- c --><b/></a>`,
	`<a xmlns="urn:d"><b xmlns="urn:d"><c xmlns=""><d xmlns=""/></c></b></a>`,
	`<a xmlns=""><b/></a>`,
	`<edXML:a xmlns:edXML="urn:e" xmlns="urn:d" xmlns:p="urn:p"><b><p:c/></b><edXML:d/></edXML:a>`,
	`<a xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><x/><ds:Signature><ds:SignedInfo xmlns:q="urn:q"/><!-- in sig --></ds:Signature><y/></a>`,
	`<a><Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo/></Signature><Signature xmlns="urn:not-dsig">kept</Signature></a>`,
	`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<a Id="root-1"><b ID="x"/></a>`,
	"\xef\xbb\xbf<a>bom</a>",
	`<a xmlns:p="urn:p" xmlns:q="urn:p"><p:b q:c="1" p:d="2"/></a>`,
	`<a xmlns:b="urn:b" xmlns:a="urn:a" a:z="1" b:a="2" z="3" a="4"/>`,
}

// streamCorpus is every document the differential test runs: the tricky
// ones, our signatures under every option, xmlsec1's (the interop matrix)
// and the interop documents before signing.
func streamCorpus(t *testing.T) [][]byte {
	var docs [][]byte
	for _, s := range trickyDocs {
		docs = append(docs, []byte(s))
	}
	p := getPKI(t)
	for _, c := range []C14N{Exclusive, Inclusive, ExclusiveWithComments, InclusiveWithComments} {
		for _, id := range []string{"", "pkt-7"} {
			doc := edxmlDoc(id, 3000)
			doc = bytes.Replace(doc, []byte("<edXML:Subject>"), []byte(docComment+"<edXML:Subject>"), 1)
			signed, err := p.signer(t, false, SignOptions{C14N: c}).Sign(doc)
			if err != nil {
				t.Fatal(err)
			}
			docs = append(docs, doc, signed)
		}
	}
	xmlsec1Path(t)
	for _, tc := range interopCases() {
		docs = append(docs, xmlsec1Sign(t, p, t.TempDir(), tc, interopDoc(tc)))
	}
	return docs
}

// TestStreamCanonMatchesGoxmldsig: for every corpus document and every
// canonicalisation, the streamer writes byte for byte what goxmldsig's
// canonicaliser writes for the DOM the verify path builds; and for every
// signed document the digest of the streamer's output under the
// signature's own method is its DigestValue.
func TestStreamCanonMatchesGoxmldsig(t *testing.T) {
	docs := streamCorpus(t)
	for i, doc := range docs {
		for _, m := range streamMethods {
			sameAsStream(t, doc, m.alg, m.prefixes)
			if _, err := scanCanonBytes(doc, m.alg, m.prefixes); err != nil && !bytes.HasPrefix(doc, []byte("\xef")) && i >= len(trickyDocs) {
				t.Fatalf("doc %d: the scanner refused a signed packet: %v", i, err)
			}
			if attrOrderDiverges(doc) {
				break // see TestInteropXmlsec1C14NDeviations
			}
			want, derr := domCanon(t, doc, m.alg, m.prefixes)
			got, serr := streamCanonBytes(doc, m.alg, m.prefixes)
			if derr != nil {
				if serr == nil {
					t.Fatalf("doc %d, %s %q: DOM path refused (%v), streamer accepted", i, m.alg, m.prefixes, derr)
				}
				continue
			}
			if serr != nil {
				t.Fatalf("doc %d, %s %q: streamer refused: %v", i, m.alg, m.prefixes, serr)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("doc %d, %s %q:\nstream: %.1500s\ngoxmldsig: %.1500s", i, m.alg, m.prefixes, got, want)
			}
		}
		if !bytes.Contains(doc, []byte("DigestValue>")) {
			continue
		}
		d, err := parse(doc, xmlscan.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		sig := findSignatures(d.Root()).dsig[0]
		ref := sig.FindElement("./SignedInfo/Reference")
		alg := ""
		prefixes := ""
		for _, tr := range ref.FindElements("./Transforms/Transform") {
			if a := tr.SelectAttrValue("Algorithm", ""); c14nMethods[a] {
				alg = a
				if in := tr.FindElement("./InclusiveNamespaces"); in != nil {
					prefixes = in.SelectAttrValue("PrefixList", "")
				}
			}
		}
		var h hash.Hash = sha256.New()
		if strings.HasSuffix(ref.FindElement("./DigestMethod").SelectAttrValue("Algorithm", ""), "sha1") {
			h = sha1.New()
		}
		got, err := streamCanonBytes(doc, alg, prefixes)
		if err != nil {
			t.Fatalf("doc %d: %v", i, err)
		}
		h.Write(got)
		wantDV := strings.TrimSpace(ref.FindElement("./DigestValue").Text())
		if gotDV := base64.StdEncoding.EncodeToString(h.Sum(nil)); gotDV != wantDV {
			t.Fatalf("doc %d (%s): streamed digest %s, DigestValue %s", i, alg, gotDV, wantDV)
		}
	}
}

// TestStreamCanonRefuses: what the DOM path refuses, the streamer refuses.
func TestStreamCanonRefuses(t *testing.T) {
	for _, doc := range []string{``, `<a>`, `<a>]]></a>`, `<a>&bogus;</a>`, `<a>&#0;</a>`, `<a b=1/>`, `<?xml version="1.0" encoding="ISO-8859-1"?><a/>`, `<a></b>`, `<a/><b/>`, `<p:a/>`, `<a p:b="1"/>`, `<!DOCTYPE a><a/>`, `text<a/>`, `<a/>text`, `<a b="1" b="2"/>`, `<a xmlns:p="urn:p" xmlns:q="urn:p" p:b="1" q:b="2"/>`, `<a xmlns:p="urn:p" xmlns:p="urn:q"/>`, `<a xmlns:p=""/>`} {
		if _, err := scanCanonBytes([]byte(doc), string(dsig.CanonicalXML10ExclusiveAlgorithmId), ""); !errors.Is(err, errStream) {
			t.Errorf("%q: scanner err = %v, want a refusal", doc, err)
		}
	}
	if _, ok := streamMethodFor("http://www.w3.org/2000/09/xmldsig#base64", ""); ok {
		t.Fatal("base64 transform handled by the streamer")
	}
	if _, ok := streamMethodFor(string(dsig.CanonicalXML10ExclusiveAlgorithmId), "#default edXML"); !ok {
		t.Fatal("an InclusiveNamespaces PrefixList not handled by the streamer")
	}
}

// FuzzStreamCanon: on any input the streamer either refuses or writes
// exactly what goxmldsig writes for the DOM (when the DOM path accepts the
// input too).
//
//	go test -run '^$' -fuzz FuzzStreamCanon -fuzztime 60s ./bus/xmldsig/
func FuzzStreamCanon(f *testing.F) {
	for _, s := range trickyDocs {
		f.Add([]byte(s), uint8(0))
	}
	f.Add(edxmlDoc("x", 100), uint8(3))
	f.Fuzz(func(t *testing.T, doc []byte, mi uint8) {
		m := streamMethods[int(mi)%len(streamMethods)]
		sameAsStream(t, doc, m.alg, m.prefixes)
		want, derr := domCanon(t, doc, m.alg, m.prefixes)
		got, serr := streamCanonBytes(doc, m.alg, m.prefixes)
		if derr != nil || attrOrderDiverges(doc) {
			return // the DOM path refuses, or sorts against the spec
		}
		if serr != nil {
			t.Skip() // the streamer is stricter; the caller falls back
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s %q:\nstream: %q\ngoxmldsig: %q", m.alg, m.prefixes, got, want)
		}
	})
}

// BenchmarkStreamCanon10MB digests a 10 MB signed packet with the
// streamer; its bytes/op is the worst-case memory figure beside
// BenchmarkVerify10MB (the text of the attachment is one token).
func BenchmarkStreamCanon10MB(b *testing.B) {
	p := getPKI(b)
	signed, err := p.signer(b, false, SignOptions{}).Sign(edxmlDoc("", 10<<20))
	if err != nil {
		b.Fatal(err)
	}
	m, _ := streamMethodFor(string(dsig.CanonicalXML10ExclusiveAlgorithmId), "")
	b.SetBytes(int64(len(signed)))
	b.ReportAllocs()
	for b.Loop() {
		if err := streamCanon(bytes.NewReader(signed), sha256.New(), m); err != nil {
			b.Fatal(err)
		}
	}
	runtime.KeepAlive(signed)
}

// attrOrderDiverges reports whether doc declares the xml prefix, or an
// empty default namespace where the default is empty already, or has an element with prefixed
// attributes under two or more prefixes. goxmldsig sorts those by local
// name (and by namespace URI only for equal local names), where C14N sorts
// by namespace URI first; the streamer follows C14N and xmlsec1
// (TestInteropXmlsec1C14NDeviations), so the differential test leaves such
// documents out.
func attrOrderDiverges(doc []byte) bool {
	d, err := parse(doc, xmlscan.Limits{})
	if err != nil {
		return false
	}
	if bytes.Contains(doc, []byte("xmlns:xml=")) {
		return true // goxmldsig's inclusive C14N renders it; C14N does not
	}
	type frame struct {
		e   *etree.Element
		def string // the default namespace in scope at the parent
	}
	stack := []frame{{d.Root(), ""}}
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		e := f.e
		stack = stack[:len(stack)-1]
		def := f.def
		if a := e.SelectAttr("xmlns"); a != nil {
			if a.Value == "" && def == "" {
				return true // goxmldsig's exclusive C14N renders a redundant xmlns=""
			}
			def = a.Value
		}
		prefixes := map[string]bool{}
		for _, a := range e.Attr {
			if a.Space != "" && a.Space != "xmlns" {
				prefixes[a.Space] = true
			}
		}
		if len(prefixes) > 1 {
			return true
		}
		for _, c := range e.ChildElements() {
			stack = append(stack, frame{c, def})
		}
	}
	return false
}

// TestInteropXmlsec1C14NDeviations: where goxmldsig departs from C14N,
// the streamer's digest is the DigestValue xmlsec1 computed, Verify (which
// streams) accepts xmlsec1's valid signature, and the DOM path, which
// Verify keeps for what the streamer does not handle, refuses it: attributes in different
// namespaces sort by namespace URI first (goxmldsig: by local name), the
// xml prefix's declaration is never rendered (goxmldsig's inclusive C14N
// renders it), and exclusive C14N renders no xmlns="" on the apex
// (goxmldsig does).
func TestInteropXmlsec1C14NDeviations(t *testing.T) {
	xmlsec1Path(t)
	p := getPKI(t)
	for _, tc := range []struct {
		c14n      C14N
		doc, want string
	}{
		{Exclusive, `<a xmlns:z="urn:a" xmlns:p="urn:p" xmlns:b="urn:z" z:y="1" b:x="2" c="3" p:w="4"><x b:a="1" z:b="2"/><!--SIGNATURE--></a>`,
			`<a xmlns:b="urn:z" xmlns:p="urn:p" xmlns:z="urn:a" c="3" z:y="1" p:w="4" b:x="2"><x z:b="2" b:a="1"></x></a>`},
		{Inclusive, `<a xmlns:xml="http://www.w3.org/XML/1998/namespace" xml:lang="vi" c="3" z:y="1" p:w="4" b:x="2" xmlns:z="urn:a" xmlns:p="urn:p" xmlns:b="urn:z"><!--SIGNATURE--></a>`,
			`<a xmlns:b="urn:z" xmlns:p="urn:p" xmlns:z="urn:a" c="3" xml:lang="vi" z:y="1" p:w="4" b:x="2"></a>`},
		{Exclusive, `<a xmlns=""><b/><!--SIGNATURE--></a>`, `<a><b></b></a>`},
	} {
		if !attrOrderDiverges([]byte(tc.doc)) {
			t.Fatalf("%s: document does not exercise the divergence", tc.doc)
		}
		signed := xmlsec1Sign(t, p, t.TempDir(), interopCase{alg: RSASHA256, c14n: tc.c14n}, []byte(tc.doc))
		got, err := streamCanonBytes(signed, c14nURI(tc.c14n), "")
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Fatalf("%s: streamed %s, want %s", tc.c14n, got, tc.want)
		}
		sum := sha256.Sum256(got)
		d, err := parse(signed, xmlscan.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		dv := strings.TrimSpace(findSignatures(d.Root()).dsig[0].FindElement("./SignedInfo/Reference/DigestValue").Text())
		if base64.StdEncoding.EncodeToString(sum[:]) != dv {
			t.Fatalf("%s: streamed digest differs from xmlsec1's DigestValue", tc.doc)
		}
		// Verify streams: it follows C14N and accepts xmlsec1's signature.
		res, err := p.verifier().Verify(signed)
		if err != nil {
			t.Fatalf("%s: Verify refuses xmlsec1's valid signature: %v", tc.doc, err)
		}
		if c, _ := res.Signed(); string(c) != tc.want {
			t.Fatalf("%s: Signed is %s, want %s", tc.doc, c, tc.want)
		}
		// The DOM path (what the streamer hands over) still refuses it.
		if _, _, err := p.verifier().checkDOM(trimBOM(signed), Require); CodeOf(err) != CodeTampered {
			t.Fatalf("%s: the DOM path now says %v: if goxmldsig was fixed, drop the divergence from attrOrderDiverges", tc.doc, err)
		}
	}
}

// BenchmarkScanCanon10MB is BenchmarkStreamCanon10MB through the byte
// scanner (DigestDocument).
func BenchmarkScanCanon10MB(b *testing.B) {
	p := getPKI(b)
	signed, err := p.signer(b, false, SignOptions{}).Sign(edxmlDoc("", 10<<20))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(signed)))
	b.ReportAllocs()
	for b.Loop() {
		if err := DigestDocument(signed, string(dsig.CanonicalXML10ExclusiveAlgorithmId), sha256.New()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScanCanonWorstCase: the shapes that make the scanner copy —
// 10 MB of text full of references (decoded into one buffer), one 10 MB
// attribute value, a 10 MB run of CDATA — beside the base64 attachment it
// escapes without a copy. B/op is the memory figure (-benchmem).
func BenchmarkScanCanonWorstCase(b *testing.B) {
	const n = 10 << 20
	shapes := map[string][]byte{
		"base64-text": []byte("<a>" + strings.Repeat("QUJD", n/4) + "</a>"),
		"references":  []byte("<a>" + strings.Repeat("&amp;", n/5) + "</a>"),
		"attribute":   []byte(`<a b="` + strings.Repeat("x", n) + `"/>`),
		"cdata":       []byte("<a><![CDATA[" + strings.Repeat("x<", n/2) + "]]></a>"),
	}
	for _, name := range []string{"base64-text", "references", "attribute", "cdata"} {
		doc := shapes[name]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				if err := DigestDocument(doc, string(dsig.CanonicalXML10ExclusiveAlgorithmId), sha256.New()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
