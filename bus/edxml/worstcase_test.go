package edxml

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/tuyenquang/lgsp/bus/edxml/edxmltest"
	"github.com/tuyenquang/lgsp/bus/xmlscan"
)

// The worst-case generator lives in bus/edxml/edxmltest (the black-box
// tests in test/ send the same packets through a node): packets just below
// the 16 MiB header limit in each shape that costs a tree-building parser
// the most per input byte. Shapes over the complexity limits are refused
// (edxml.too_complex) after at most the limit's worth of tree; the others
// are parsed and validated.

const worstSize = edxmltest.WorstSize

type worstShape = edxmltest.Shape

var (
	worstShapes = edxmltest.Shapes()
	worstPacket = edxmltest.Packet
	longName    = edxmltest.LongName
)

// peakHeap is the peak heap of f above the heap before it (edxmltest).
func peakHeap(f func()) uint64 { return uint64(max(edxmltest.PeakHeap(f), 0)) }

// TestGeneratorNamespace: edxmltest repeats the edXML namespace (it cannot
// import this package); both must agree or every packet would be refused
// for its root.
func TestGeneratorNamespace(t *testing.T) {
	if edxmltest.NS != NS {
		t.Fatalf("edxmltest.NS = %q, edxml.NS = %q", edxmltest.NS, NS)
	}
}

// parseAndValidate is what `lgsp edoc validate` and the edxml_validate step
// do with a packet.
func parseAndValidate(raw []byte) error {
	p, err := Parse(bytes.NewReader(raw), nil)
	if err != nil {
		return err
	}
	_ = Validate(p)
	return nil
}

func checkOutcome(t testing.TB, s worstShape, err error) {
	t.Helper()
	if s.Refused == "" {
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		return
	}
	var le *xmlscan.LimitError
	if CodeOf(err) != CodeTooComplex || !errors.As(err, &le) || le.Limit != s.Refused {
		t.Fatalf("%s: got %v, want edxml.too_complex (%s)", s.Name, err, s.Refused)
	}
}

// TestWorstCaseMemory is the acceptance test of the parser's memory: for
// every worst-case shape at the size limit, the peak heap of Parse plus
// Validate stays within 10× the packet size.
func TestWorstCaseMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("16 MiB packets; skipped with -short")
	}
	const maxRatio = 10.0
	for _, s := range worstShapes {
		raw := worstPacket(s, worstSize)
		var err error
		peak := peakHeap(func() { err = parseAndValidate(raw) })
		checkOutcome(t, s, err)
		ratio := float64(peak) / float64(len(raw))
		t.Logf("%-28s in %6.2f MiB  peak heap %7.2f MiB  %.2f×", s.Name, float64(len(raw))/(1<<20), float64(peak)/(1<<20), ratio)
		if ratio > maxRatio {
			t.Errorf("%s: peak heap %.1f MiB is %.1f× the input (%.1f MiB); limit %.0f×", s.Name, float64(peak)/(1<<20), ratio, float64(len(raw))/(1<<20), maxRatio)
		}
	}
}

// TestMostComplexSmallPacket: the ratio is about big inputs; for a small
// packet at every limit at once the cost is bounded by the limits instead
// (a tree of at most MaxElements elements). This pins that bound.
func TestMostComplexSmallPacket(t *testing.T) {
	const maxPeak = 24 << 20
	var b strings.Builder
	b.WriteString(`<edXML xmlns="` + NS + `"><edXMLEnvelope><edXMLHeader><MessageHeader>`)
	for d := range 58 { // depth 62 with the 4 above
		b.WriteString("<" + longName(d) + ">")
	}
	for i := range xmlscan.DefaultMaxElements - 70 {
		fmt.Fprintf(&b, `<To x="%d"/>`, i%10)
	}
	for d := 57; d >= 0; d-- {
		b.WriteString("</" + longName(d) + ">")
	}
	b.WriteString(`</MessageHeader></edXMLHeader></edXMLEnvelope></edXML>`)
	raw := []byte(b.String())
	var err error
	peak := peakHeap(func() { err = parseAndValidate(raw) })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d elements, depth 62, %.2f MiB: peak heap %.2f MiB", xmlscan.DefaultMaxElements-8, float64(len(raw))/(1<<20), float64(peak)/(1<<20))
	if peak > maxPeak {
		t.Fatalf("peak heap %.1f MiB > %d MiB", float64(peak)/(1<<20), maxPeak>>20)
	}
}

// BenchmarkWorstCase reports, per shape, the peak heap per input byte
// (peakB/inB) and the bytes allocated per input byte (allocB/inB).
//
//	go test ./bus/edxml -run '^$' -bench WorstCase -benchtime 1x
func BenchmarkWorstCase(b *testing.B) {
	for _, s := range worstShapes {
		b.Run(s.Name, func(b *testing.B) {
			raw := worstPacket(s, worstSize)
			b.SetBytes(int64(len(raw)))
			var worst uint64
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for b.Loop() {
				var err error
				worst = max(worst, peakHeap(func() { err = parseAndValidate(raw) }))
				checkOutcome(b, s, err)
			}
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(worst)/float64(len(raw)), "peakB/inB")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/float64(len(raw)), "allocB/inB")
		})
	}
}
