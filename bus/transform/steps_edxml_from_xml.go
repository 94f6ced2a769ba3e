package transform

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/edxml"
	"github.com/tuyenquang/lgsp/bus/xmlscan"
)

// FromXMLConfig configures the edxml_from_xml step.
type FromXMLConfig struct {
	// Map maps an edXML target field (see XMLTargets) to a path in the
	// source XML (see ParseXMLPath for the syntax).
	Map map[string]string `yaml:"map"`
	// Set gives edXML target fields a constant value (used when Map does
	// not give the field a value).
	Set map[string]string `yaml:"set"`
	// MaxBytes bounds the source XML; 0 is 16 MiB.
	MaxBytes int64 `yaml:"max_bytes"`
}

func init() {
	bus.DefaultSteps.Register(bus.StepSpec{
		Name:    "edxml_from_xml",
		Summary: "Maps a legacy XML body into an edXML document packet with a declarative field mapping (edXML target → simple path in the source XML, plus constants), completed from the exchange metadata like edxml_from_json, and replaces the payload with it (application/xml).",
		Example: `- edxml_from_xml: {map: {"MessageHeader/Code/CodeNumber": "/CongVan/SoKyHieu/So", "MessageHeader/Code/CodeNotation": "/CongVan/SoKyHieu/KyHieu", "MessageHeader/Subject": "/CongVan/TrichYeu"}, set: {"MessageHeader/DocumentType/TypeName": "Công văn"}}`,
		New:     newFromXML,
	})
}

// target sets one field of a Document; repeated targets get every value.
type target struct {
	repeated bool
	set      func(d *Document, vals []string)
}

func from(d *Document) *Organ {
	if d.From == nil {
		d.From = &Organ{}
	}
	return d.From
}
func code(d *Document) *DocCode {
	if d.Code == nil {
		d.Code = &DocCode{}
	}
	return d.Code
}
func prom(d *Document) *Promulgation {
	if d.Promulgation == nil {
		d.Promulgation = &Promulgation{}
	}
	return d.Promulgation
}
func dtype(d *Document) *DocType {
	if d.Type == nil {
		d.Type = &DocType{}
	}
	return d.Type
}
func signer(d *Document) *Signer {
	if d.Signer == nil {
		d.Signer = &Signer{}
	}
	return d.Signer
}
func business(d *Document) *Business {
	if d.Business == nil {
		d.Business = &Business{}
	}
	return d.Business
}
func to(d *Document, n int) {
	for len(d.To) < n {
		d.To = append(d.To, Organ{})
	}
}

func one(f func(d *Document, v string)) target {
	return target{set: func(d *Document, vals []string) { f(d, vals[0]) }}
}

