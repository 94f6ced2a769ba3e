package edxml

import (
	"encoding/xml"
	"reflect"
	"strings"
	"sync"
)

// The model types are mapped to and from Node trees by reflection over the
// `edxml:"Name[,raw]"` tags: `,any` collects unknown children, `,attrs` the
// element's attributes (namespace declarations excluded). Field order is the
// order Build writes (that of the SDK sample edoc_new.edxml).

type fieldKind int

const (
	fString fieldKind = iota
	fDate
	fStruct
	fPtrStruct
	fSliceStruct
	fSliceString
	fRaw
	fAny
	fAttrs
)

type fieldInfo struct {
	name  string
	index int
	kind  fieldKind
}

var (
	dateType  = reflect.TypeOf(Date{})
	nodePtr   = reflect.TypeOf((*Node)(nil))
	nodeSlice = reflect.TypeOf([]*Node(nil))
	attrSlice = reflect.TypeOf([]xml.Attr(nil))
	fieldsMu  sync.Map // reflect.Type → []fieldInfo
)

func fieldsOf(t reflect.Type) []fieldInfo {
	if v, ok := fieldsMu.Load(t); ok {
		return v.([]fieldInfo)
	}
	var out []fieldInfo
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("edxml")
		if !ok || tag == "-" {
			continue
		}
		name, opt, _ := strings.Cut(tag, ",")
		fi := fieldInfo{name: name, index: i}
		switch {
		case opt == "any":
			fi.kind = fAny
		case opt == "attrs":
			fi.kind = fAttrs
		case opt == "raw" && f.Type == nodePtr:
			fi.kind = fRaw
		case f.Type.Kind() == reflect.String:
			fi.kind = fString
		case f.Type == dateType:
			fi.kind = fDate
		case f.Type.Kind() == reflect.Struct:
			fi.kind = fStruct
		case f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Struct:
			fi.kind = fPtrStruct
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			fi.kind = fSliceStruct
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.String:
			fi.kind = fSliceString
		default:
			panic("edxml: unsupported field " + t.Name() + "." + f.Name)
		}
		out = append(out, fi)
	}
	fieldsMu.Store(t, out)
	return out
}

// decoder state shared by one mapping pass.
type mapper struct {
	issues []Issue
	pos    map[string]Pos // path → position of every element mapped onto a field
}

func (m *mapper) issue(code IssueCode, sev Severity, n *Node, path, msg string) {
	m.issues = append(m.issues, Issue{Code: code, Severity: sev, Path: path, Line: n.Pos.Line, Col: n.Pos.Col, Msg: msg})
}

// childPaths returns a function giving the path of each child of n in
// turn, with "[i]" when n has several children of that name (as walk).
func childPaths(n *Node, path string) func(c *Node) string {
	var count, seen map[string]int
	return func(c *Node) string {
		if count == nil {
			count, seen = map[string]int{}, map[string]int{}
			for _, x := range n.Children {
				count[x.Name.Local]++
			}
		}
		p := path + "/" + c.Name.Local
		if count[c.Name.Local] > 1 {
			seen[c.Name.Local]++
			p += "[" + itoa(seen[c.Name.Local]) + "]"
		}
		return p
	}
}

// isKnownSpace reports whether an element's namespace is the edXML one (or
// none: some producers forget the declaration).
func isKnownSpace(s string) bool { return s == NS || s == "" }

