package transform

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/edxml/edxmltest"
	"github.com/tuyenquang/lgsp/bus/xmlscan"
)

// secretText is content that must never appear in a refusal.
const secretText = "BI-MAT-NOI-DUNG"

// repeat is n copies of unit between open and close.
func repeat(open, unit, close string, n int) string {
	return open + strings.Repeat(unit, n) + close
}

// TestFromXMLTooComplex: a legacy XML body over each shape limit fails the
// edxml_from_xml step with route.step_failed naming xml.too_complex and the
// limit, never the content.
func TestFromXMLTooComplex(t *testing.T) {
	s := mustBuild(t, "edxml_from_xml", `map: {"MessageHeader/Subject": "/CongVan/TrichYeu", "MessageHeader/ToPlaces/Place": "/CongVan/a"}`, ".")
	head := `<CongVan><TrichYeu>` + secretText + `</TrichYeu>`
	var manyAttrs strings.Builder
	for k := range 50 {
		manyAttrs.WriteString(` a` + strings.Repeat("x", k%3) + string(rune('a'+k%26)) + strings.Repeat("y", k/26) + `="` + secretText + `"`)
	}
	var perElement strings.Builder
	for k := range xmlscan.DefaultMaxAttrsPerElement + 1 {
		perElement.WriteString(` a` + strings.Repeat("z", k) + `="v"`)
	}
	for _, tt := range []struct {
		limit string
		doc   string
	}{
		{xmlscan.LimitElements, repeat(head, `<a/>`, `</CongVan>`, xmlscan.DefaultMaxElements)},
		{xmlscan.LimitAttrs, repeat(head, `<b`+manyAttrs.String()+`/>`, `</CongVan>`, xmlscan.DefaultMaxAttrs/50+1)},
		{xmlscan.LimitAttrsPerElement, head + `<b` + perElement.String() + `/></CongVan>`},
		{xmlscan.LimitDepth, head + strings.Repeat("<d>", xmlscan.DefaultMaxDepth) + strings.Repeat("</d>", xmlscan.DefaultMaxDepth) + `</CongVan>`},
		{xmlscan.LimitNameBytes, head + `<` + strings.Repeat("n", xmlscan.DefaultMaxNameBytes+1) + `/></CongVan>`},
		{xmlscan.LimitNodes, repeat(head, `<!--`+secretText+`-->`, `</CongVan>`, xmlscan.DefaultMaxNodes)},
	} {
		t.Run(tt.limit, func(t *testing.T) {
			err := s.Process(context.Background(), message([]byte(tt.doc), "application/xml"))
			want := string(bus.ErrXMLTooComplex.Code) + " (" + tt.limit + ")"
			if bus.CodeOf(err) != bus.ErrStepFailed.Code || !strings.Contains(err.Error(), want) {
				t.Fatalf("got %v, want %s naming %q", err, bus.ErrStepFailed.Code, want)
			}
			if strings.Contains(err.Error(), secretText) {
				t.Fatalf("the refusal quotes the content: %v", err)
			}
		})
	}
}

// discarding is a message whose payload is content and whose replacement is
// counted and dropped, so that a measurement sees the step, not the test.
func discarding(content []byte, out *int64) *bus.Message {
	m := message(content, "application/xml")
	m.Replace = func(_ context.Context, mt string, r io.Reader) error {
		n, err := io.Copy(io.Discard, r)
		*out = n
		m.MediaType, m.Size = mt, n
		return err
	}
	return m
}

// TestFromXMLWorstCaseMemory: the worst-case shapes of bus/edxml as legacy
// XML bodies at the size limit. The mapping takes repeated values from the
// shapes' own elements and attributes, so the accepted shapes carry up to
// the whole body into the packet. Peak heap of the step ≤ 10× the body.
func TestFromXMLWorstCaseMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("16 MiB bodies; skipped with -short")
	}
	const maxRatio = 10.0
	s := mustBuild(t, "edxml_from_xml", `map: {"MessageHeader/Subject": "/CongVan/TrichYeu",
	  "MessageHeader/ToPlaces/Place": "/CongVan/NoiNhan/x",
	  "MessageHeader/OtherInfo/Appendixes/Appendix": "/CongVan/NoiNhan/a/@v"}`, ".")
	for _, shape := range edxmltest.Shapes() {
		t.Run(shape.Name, func(t *testing.T) {
			raw := edxmltest.Document(`<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<CongVan><TrichYeu>Báo cáo</TrichYeu><NoiNhan>`, `</NoiNhan></CongVan>`+"\n", shape, edxmltest.WorstSize)
			var out int64
			var err error
			peak := edxmltest.PeakHeap(func() { err = s.Process(context.Background(), discarding(raw, &out)) })
			if shape.Refused != "" {
				want := string(bus.ErrXMLTooComplex.Code) + " (" + shape.Refused + ")"
				if bus.CodeOf(err) != bus.ErrStepFailed.Code || !strings.Contains(err.Error(), want) {
					t.Fatalf("got %v, want %s naming %q", err, bus.ErrStepFailed.Code, want)
				}
			} else if err != nil {
				t.Fatalf("accepted shape refused: %v", err)
			}
			ratio := float64(peak) / float64(len(raw))
			t.Logf("%-28s in %6.2f MiB  out %6.2f MiB  peak heap %7.2f MiB  %.2f×", shape.Name, mib(len(raw)), mib(int(out)), float64(peak)/(1<<20), ratio)
			if ratio > maxRatio {
				t.Errorf("peak heap %.1f MiB is %.1f× the input (%.1f MiB); limit %.0f×", float64(peak)/(1<<20), ratio, mib(len(raw)), maxRatio)
			}
		})
	}
}

func mib(n int) float64 { return float64(n) / (1 << 20) }