// xmlTargets are the edXML fields edxml_from_xml can fill, relative to
// edXMLEnvelope/edXMLHeader. From/OrganId is always the sending system.
var xmlTargets = map[string]target{
	"MessageHeader/From/OrganName":                    one(func(d *Document, v string) { from(d).OrganName = v }),
	"MessageHeader/From/OrganizationInCharge":         one(func(d *Document, v string) { from(d).OrganizationInCharge = v }),
	"MessageHeader/From/OrganAdd":                     one(func(d *Document, v string) { from(d).Address = v }),
	"MessageHeader/From/Email":                        one(func(d *Document, v string) { from(d).Email = v }),
	"MessageHeader/From/Telephone":                    one(func(d *Document, v string) { from(d).Telephone = v }),
	"MessageHeader/From/Fax":                          one(func(d *Document, v string) { from(d).Fax = v }),
	"MessageHeader/From/Website":                      one(func(d *Document, v string) { from(d).Website = v }),
	"MessageHeader/DocumentId":                        one(func(d *Document, v string) { d.DocumentID = v }),
	"MessageHeader/Code/CodeNumber":                   one(func(d *Document, v string) { code(d).Number = Text(v) }),
	"MessageHeader/Code/CodeNotation":                 one(func(d *Document, v string) { code(d).Notation = v }),
	"MessageHeader/PromulgationInfo/Place":            one(func(d *Document, v string) { prom(d).Place = v }),
	"MessageHeader/PromulgationInfo/PromulgationDate": one(func(d *Document, v string) { prom(d).Date = v }),
	"MessageHeader/DocumentType/Type":                 one(func(d *Document, v string) { dtype(d).Code = Text(v) }),
	"MessageHeader/DocumentType/TypeDetail":           one(func(d *Document, v string) { dtype(d).Detail = Text(v) }),
	"MessageHeader/DocumentType/TypeName":             one(func(d *Document, v string) { dtype(d).Name = v }),
	"MessageHeader/Subject":                           one(func(d *Document, v string) { d.Subject = v }),
	"MessageHeader/Content":                           one(func(d *Document, v string) { d.Content = v }),
	"MessageHeader/SignerInfo/Competence":             one(func(d *Document, v string) { signer(d).Competence = v }),
	"MessageHeader/SignerInfo/Position":               one(func(d *Document, v string) { signer(d).Position = v }),
	"MessageHeader/SignerInfo/FullName":               one(func(d *Document, v string) { signer(d).FullName = v }),
	"MessageHeader/DueDate":                           one(func(d *Document, v string) { d.DueDate = v }),
	"MessageHeader/OtherInfo/Priority":                one(func(d *Document, v string) { d.Priority = Text(v) }),
	"MessageHeader/OtherInfo/SphereOfPromulgation":    one(func(d *Document, v string) { d.SphereOfPromulgation = v }),
	"MessageHeader/OtherInfo/TyperNotation":           one(func(d *Document, v string) { d.TyperNotation = v }),
	"MessageHeader/OtherInfo/PromulgationAmount":      one(func(d *Document, v string) { d.PromulgationAmount = Text(v) }),
	"MessageHeader/OtherInfo/PageAmount":              one(func(d *Document, v string) { d.PageAmount = Text(v) }),
	"MessageHeader/SteeringType":                      one(func(d *Document, v string) { d.SteeringType = Text(v) }),
	"MessageHeader/OtherInfo/Appendixes/Appendix":     {repeated: true, set: func(d *Document, vals []string) { d.Appendixes = vals }},
	"MessageHeader/ToPlaces/Place":                    {repeated: true, set: func(d *Document, vals []string) { d.ToPlaces = vals }},
	"MessageHeader/To/OrganId": {repeated: true, set: func(d *Document, vals []string) {
		to(d, len(vals))
		for i, v := range vals {
			d.To[i].OrganID = v
		}
	}},
	"MessageHeader/To/OrganName": {repeated: true, set: func(d *Document, vals []string) {
		to(d, len(vals))
		for i, v := range vals {
			d.To[i].OrganName = v
		}
	}},
	"TraceHeaderList/Bussiness/BussinessDocType":   one(func(d *Document, v string) { business(d).Type = Text(v) }),
	"TraceHeaderList/Bussiness/BussinessDocReason": one(func(d *Document, v string) { business(d).Reason = v }),
	"TraceHeaderList/Bussiness/DocumentId":         one(func(d *Document, v string) { business(d).DocumentID = v }),
	"TraceHeaderList/Bussiness/Paper":              one(func(d *Document, v string) { business(d).Paper = Text(v) }),
}

// XMLTargets lists the edXML fields edxml_from_xml can fill, sorted; the
// repeated ones take every match of their source path.
func XMLTargets() (single, repeated []string) {
	for k, t := range xmlTargets {
		if t.repeated {
			repeated = append(repeated, k)
		} else {
			single = append(single, k)
		}
	}
	sort.Strings(single)
	sort.Strings(repeated)
	return single, repeated
}

// XMLPath is a compiled source path.
type XMLPath struct {
	steps []pathStep
	attr  string // "" selects the element's text
	text  string
}

type pathStep struct {
	name  string
	index int // 1-based; 0 = any
}

func (p XMLPath) String() string { return p.text }