// decodeInto maps the children and attributes of n (at path) onto the
// struct v.
func (m *mapper) decodeInto(n *Node, path string, v reflect.Value) {
	fields := fieldsOf(v.Type())
	var extra reflect.Value
	for _, fi := range fields {
		switch fi.kind {
		case fAny:
			extra = v.Field(fi.index)
		case fAttrs:
			if a := userAttrs(n.Attrs); len(a) > 0 {
				v.Field(fi.index).Set(reflect.ValueOf(a))
			}
		}
	}
	keep := func(c *Node) {
		if extra.IsValid() {
			extra.Set(reflect.Append(extra, reflect.ValueOf(c)))
		}
	}
	pathOf := childPaths(n, path)
next:
	for _, c := range n.Children {
		cpath := pathOf(c)
		for _, fi := range fields {
			if fi.name == "" || fi.name != c.Name.Local {
				continue
			}
			if fi.kind != fRaw && !isKnownSpace(c.Name.Space) {
				continue
			}
			f := v.Field(fi.index)
			if m.pos != nil {
				m.pos[cpath] = c.Pos
			}
			switch fi.kind {
			case fRaw:
				if !f.IsNil() {
					m.issue(CodeDuplicate, SeverityWarning, c, cpath, "<"+c.Name.Local+"> occurs more than once; the extra one is kept as unknown")
					keep(c)
					continue next
				}
				if c.Name.Space != DSigNS {
					m.issue(CodeSignature, SeverityWarning, c, cpath, "<Signature> is not in the XML-DSig namespace (placeholder signature?)")
				}
				f.Set(reflect.ValueOf(c))
			case fString, fDate, fSliceString:
				if len(c.Children) > 0 {
					m.issue(CodeUnexpected, SeverityWarning, c, cpath, "<"+c.Name.Local+"> should hold text but has child elements; kept as unknown")
					keep(c)
					continue next
				}
				text := strings.TrimSpace(c.Text)
				if text == "" {
					continue next // empty = absent
				}
				switch fi.kind {
				case fSliceString:
					f.Set(reflect.Append(f, reflect.ValueOf(text)))
				case fString:
					if f.String() != "" {
						m.issue(CodeDuplicate, SeverityWarning, c, cpath, "<"+c.Name.Local+"> occurs more than once; the extra one is kept as unknown")
						keep(c)
						continue next
					}
					f.SetString(text)
				case fDate:
					if !f.Interface().(Date).IsZero() {
						m.issue(CodeDuplicate, SeverityWarning, c, cpath, "<"+c.Name.Local+"> occurs more than once; the extra one is kept as unknown")
						keep(c)
						continue next
					}
					d, canonical, err := ParseDate(text)
					if err != nil {
						m.issue(CodeDate, SeverityError, c, cpath, "date is not in an accepted form (yyyy/MM/dd[ HH:mm:ss], dd/MM/yyyy, yyyy-MM-dd)")
					} else if !canonical {
						m.issue(CodeDate, SeverityWarning, c, cpath, "date accepted but not in the canonical form yyyy/MM/dd[ HH:mm:ss]; written in it")
					}
					f.Set(reflect.ValueOf(d))
				}
			case fStruct:
				if !f.IsZero() {
					m.issue(CodeDuplicate, SeverityWarning, c, cpath, "<"+c.Name.Local+"> occurs more than once; the extra one is kept as unknown")
					keep(c)
					continue next
				}
				m.decodeInto(c, cpath, f)
			case fPtrStruct:
				if !f.IsNil() {
					m.issue(CodeDuplicate, SeverityWarning, c, cpath, "<"+c.Name.Local+"> occurs more than once; the extra one is kept as unknown")
					keep(c)
					continue next
				}
				nv := reflect.New(f.Type().Elem())
				m.decodeInto(c, cpath, nv.Elem())
				if !nv.Elem().IsZero() {
					f.Set(nv)
				}
			case fSliceStruct:
				nv := reflect.New(f.Type().Elem()).Elem()
				m.decodeInto(c, cpath, nv)
				if !nv.IsZero() {
					f.Set(reflect.Append(f, nv))
				}
			}
			continue next
		}
		if c.IsEmpty() && isKnownSpace(c.Name.Space) && knownName(c.Name.Local) {
			continue // an empty known element out of place: absent
		}
		keep(c)
	}
}

// userAttrs drops namespace declarations, which the writer regenerates.
func userAttrs(attrs []xml.Attr) []xml.Attr {
	var out []xml.Attr
	for _, a := range attrs {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue
		}
		out = append(out, a)
	}
	return out
}

var knownNames = sync.OnceValue(func() map[string]bool {
	names := map[string]bool{}
	var walk func(t reflect.Type)
	seen := map[reflect.Type]bool{}
	walk = func(t reflect.Type) {
		if seen[t] {
			return
		}
		seen[t] = true
		for _, fi := range fieldsOf(t) {
			if fi.name != "" {
				names[fi.name] = true
			}
			ft := t.Field(fi.index).Type
			for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && ft != dateType && ft != reflect.TypeOf(Node{}) {
				walk(ft)
			}
		}
	}
	walk(reflect.TypeOf(Packet{}))
	return names
})

func knownName(local string) bool { return knownNames()[local] }

