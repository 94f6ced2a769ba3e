package edxml

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus/xmlscan"
)

// The worst-case generator: packets just below the 16 MiB header limit in
// each shape that costs a tree-building parser the most per input byte.
// Shapes over the complexity limits are refused (edxml.too_complex) after
// at most the limit's worth of tree; the others are parsed and validated.

const worstSize = 16<<20 - 4096 // just below Options.MaxHeaderBytes

type worstShape struct {
	name string
	unit func(i int) string // the i-th repetition inside MessageHeader
	// refused says the shape crosses a limit (and which); "" = accepted.
	refused string
}

func longName(i int) string { return fmt.Sprintf("N%0127d", i) } // 128 bytes, the name limit

var worstShapes = []worstShape{
	{"empty_elements", func(int) string { return "<a/>" }, xmlscan.LimitElements},
	{"attribute_dense", func(int) string {
		var b strings.Builder
		b.WriteString("<a")
		for k := range 64 {
			fmt.Fprintf(&b, ` a%d=""`, k)
		}
		b.WriteString("/>")
		return b.String()
	}, xmlscan.LimitAttrs},
	{"deep_long_names", func(i int) string {
		var b strings.Builder
		for d := range 60 {
			b.WriteString("<" + longName(d) + ">")
		}
		for d := 59; d >= 0; d-- {
			b.WriteString("</" + longName(d) + ">")
		}
		return b.String()
	}, xmlscan.LimitElements},
	{"long_names", func(i int) string { return "<" + longName(i) + "/>" }, xmlscan.LimitElements},
	{"many_namespaces", func(i int) string {
		var b strings.Builder
		b.WriteString("<p0:a")
		for k := range 64 {
			fmt.Fprintf(&b, ` xmlns:p%d="urn:x-%d-%d"`, k, i, k)
		}
		b.WriteString("/>")
		return b.String()
	}, xmlscan.LimitAttrs},
	{"comments_and_pis", func(i int) string {
		if i%2 == 0 {
			return "<!---->"
		}
		return "<?p?>"
	}, xmlscan.LimitNodes},
	{"long_attribute_values", func(int) string { return `<a v="` + strings.Repeat("v", 1<<20-64) + `"/>` }, ""},
	{"tiny_cdata_text_nodes", func(int) string { return "<![CDATA[x]]>" }, ""},
	{"long_text", func(int) string { return "<x>" + strings.Repeat("t", 1<<20-64) + "</x>" }, ""},
	{"elements_at_limit_then_text", func(i int) string {
		if i < xmlscan.DefaultMaxElements-100 {
			return "<a/>"
		}
		return "<x>" + strings.Repeat("t", 1<<20-64) + "</x>"
	}, ""},
}

// worstPacket repeats the shape's unit up to size bytes. The CDATA shape
// goes inside one element so that it makes one element of many text nodes.
func worstPacket(s worstShape, size int) []byte {
	head := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<edXML xmlns="` + NS + `"><edXMLEnvelope><edXMLHeader><MessageHeader>`
	tail := `</MessageHeader></edXMLHeader></edXMLEnvelope></edXML>` + "\n"
	open, close := "", ""
	if s.name == "tiny_cdata_text_nodes" {
		open, close = "<Extension>", "</Extension>"
	}
	var b bytes.Buffer
	b.Grow(size)
	b.WriteString(head + open)
	for i := 0; ; i++ {
		u := s.unit(i)
		if b.Len()+len(u)+len(close)+len(tail) > size {
			break
		}
		b.WriteString(u)
	}
	b.WriteString(close + tail)
	return b.Bytes()
}

// peakHeap runs f while a goroutine samples runtime.MemStats.HeapInuse
// every 200µs; it returns the highest sample above the HeapInuse measured
// after a GC just before f (the input is allocated before, so it is not
// counted). A sample can miss a spike shorter than the interval; the
// figures are a lower bound of the true peak within that resolution.
func peakHeap(f func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var mu sync.Mutex
	peak := base
	stop := make(chan struct{})
	done := make(chan struct{})
	sample := func() {
		var s runtime.MemStats
		runtime.ReadMemStats(&s)
		mu.Lock()
		peak = max(peak, s.HeapInuse)
		mu.Unlock()
	}
	go func() {
		defer close(done)
		t := time.NewTicker(200 * time.Microsecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				sample()
			}
		}
	}()
	f()
	sample()
	close(stop)
	<-done
	return peak - base
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
	if s.refused == "" {
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		return
	}
	var le *xmlscan.LimitError
	if CodeOf(err) != CodeTooComplex || !errors.As(err, &le) || le.Limit != s.refused {
		t.Fatalf("%s: got %v, want edxml.too_complex (%s)", s.name, err, s.refused)
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
		t.Logf("%-28s in %6.2f MiB  peak heap %7.2f MiB  %.2f×", s.name, float64(len(raw))/(1<<20), float64(peak)/(1<<20), ratio)
		if ratio > maxRatio {
			t.Errorf("%s: peak heap %.1f MiB is %.1f× the input (%.1f MiB); limit %.0f×", s.name, float64(peak)/(1<<20), ratio, float64(len(raw))/(1<<20), maxRatio)
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
		b.Run(s.name, func(b *testing.B) {
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
