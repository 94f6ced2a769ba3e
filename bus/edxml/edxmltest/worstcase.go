package edxmltest

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/tuyenquang/lgsp/bus/xmlscan"
)

// NS is the edXML namespace (edxml.NS, repeated here to keep this package
// free of bus/edxml; bus/edxml's tests check that both agree).
const NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"

// WorstSize is just below edxml's 16 MiB header limit
// (edxml.Options.MaxHeaderBytes): the largest header a packet may have.
const WorstSize = 16<<20 - 4096

// Shape is one way of filling a document that costs a tree-building parser
// the most per input byte: Unit(i) is the i-th repetition, and Open and
// Close wrap all of them (the CDATA shape goes inside one element so that
// it makes one element of many text nodes).
type Shape struct {
	Name        string
	Unit        func(i int) string
	Open, Close string
	// Refused names the xmlscan limit the shape crosses at WorstSize
	// (xmlscan.Limit*), or "" when a packet of it is accepted.
	Refused string
}

// LongName is a 128-byte element name (the default name limit) unique to i.
func LongName(i int) string { return fmt.Sprintf("N%0127d", i) }

// Shapes returns the worst-case shapes: the six crossing a limit, then four
// accepted ones that sit at or near the limits with the rest as text.
func Shapes() []Shape {
	return []Shape{
		{Name: "empty_elements", Unit: func(int) string { return "<a/>" }, Refused: xmlscan.LimitElements},
		{Name: "attribute_dense", Unit: func(int) string {
			var b strings.Builder
			b.WriteString("<a")
			for k := range 64 {
				fmt.Fprintf(&b, ` a%d=""`, k)
			}
			b.WriteString("/>")
			return b.String()
		}, Refused: xmlscan.LimitAttrs},
		{Name: "deep_long_names", Unit: func(int) string {
			var b strings.Builder
			for d := range 60 {
				b.WriteString("<" + LongName(d) + ">")
			}
			for d := 59; d >= 0; d-- {
				b.WriteString("</" + LongName(d) + ">")
			}
			return b.String()
		}, Refused: xmlscan.LimitElements},
		{Name: "long_names", Unit: func(i int) string { return "<" + LongName(i) + "/>" }, Refused: xmlscan.LimitElements},
		{Name: "many_namespaces", Unit: func(i int) string {
			var b strings.Builder
			b.WriteString("<p0:a")
			for k := range 64 {
				fmt.Fprintf(&b, ` xmlns:p%d="urn:x-%d-%d"`, k, i, k)
			}
			b.WriteString("/>")
			return b.String()
		}, Refused: xmlscan.LimitAttrs},
		{Name: "comments_and_pis", Unit: func(i int) string {
			if i%2 == 0 {
				return "<!---->"
			}
			return "<?p?>"
		}, Refused: xmlscan.LimitNodes},
		{Name: "long_attribute_values", Unit: func(int) string { return `<a v="` + strings.Repeat("v", 1<<20-64) + `"/>` }},
		{Name: "tiny_cdata_text_nodes", Unit: func(int) string { return "<![CDATA[x]]>" }, Open: "<Extension>", Close: "</Extension>"},
		{Name: "long_text", Unit: func(int) string { return "<x>" + strings.Repeat("t", 1<<20-64) + "</x>" }},
		{Name: "elements_at_limit_then_text", Unit: func(i int) string {
			if i < xmlscan.DefaultMaxElements-100 {
				return "<a/>"
			}
			return "<x>" + strings.Repeat("t", 1<<20-64) + "</x>"
		}},
	}
}

// ShapeNamed returns the shape called name; it panics on an unknown name
// (a mistake in a test).
func ShapeNamed(name string) Shape {
	for _, s := range Shapes() {
		if s.Name == name {
			return s
		}
	}
	panic("edxmltest: no shape " + name)
}

// Document repeats the shape's unit between head and tail up to size bytes.
func Document(head, tail string, s Shape, size int) []byte {
	var b bytes.Buffer
	b.Grow(size)
	b.WriteString(head + s.Open)
	for i := 0; ; i++ {
		u := s.Unit(i)
		if b.Len()+len(u)+len(s.Close)+len(tail) > size {
			break
		}
		b.WriteString(u)
	}
	b.WriteString(s.Close + tail)
	return b.Bytes()
}

// Packet is an edXML packet of size bytes at most whose MessageHeader is
// filled with the shape.
func Packet(s Shape, size int) []byte {
	head := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<edXML xmlns="` + NS + `"><edXMLEnvelope><edXMLHeader><MessageHeader>`
	tail := `</MessageHeader></edXMLHeader></edXMLEnvelope></edXML>` + "\n"
	return Document(head, tail, s, size)
}