// encode returns the element for struct v, or nil when it has no content.
func encode(name string, v reflect.Value) *Node {
	n := &Node{Name: xml.Name{Space: NS, Local: name}}
	for _, fi := range fieldsOf(v.Type()) {
		f := v.Field(fi.index)
		switch fi.kind {
		case fAttrs:
			n.Attrs = append(n.Attrs, f.Interface().([]xml.Attr)...)
		case fString:
			if s := f.String(); s != "" {
				n.Children = append(n.Children, leaf(fi.name, s))
			}
		case fDate:
			if d := f.Interface().(Date); !d.IsZero() {
				n.Children = append(n.Children, leaf(fi.name, d.String()))
			}
		case fSliceString:
			for i := 0; i < f.Len(); i++ {
				if s := f.Index(i).String(); s != "" {
					n.Children = append(n.Children, leaf(fi.name, s))
				}
			}
		case fStruct:
			if c := encode(fi.name, f); c != nil {
				n.Children = append(n.Children, c)
			}
		case fPtrStruct:
			if !f.IsNil() {
				if c := encode(fi.name, f.Elem()); c != nil {
					n.Children = append(n.Children, c)
				}
			}
		case fSliceStruct:
			for i := 0; i < f.Len(); i++ {
				if c := encode(fi.name, f.Index(i)); c != nil {
					n.Children = append(n.Children, c)
				}
			}
		case fRaw:
			if !f.IsNil() {
				n.Children = append(n.Children, f.Interface().(*Node))
			}
		case fAny:
			n.Children = append(n.Children, f.Interface().([]*Node)...)
		}
	}
	if len(n.Children) == 0 && len(n.Attrs) == 0 {
		return nil
	}
	return n
}

// canonicalForm names the layout a date is written in (not its value).
func canonicalForm(d Date) string {
	if d.HasTime {
		return "yyyy/MM/dd HH:mm:ss"
	}
	return "yyyy/MM/dd"
}

func leaf(name, text string) *Node {
	return &Node{Name: xml.Name{Space: NS, Local: name}, Text: text}
}

// walk visits n and its descendants with their paths. A step gets a 1-based
// index "[i]" when its parent has more than one child of that name, so
// paths look like /edXML/edXMLEnvelope/edXMLHeader/MessageHeader/To[2]/OrganId.
func walk(n *Node, path string, fn func(n *Node, path string)) {
	fn(n, path)
	count := map[string]int{}
	for _, c := range n.Children {
		count[c.Name.Local]++
	}
	seen := map[string]int{}
	for _, c := range n.Children {
		p := path + "/" + c.Name.Local
		if count[c.Name.Local] > 1 {
			seen[c.Name.Local]++
			p += "[" + itoa(seen[c.Name.Local]) + "]"
		}
		walk(c, p, fn)
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// stripIndex turns "/a/To[2]/b" into "/a/To/b".
func stripIndex(p string) string {
	if !strings.Contains(p, "[") {
		return p
	}
	var b strings.Builder
	skip := false
	for _, r := range p {
		switch {
		case r == '[':
			skip = true
		case r == ']':
			skip = false
		case !skip:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Tree returns p as a Node tree rooted at edXML, without attachment
// content (Attachment elements carry their metadata only). Validate walks it.
func (p *Packet) Tree() *Node {
	root := encode("edXML", reflect.ValueOf(p).Elem())
	if root == nil {
		root = &Node{Name: xml.Name{Space: NS, Local: "edXML"}}
	}
	if len(p.Attachments) > 0 || len(p.AttachmentExtra) > 0 {
		ae := &Node{Name: xml.Name{Space: NS, Local: "AttachmentEncoded"}}
		for _, a := range p.Attachments {
			ae.Children = append(ae.Children, a.node())
		}
		ae.Children = append(ae.Children, p.AttachmentExtra...)
		// AttachmentEncoded follows edXMLEnvelope; unknown root children go last.
		root.Children = insertAfterFirst(root.Children, ae)
	}
	return root
}

func insertAfterFirst(cs []*Node, n *Node) []*Node {
	if len(cs) == 0 {
		return []*Node{n}
	}
	out := make([]*Node, 0, len(cs)+1)
	out = append(out, cs[0], n)
	return append(out, cs[1:]...)
}

// node returns the metadata element of a (no ContentTransferEncoded).
func (a *Attachment) node() *Node {
	n := &Node{Name: xml.Name{Space: NS, Local: "Attachment"}, Attrs: a.Attrs, Pos: a.pos}
	for _, kv := range [][2]string{{"ContentId", a.ContentId}, {"AttachmentName", a.AttachmentName}, {"Description", a.Description}, {"ContentType", a.ContentType}} {
		if kv[1] != "" {
			l := leaf(kv[0], kv[1])
			for _, lp := range a.leafPos {
				if lp.name == kv[0] {
					l.Pos = lp.pos
				}
			}
			n.Children = append(n.Children, l)
		}
	}
	n.Children = append(n.Children, a.Extra...)
	return n
}
