package edxml

import (
	"bufio"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"reflect"
	"strings"
	"unicode/utf8"
)

// Build writes p as an edXML packet: UTF-8, the edXML namespace as the
// default namespace of the root, elements in the order of the SDK sample
// edoc_new.edxml, unknown elements after the known ones of their parent,
// canonical dates, and each attachment base64-encoded on one line while it
// is read from Attachment.Open (never held in memory).
func Build(w io.Writer, p *Packet) error {
	bw := bufio.NewWriterSize(w, 32<<10)
	x := &xw{w: bw}
	x.str(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	root := encode("edXML", reflect.ValueOf(p).Elem())
	if root == nil {
		root = &Node{Name: xml.Name{Space: NS, Local: "edXML"}}
	}
	env := root.Children
	x.open(root, NS, 0, true)
	// envelope and unknown root children
	for i, c := range env {
		x.node(c, NS, 1)
		if i == 0 && (len(p.Attachments) > 0 || len(p.AttachmentExtra) > 0) {
			if err := x.attachments(p); err != nil {
				return err
			}
		}
	}
	if len(env) == 0 && len(p.Attachments) > 0 {
		if err := x.attachments(p); err != nil {
			return err
		}
	}
	x.close(root, 0, true)
	if x.err != nil {
		return x.err
	}
	return bw.Flush()
}

// BuildTree writes the Node tree n (for instance a Packet.Tree or an
// unknown element) as indented XML, without the XML declaration.
func BuildTree(w io.Writer, n *Node) error {
	x := &xw{w: w}
	x.node(n, "", 0)
	return x.err
}

func (x *xw) attachments(p *Packet) error {
	x.indent(1)
	x.str("<AttachmentEncoded>")
	for i, a := range p.Attachments {
		n := a.node()
		x.indent(2)
		x.open(n, NS, 2, false)
		for _, c := range n.Children {
			x.node(c, NS, 3)
		}
		x.indent(3)
		x.str("<ContentTransferEncoded>")
		if err := x.base64(a); err != nil {
			return fmt.Errorf("building attachment %d (%s): %w", i+1, a.AttachmentName, err)
		}
		x.str("</ContentTransferEncoded>")
		x.close(n, 2, true)
	}
	for _, c := range p.AttachmentExtra {
		x.node(c, NS, 2)
	}
	x.indent(1)
	x.str("</AttachmentEncoded>")
	return x.err
}

func (x *xw) base64(a *Attachment) error {
	if a.Open == nil {
		if a.Size == 0 {
			return nil
		}
		return fmt.Errorf("attachment has no content (Open is nil)")
	}
	rc, err := a.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	enc := base64.NewEncoder(base64.StdEncoding, x.w)
	if _, err := io.Copy(enc, rc); err != nil {
		return err
	}
	return enc.Close()
}

// xw writes XML with two-space indentation and namespace bookkeeping: an
// element in the parent's default namespace is written unprefixed, one in
// another namespace re-declares the default namespace.
type xw struct {
	w   io.Writer
	err error
}

func (x *xw) str(s string) {
	if x.err == nil {
		_, x.err = io.WriteString(x.w, s)
	}
}

func (x *xw) indent(depth int) {
	x.str("\n" + strings.Repeat("  ", depth))
}

// open writes the start tag of n; def is the default namespace in scope.
func (x *xw) open(n *Node, def string, depth int, root bool) {
	x.str("<" + n.Name.Local)
	if root || n.Name.Space != def {
		x.str(` xmlns="`)
		x.str(escAttr(n.Name.Space))
		x.str(`"`)
	}
	prefixes := map[string]string{}
	for _, a := range n.Attrs {
		name := a.Name.Local
		if a.Name.Space != "" {
			pfx, ok := prefixes[a.Name.Space]
			if !ok {
				pfx = prefixFor(a.Name.Space, len(prefixes))
				prefixes[a.Name.Space] = pfx
				if pfx != "xml" {
					x.str(" xmlns:" + pfx + `="` + escAttr(a.Name.Space) + `"`)
				}
			}
			name = pfx + ":" + name
		}
		x.str(" " + name + `="` + escAttr(a.Value) + `"`)
	}
	x.str(">")
}

func prefixFor(space string, i int) string {
	switch space {
	case XLinkNS, "xlink":
		return "xlink"
	case "http://www.w3.org/XML/1998/namespace", "xml":
		return "xml"
	case "http://www.w3.org/2001/XMLSchema-instance":
		return "xsi"
	}
	return "ns" + itoa(i+1)
}

func (x *xw) close(n *Node, depth int, nl bool) {
	if nl {
		x.indent(depth)
	}
	x.str("</" + n.Name.Local + ">")
}

func (x *xw) node(n *Node, def string, depth int) {
	if depth >= 0 {
		x.indent(depth)
	}
	x.open(n, def, depth, def == "")
	x.str(escText(n.Text))
	// Mixed content is written without indentation so its text survives.
	inline := depth < 0 || strings.TrimSpace(n.Text) != ""
	for _, c := range n.Children {
		if inline {
			x.node(c, n.Name.Space, -1)
		} else {
			x.node(c, n.Name.Space, depth+1)
		}
	}
	x.close(n, depth, len(n.Children) > 0 && !inline)
}

var textEsc = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\r", "&#xD;")
var attrEsc = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "\r", "&#xD;", "\n", "&#xA;", "\t", "&#x9;")

func escText(s string) string { return textEsc.Replace(xmlChars(s)) }
func escAttr(s string) string { return attrEsc.Replace(xmlChars(s)) }

// xmlChars replaces characters XML 1.0 cannot carry (controls, invalid
// UTF-8) with U+FFFD so that Build never writes a packet it cannot read.
func xmlChars(s string) string {
	ok := true
	for _, r := range s {
		if !isXMLChar(r) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isXMLChar(r) {
			return r
		}
		return '\uFFFD'
	}, s)
}

func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD && r != utf8.RuneError) || (r >= 0x10000 && r <= 0x10FFFF)
}