// ParseXMLPath compiles a source path: "/" then element local names
// separated by "/" (namespaces are ignored), each optionally followed by a
// 1-based index "[n]" among same-named siblings, and optionally a final
// "@name" selecting an attribute instead of the element's text. Examples:
// "/CongVan/SoKyHieu/So", "/CongVan/NoiNhan/DonVi[2]/Ten",
// "/CongVan/@ngayBanHanh".
func ParseXMLPath(s string) (XMLPath, error) {
	p := XMLPath{text: s}
	rest, ok := strings.CutPrefix(s, "/")
	if !ok {
		return p, fmt.Errorf("source path %q must start with '/' (the root element)", s)
	}
	parts := strings.Split(rest, "/")
	for i, part := range parts {
		if a, isAttr := strings.CutPrefix(part, "@"); isAttr {
			if i != len(parts)-1 || i == 0 || !xmlName(a) {
				return p, fmt.Errorf("source path %q: @attribute must be the last step, after an element", s)
			}
			p.attr = a
			break
		}
		name, idx := part, 0
		if j := strings.IndexByte(part, '['); j >= 0 {
			n, err := strconv.Atoi(strings.TrimSuffix(part[j+1:], "]"))
			if !strings.HasSuffix(part, "]") || err != nil || n < 1 {
				return p, fmt.Errorf("source path %q: index in %q must be [n] with n ≥ 1", s, part)
			}
			name, idx = part[:j], n
		}
		if !xmlName(name) {
			return p, fmt.Errorf("source path %q: %q is not an element name", s, name)
		}
		p.steps = append(p.steps, pathStep{name, idx})
	}
	return p, nil
}

func xmlName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		ok := r == '_' || r == '-' || r == '.' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 0x7f
		if !ok || (i == 0 && (r == '-' || r == '.' || r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}

type mapping struct {
	target string
	path   XMLPath
}

// XMLMapping is a compiled edxml_from_xml configuration.
type XMLMapping struct {
	maps []mapping
	set  map[string]string
	max  int64
}

// CompileXMLMapping checks a mapping (targets known, paths well-formed, no
// target both mapped and set) and compiles it.
func CompileXMLMapping(m, set map[string]string) (*XMLMapping, error) {
	var errs []error
	x := &XMLMapping{set: map[string]string{}}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	unknown := func(k string) error {
		return fmt.Errorf("unknown edXML target %q (targets are relative to edXMLHeader, e.g. MessageHeader/Code/CodeNumber; docs/edxml.md lists them)", k)
	}
	for _, k := range keys {
		if _, ok := xmlTargets[k]; !ok {
			errs = append(errs, fmt.Errorf("map: %w", unknown(k)))
			continue
		}
		p, err := ParseXMLPath(m[k])
		if err != nil {
			errs = append(errs, fmt.Errorf("map %s: %w", k, err))
			continue
		}
		x.maps = append(x.maps, mapping{k, p})
	}
	keys = keys[:0]
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t, ok := xmlTargets[k]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("set: %w", unknown(k)))
		case t.repeated:
			errs = append(errs, fmt.Errorf("set: %s is repeated; map it from the source instead", k))
		default:
			x.set[k] = set[k]
		}
	}
	if len(x.maps) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("map: at least one target is required"))
	}
	return x, errors.Join(errs...)
}

// Document reads the source XML from r and fills a Document: mapped values
// first (trimmed; empty values count as absent), constants where no value
// was found.
func (x *XMLMapping) Document(r io.Reader) (*Document, error) {
	vals, err := x.collect(r)
	if err != nil {
		return nil, err
	}
	d := &Document{}
	done := map[string]bool{}
	for _, mp := range x.maps {
		if v := vals[mp.target]; len(v) > 0 {
			t := xmlTargets[mp.target]
			if !t.repeated {
				v = v[:1]
			}
			t.set(d, v)
			done[mp.target] = true
		}
	}
	for k, v := range x.set {
		if !done[k] {
			xmlTargets[k].set(d, []string{v})
		}
	}
	return d, nil
}

type frame struct {
	name   string
	counts map[string]int
	// collecting mapping indexes and their text
	open []int
}

