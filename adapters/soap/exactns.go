package soap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
)

// exactNamespaces is implemented by the message types wsdl/internal/fixgen
// writes: every element tag of theirs names its namespace, and a tag
// without one means no namespace (an unqualified schema, JAX-WS's default).
type exactNamespaces interface{ SOAPExactNamespaces() }

// exactNS rewrites x, the encoding/xml output of a fixgen type, so that
// each element is in exactly the namespace its tag says: encoding/xml
// writes xmlns="…" for a tag with a namespace but nothing for one without,
// so an unqualified child would inherit its parent's default namespace.
// Elements without a declaration get xmlns="" under a non-empty default,
// and declarations repeating the default in force are dropped.
func exactNS(x []byte) ([]byte, error) {
	d := xml.NewDecoder(bytes.NewReader(x))
	var out bytes.Buffer
	out.Grow(len(x) + len(x)/8)
	stack := []string{""}
	for {
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			return out.Bytes(), nil
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			ns := ""
			out.WriteByte('<')
			writeName(&out, t.Name)
			for _, a := range t.Attr {
				if a.Name.Space == "" && a.Name.Local == "xmlns" {
					ns = a.Value
				}
			}
			if ns != stack[len(stack)-1] {
				out.WriteString(` xmlns="`)
				_ = xml.EscapeText(&out, []byte(ns))
				out.WriteByte('"')
			}
			for _, a := range t.Attr {
				if a.Name.Space == "" && a.Name.Local == "xmlns" {
					continue
				}
				out.WriteByte(' ')
				writeName(&out, a.Name)
				out.WriteString(`="`)
				_ = xml.EscapeText(&out, []byte(a.Value))
				out.WriteByte('"')
			}
			out.WriteByte('>')
			stack = append(stack, ns)
		case xml.EndElement:
			if len(stack) == 1 {
				return nil, errors.New("unbalanced end tag")
			}
			out.WriteString("</")
			writeName(&out, t.Name)
			out.WriteByte('>')
			stack = stack[:len(stack)-1]
		case xml.CharData:
			_ = xml.EscapeText(&out, t)
		case xml.Comment:
			out.WriteString("<!--")
			out.Write(t)
			out.WriteString("-->")
		case xml.ProcInst:
			out.WriteString("<?" + t.Target + " ")
			out.Write(t.Inst)
			out.WriteString("?>")
		}
	}
}

// writeName writes a raw (prefix:local) name.
func writeName(b *bytes.Buffer, n xml.Name) {
	if n.Space != "" {
		b.WriteString(n.Space)
		b.WriteByte(':')
	}
	b.WriteString(n.Local)
}
