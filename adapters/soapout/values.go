package soapout

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/tuyenquang/lgsp/adapters/soap"
	"github.com/tuyenquang/lgsp/bus/edxml"
	"github.com/tuyenquang/lgsp/bus/store"
)

// priorities are the edXML Priority levels of the importance names.
var priorities = map[string]int64{"normal": 0, "urgent": 1, "very-urgent": 2, "flash": 3, "flash-timed": 4}

// attachment is one edXML attachment read in memory.
type attachment struct {
	name, contentType, description, sha256 string
	content                                []byte
}

// Doc is what a push maps from: the exchange, the recipient and the
// content (parsed as edXML the first time an edxml: or attachment source
// needs it).
type Doc struct {
	Exchange  store.Exchange
	Recipient string
	Content   []byte

	parsed bool
	tree   *edxml.Node
	atts   []attachment
	err    error
}

// edXML parses the content once.
func (d *Doc) edXML() error {
	if d.parsed {
		return d.err
	}
	d.parsed = true
	content := map[int][]byte{}
	pkt, err := edxml.Parse(bytes.NewReader(d.Content), &edxml.Options{Sink: func(m edxml.AttachmentMeta, r io.Reader) error {
		b, err := io.ReadAll(r)
		content[m.Index] = b
		return err
	}})
	if err != nil {
		d.err = fmt.Errorf("the content is not an edXML packet: %w", err)
		return d.err
	}
	defer pkt.Cleanup()
	atts := make([]attachment, len(pkt.Attachments))
	for i, a := range pkt.Attachments {
		atts[i] = attachment{name: a.AttachmentName, contentType: a.ContentType, description: a.Description, sha256: a.SHA256, content: content[i]}
	}
	d.tree, d.atts = pkt.Tree(), atts
	return nil
}

// value returns the value of a mapping source for one field.
func (d *Doc) value(src string) (any, error) {
	ex := d.Exchange
	switch src {
	case "exchange_id":
		return ex.ID, nil
	case "title":
		return ex.Title, nil
	case "source":
		return ex.Source, nil
	case "recipient":
		return d.Recipient, nil
	case "data_type":
		return ex.DataType, nil
	case "importance":
		return ex.Importance, nil
	case "priority":
		return priorities[ex.Importance], nil
	case "urgent":
		return ex.Importance != "" && ex.Importance != "normal", nil
	case "media_type":
		return ex.MediaType, nil
	case "sha256":
		return ex.SHA256, nil
	case "size":
		return int64(len(d.Content)), nil
	case "route":
		return ex.Route, nil
	case "created_at":
		return ex.CreatedAt, nil
	case "content":
		return d.Content, nil
	}
	switch {
	case strings.HasPrefix(src, "const:"):
		return strings.TrimPrefix(src, "const:"), nil
	case strings.HasPrefix(src, "edxml:"):
		if err := d.edXML(); err != nil {
			return nil, err
		}
		n := find(d.tree, strings.Split(strings.TrimPrefix(src, "edxml:"), "/"))
		if n == nil {
			return "", nil // an absent element maps as empty
		}
		return strings.TrimSpace(n.Text), nil
	case strings.HasPrefix(src, "attachment."):
		if err := d.edXML(); err != nil {
			return nil, err
		}
		out := make([]any, len(d.atts))
		for i, a := range d.atts {
			switch src {
			case "attachment.name":
				out[i] = a.name
			case "attachment.content_type":
				out[i] = a.contentType
			case "attachment.description":
				out[i] = a.description
			case "attachment.content":
				out[i] = a.content
			case "attachment.size":
				out[i] = int64(len(a.content))
			case "attachment.sha256":
				out[i] = a.sha256
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown source %q", src)
}

// find resolves a path of local names: the first element is looked for
// anywhere in the tree (depth first), the others as children.
func find(root *edxml.Node, path []string) *edxml.Node {
	var first func(n *edxml.Node) *edxml.Node
	first = func(n *edxml.Node) *edxml.Node {
		if n == nil {
			return nil
		}
		if n.Name.Local == path[0] {
			return n
		}
		for _, c := range n.Children {
			if m := first(c); m != nil {
				return m
			}
		}
		return nil
	}
	n := first(root)
	for _, name := range path[1:] {
		n = n.Child(name)
	}
	return n
}

// Map builds the request of b for doc with the declared mapping.
func Map(b Binding, mapping []soap.FieldMap, doc *Doc) (any, error) {
	req := b.NewRequest()
	for _, m := range mapping {
		v, err := doc.value(m.Source)
		if err != nil {
			return nil, fmt.Errorf("mapping %s (line %d): %w", m.Field, m.Line, err)
		}
		if err := soap.SetField(req, m.Field, v); err != nil {
			return nil, fmt.Errorf("mapping %s (line %d): %w", m.Field, m.Line, err)
		}
	}
	return req, nil
}