func (x *XMLMapping) collect(r io.Reader) (map[string][]string, error) {
	max := x.max
	if max <= 0 {
		max = 16 << 20
	}
	lr := &io.LimitedReader{R: r, N: max + 1}
	dec := xml.NewDecoder(lr)
	vals := map[string][]string{}
	stack := []*frame{{counts: map[string]int{}}}
	texts := make([]strings.Builder, len(x.maps))
	depthOf := make([]int, len(x.maps)) // stack depth where a mapping collects; 0 = not
	pos := func() string {
		line, col := dec.InputPos()
		return fmt.Sprintf("%d:%d", line, col)
	}
	// The element stack and the sibling counts grow with the document's
	// shape: the same limits as the pre-scan of DOM parsers apply.
	cnt := xmlscan.NewCounter(xmlscan.Limits{})
	tooComplex := func(le *xmlscan.LimitError) error {
		return badf("XML body at %s: %s (%s): %s", pos(), bus.ErrXMLTooComplex.Code, le.Limit, le.What())
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if lr.N <= 0 {
			return nil, badf("XML body is larger than %d bytes", max)
		}
		if err != nil {
			return nil, badf("XML body at %s: not well-formed XML", pos())
		}
		switch t := tok.(type) {
		case xml.Directive:
			return nil, badf("XML body at %s: DOCTYPE and entity declarations are refused", pos())
		case xml.Comment, xml.ProcInst:
			if le := cnt.Node(); le != nil {
				return nil, tooComplex(le)
			}
		case xml.StartElement:
			if le := cnt.Start(t.Name, t.Attr); le != nil {
				return nil, tooComplex(le)
			}
			if len(stack) > maxDepth*2 {
				return nil, badf("XML body at %s: nested deeper than %d", pos(), maxDepth*2)
			}
			parent := stack[len(stack)-1]
			parent.counts[t.Name.Local]++
			f := &frame{name: t.Name.Local, counts: map[string]int{}}
			idx := parent.counts[t.Name.Local]
			stack = append(stack, f)
			for i, mp := range x.maps {
				if !mp.path.matches(stack, idx) {
					continue
				}
				if mp.path.attr != "" {
					for _, a := range t.Attr {
						if a.Name.Local == mp.path.attr {
							if v := strings.TrimSpace(a.Value); v != "" {
								vals[mp.target] = append(vals[mp.target], v)
							}
						}
					}
					continue
				}
				depthOf[i] = len(stack)
				texts[i].Reset()
			}
		case xml.CharData:
			for i := range x.maps {
				if depthOf[i] > 0 {
					if texts[i].Len()+len(t) > 1<<20 {
						return nil, badf("XML body at %s: a mapped value is longer than 1 MiB", pos())
					}
					texts[i].Write(t)
				}
			}
		case xml.EndElement:
			cnt.End()
			for i, mp := range x.maps {
				if depthOf[i] == len(stack) {
					if v := strings.TrimSpace(texts[i].String()); v != "" {
						vals[mp.target] = append(vals[mp.target], v)
					}
					depthOf[i] = 0
				}
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) != 1 {
		return nil, badf("XML body ends inside an element")
	}
	if len(stack[0].counts) == 0 {
		return nil, badf("XML body has no root element")
	}
	return vals, nil
}

// matches reports whether the element path in stack (stack[0] is the
// document; the last frame is the element just opened, the idx-th of its
// name among its siblings) is the path p, up to the attribute. Indexes of
// the ancestors are checked against their recorded positions.
func (p XMLPath) matches(stack []*frame, idx int) bool {
	if len(stack)-1 != len(p.steps) {
		return false
	}
	for i, st := range p.steps {
		f := stack[i+1]
		if f.name != st.name {
			return false
		}
		if st.index == 0 {
			continue
		}
		var at int
		if i == len(p.steps)-1 {
			at = idx
		} else {
			at = stack[i].counts[f.name] // siblings seen so far: the ancestor is the last one
		}
		if at != st.index {
			return false
		}
	}
	return true
}

func newFromXML(decode func(into any) error) (bus.Step, error) {
	var c FromXMLConfig
	if err := decode(&c); err != nil {
		return nil, err
	}
	if c.MaxBytes < 0 {
		return nil, fmt.Errorf("max_bytes must not be negative, got %d", c.MaxBytes)
	}
	x, err := CompileXMLMapping(c.Map, c.Set)
	if err != nil {
		return nil, err
	}
	x.max = c.MaxBytes
	const step = "edxml_from_xml"
	return bus.StepFunc(func(ctx context.Context, m *bus.Message) error {
		if err := needContent(step, m, true); err != nil {
			return err
		}
		rc, err := m.Open()
		if err != nil {
			return fmt.Errorf("%s: opening content: %w", step, err)
		}
		d, err := x.Document(rc)
		rc.Close()
		if err != nil {
			return contentFailure(step, err)
		}
		p, err := d.Packet(metaOf(ctx, m), nil)
		if err != nil {
			return contentFailure(step, err)
		}
		return replaceWith(ctx, step, m, func(w io.Writer) error { return edxml.Build(w, p) })
	}), nil
}
