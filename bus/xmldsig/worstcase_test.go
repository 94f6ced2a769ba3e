package xmldsig

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/tuyenquang/lgsp/bus/edxml/edxmltest"
	"github.com/tuyenquang/lgsp/bus/xmlscan"
)

// Worst cases for Verify: signed documents just below DefaultMaxBytes. A
// document of empty elements (the shape that cost 2.24 GB for 31 MB before
// the pre-scan) is refused by the pre-scan; the accepted shapes are as many
// elements as the limits allow plus text, long attribute values, and the
// real shape (a base64 attachment).

const worstDocSize = DefaultMaxBytes - 1<<20

// insertIntoHeader puts extra right after the MessageHeader start tag.
func insertIntoHeader(doc []byte, extra string) []byte {
	at := bytes.Index(doc, []byte("<edXML:MessageHeader>")) + len("<edXML:MessageHeader>")
	out := make([]byte, 0, len(doc)+len(extra))
	out = append(out, doc[:at]...)
	out = append(out, extra...)
	return append(out, doc[at:]...)
}

func fill(unit string, size int) string {
	return strings.Repeat(unit, max(size/len(unit), 0))
}

// peakHeap is the peak HeapInuse above the heap after a GC just before f
// (so the input, allocated before, is not counted), sampled every 200µs by
// the same sampler the edXML worst-case tests use.
func peakHeap(f func()) uint64 { return uint64(max(edxmltest.PeakHeap(f), 0)) }

type worstDoc struct {
	name string
	doc  func(t testing.TB, p *testPKI) []byte
	want string // the error code, "" for verified
}

var worstDocs = []worstDoc{
	{"empty_elements", func(t testing.TB, p *testPKI) []byte {
		signed := mustSign(t, edxmlDoc("", 1<<10), SignOptions{})
		return insertIntoHeader(signed, fill("<a/>", worstDocSize-len(signed)))
	}, CodeTooComplex},
	{"elements_at_scan_limit_then_text", func(t testing.TB, p *testPKI) []byte {
		// Within the pre-scan limits, but more elements than goxmldsig
		// canonicalizes (Sign cannot sign it): added after signing, so
		// the streaming digest differs.
		signed := mustSign(t, edxmlDoc("", 1<<10), SignOptions{})
		return insertIntoHeader(signed, fill("<a/>", 4*(xmlscan.DefaultMaxElements-200))+"<x>"+fill("t", worstDocSize-4*xmlscan.DefaultMaxElements)+"</x>")
	}, CodeTampered},
	{"900_elements_then_text", func(t testing.TB, p *testPKI) []byte {
		doc := insertIntoHeader(edxmlDoc("", 1<<10), fill("<a/>", 4*900)+"<x>"+fill("t", worstDocSize-4*1000)+"</x>")
		return mustSign(t, doc, SignOptions{})
	}, ""},
	{"long_attribute_values", func(t testing.TB, p *testPKI) []byte {
		doc := insertIntoHeader(edxmlDoc("", 1<<10), fill(`<a v="`+strings.Repeat("v", 1<<20)+`"/>`, worstDocSize))
		return mustSign(t, doc, SignOptions{})
	}, ""},
	{"base64_attachment", func(t testing.TB, p *testPKI) []byte {
		return mustSign(t, edxmlDoc("", worstDocSize), SignOptions{})
	}, ""},
}

// TestVerifyWorstCaseMemory measures the peak heap of Verify on each
// worst-case document and fails above maxVerifyRatio × its size (issue
// #13: at most twice the file size). Verify streams: text is escaped into
// the hash straight from the document; what grows with the input is one
// decoded attribute value or text run with references at a time (held
// twice at most, the bytes and the string), and the tree of the signature.
const maxVerifyRatio = 2.0

func TestVerifyWorstCaseMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("31 MB documents; skipped with -short")
	}
	p := getPKI(t)
	v := p.verifier()
	for _, w := range worstDocs {
		doc := w.doc(t, p)
		var err error
		peak := peakHeap(func() { _, err = v.Verify(doc) })
		if CodeOf(err) != w.want {
			t.Fatalf("%s: got %v, want %q", w.name, err, w.want)
		}
		ratio := float64(peak) / float64(len(doc))
		t.Logf("%-28s in %6.2f MiB  peak heap %7.2f MiB  %.2f×", w.name, float64(len(doc))/(1<<20), float64(peak)/(1<<20), ratio)
		if ratio > maxVerifyRatio {
			t.Errorf("%s: peak heap %.1f× the input; limit %.0f×", w.name, ratio, maxVerifyRatio)
		}
	}
}

// BenchmarkVerifyWorstCase reports peak heap per input byte per shape:
//
//	go test ./bus/xmldsig -run '^$' -bench VerifyWorstCase -benchtime 1x
func BenchmarkVerifyWorstCase(b *testing.B) {
	p := getPKI(b)
	v := p.verifier()
	for _, w := range worstDocs {
		b.Run(w.name, func(b *testing.B) {
			doc := w.doc(b, p)
			b.SetBytes(int64(len(doc)))
			var worst uint64
			for b.Loop() {
				worst = max(worst, peakHeap(func() { _, _ = v.Verify(doc) }))
			}
			b.ReportMetric(float64(worst)/float64(len(doc)), "peakB/inB")
		})
	}
}

func TestTooComplexNamesLimitNotContent(t *testing.T) {
	signed := mustSign(t, edxmlDoc("", 1<<10), SignOptions{})
	doc := insertIntoHeader(signed, "<BIMAT"+strings.Repeat("N", xmlscan.DefaultMaxNameBytes)+"/>")
	_, err := getPKI(t).verifier().Verify(doc)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeTooComplex || !strings.Contains(e.Msg, "name longer than") || strings.Contains(err.Error(), "BIMAT") {
		t.Fatalf("got %v; want xmldsig.too_complex naming the limit without the name", err)
	}
	s := getPKI(t).signer(t, false, SignOptions{})
	s.Limits = xmlscan.Limits{MaxElements: 10}
	if _, err := s.Sign(edxmlDoc("", 1<<10)); !errors.Is(err, ErrTooComplex) {
		t.Fatalf("Sign over the limit: %v", err)
	}
}
