package edxml

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

//go:embed rules.json
var defaultRules []byte

// Rules are the validation rules as data: code lists, required and
// forbidden paths per packet kind, value formats, conditional rules and the
// identifier forms. The embedded rules.json is the default; an amended
// version can be loaded with LoadRules without code changes.
//
// Paths are element paths without indices. A path starting with "//"
// matches any element whose path ends with the rest (e.g. "//To/OrganId").
// A required path "P/C" means: every element matching P has a non-empty C
// child; a required path with one step below the root means the element
// exists.
type Rules struct {
	Version      string                       `json:"version"`
	CodeLists    map[string]map[string]string `json:"codeLists"`
	Kinds        map[string]KindRules         `json:"kinds"`
	Values       []ValueRule                  `json:"values"`
	Conditionals []Conditional                `json:"conditionals"`
	Identifier   IdentifierRule               `json:"identifier"`
	Checks       map[string]Severity          `json:"checks"`

	legacy, accepted *regexp.Regexp
	patterns         map[string]*regexp.Regexp
}

// KindRules are the structural rules of one packet kind.
type KindRules struct {
	Required    []string `json:"required"`
	Recommended []string `json:"recommended"` // missing → warning edxml.required
	Forbidden   []string `json:"forbidden"`
}

// ValueRule constrains the text of every element matching Path.
type ValueRule struct {
	Path      string   `json:"path"`
	CodeList  string   `json:"codeList,omitempty"`
	Format    string   `json:"format,omitempty"` // int, date, datetime, identifier
	Pattern   string   `json:"pattern,omitempty"`
	MaxLength int      `json:"maxLength,omitempty"` // in characters
	Severity  Severity `json:"severity,omitempty"`
}

// Conditional is "when the element at When.Path equals (or is in) a value,
// Require these paths / Forbid those".
type Conditional struct {
	ID       string   `json:"id"`
	When     When     `json:"when"`
	Require  []string `json:"require,omitempty"`
	Forbid   []string `json:"forbid,omitempty"`
	Severity Severity `json:"severity,omitempty"`
	Message  string   `json:"message"`
}

// When selects the packets a Conditional applies to.
type When struct {
	Path   string   `json:"path"`
	Equals string   `json:"equals,omitempty"`
	In     []string `json:"in,omitempty"`
}

// IdentifierRule is docs/edxml.md: the legacy LLL.KK.JJ.XNN form, or a dotted
// QĐ 20/2020 form up to MaxLength characters (accepted with a warning).
type IdentifierRule struct {
	Legacy            string   `json:"legacy"`
	Accepted          string   `json:"accepted"`
	MaxLength         int      `json:"maxLength"`
	NonLegacySeverity Severity `json:"nonLegacySeverity"`
	InvalidSeverity   Severity `json:"invalidSeverity"`
}

// LoadRules reads rules in the rules.json format.
func LoadRules(r io.Reader) (*Rules, error) {
	var rs Rules
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rs); err != nil {
		return nil, fmt.Errorf("reading edxml rules: %w", err)
	}
	var err error
	if rs.legacy, err = regexp.Compile(rs.Identifier.Legacy); err != nil {
		return nil, fmt.Errorf("edxml rules: identifier.legacy: %w", err)
	}
	if rs.accepted, err = regexp.Compile(rs.Identifier.Accepted); err != nil {
		return nil, fmt.Errorf("edxml rules: identifier.accepted: %w", err)
	}
	rs.patterns = map[string]*regexp.Regexp{}
	for i, v := range rs.Values {
		if v.CodeList != "" && rs.CodeLists[v.CodeList] == nil {
			return nil, fmt.Errorf("edxml rules: values[%d] (%s): unknown code list %q", i, v.Path, v.CodeList)
		}
		switch v.Format {
		case "", "int", "date", "datetime", "identifier":
		default:
			return nil, fmt.Errorf("edxml rules: values[%d] (%s): unknown format %q", i, v.Path, v.Format)
		}
		if v.Pattern != "" {
			re, err := regexp.Compile(v.Pattern)
			if err != nil {
				return nil, fmt.Errorf("edxml rules: values[%d] (%s): %w", i, v.Path, err)
			}
			rs.patterns[v.Pattern] = re
		}
	}
	for _, k := range []string{"document", "status"} {
		if _, ok := rs.Kinds[k]; !ok {
			return nil, fmt.Errorf("edxml rules: kinds.%s missing", k)
		}
	}
	return &rs, nil
}

// DefaultRules returns the embedded rules.json.
func DefaultRules() *Rules {
	rs, err := LoadRules(bytes.NewReader(defaultRules))
	if err != nil {
		panic("edxml: embedded rules.json: " + err.Error())
	}
	return rs
}

var stdRules = DefaultRules()

// CodeLabel returns the label of a code from a code list ("" if unknown).
func CodeLabel(list, code string) string { return stdRules.CodeLists[list][code] }

// Validate checks p against the embedded rules; see Rules.Validate.
func Validate(p *Packet) []Issue { return stdRules.Validate(p) }

// Validate returns the parse findings of p plus every rule violation,
// sorted by position then path. Use HasErrors to decide acceptance.
func (rs *Rules) Validate(p *Packet) []Issue {
	v := &validator{rs: rs, p: p}
	v.issues = append(v.issues, p.issues...)
	v.index(p.Tree())
	kind := "document"
	if p.Kind() == KindStatus {
		kind = "status"
	}
	kr := rs.Kinds[kind]
	for _, r := range kr.Required {
		v.required(r, SeverityError, "required in a "+kind+" packet")
	}
	rec := rs.Checks["recommended"]
	for _, r := range kr.Recommended {
		v.required(r, rec, "recommended in a "+kind+" packet")
	}
	for _, f := range kr.Forbidden {
		for _, pn := range v.match(f) {
			v.add(CodeForbidden, SeverityError, pn, "<"+pn.n.Name.Local+"> must not appear in a "+kind+" packet")
		}
	}
	for _, vr := range rs.Values {
		for _, pn := range v.match(vr.Path) {
			v.value(vr, pn)
		}
	}
	for _, c := range rs.Conditionals {
		v.conditional(c)
	}
	v.references()
	v.documentId()
	sort.SliceStable(v.issues, func(i, j int) bool {
		a, b := v.issues[i], v.issues[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Path < b.Path
	})
	return v.issues
}

// pathNode is an element of the tree Validate walks, or (with path set and
// at 0) the place of a missing one. The paths of walked elements are made
// from their ancestors only when an issue names them: one string per
// element would cost more than the tree (see index).
type pathNode struct {
	n          *Node
	path, bare string
	at         int // 1 + index in validator.nodes; 0 for a synthetic entry
	parent     int // index of the parent in validator.nodes; -1 for the root
	sib        int // 1-based index among same-named siblings when there are several, else 0
}

type validator struct {
	rs     *Rules
	p      *Packet
	nodes  []pathNode
	issues []Issue
}

func (v *validator) add(code IssueCode, sev Severity, pn pathNode, msg string) {
	i := Issue{Code: code, Severity: sev, Path: v.pathOf(pn), Msg: msg}
	i.Line, i.Col = v.posOf(pn, i.Path)
	v.issues = append(v.issues, i)
}

// posOf is the position of a walked element: its own (elements kept as
// read), or the one Parse recorded for its path (elements of the model).
func (v *validator) posOf(pn pathNode, path string) (line, col int) {
	if pn.at > 0 && pn.n.Pos.Line > 0 {
		return pn.n.Pos.Line, pn.n.Pos.Col
	}
	pos := v.p.pos[path]
	return pos.Line, pos.Col
}

// index lists root and its descendants in document order with their parent
// and sibling index (the "[i]" of walk's paths).
func (v *validator) index(root *Node) {
	v.nodes = append(v.nodes, pathNode{n: root, at: 1, parent: -1})
	for i := 0; i < len(v.nodes); i++ {
		n := v.nodes[i].n
		var count map[string]int
		if len(n.Children) > 1 {
			count = map[string]int{}
			for _, c := range n.Children {
				count[c.Name.Local]++
			}
		}
		seen := map[string]int{}
		for _, c := range n.Children {
			sib := 0
			if count[c.Name.Local] > 1 {
				seen[c.Name.Local]++
				sib = seen[c.Name.Local]
			}
			v.nodes = append(v.nodes, pathNode{n: c, at: len(v.nodes) + 1, parent: i, sib: sib})
		}
	}
}

// pathOf is the element path of pn, with indices; bareOf without.
func (v *validator) pathOf(pn pathNode) string { return v.build(pn, true) }

func (v *validator) bareOf(pn pathNode) string { return v.build(pn, false) }

func (v *validator) build(pn pathNode, indices bool) string {
	if pn.at == 0 {
		if indices {
			return pn.path
		}
		return stripIndex(pn.path)
	}
	var steps []int
	for i := pn.at - 1; i >= 0; i = v.nodes[i].parent {
		steps = append(steps, i)
	}
	var b strings.Builder
	for k := len(steps) - 1; k >= 0; k-- {
		x := v.nodes[steps[k]]
		b.WriteByte('/')
		b.WriteString(x.n.Name.Local)
		if indices && x.sib > 0 {
			b.WriteString("[" + itoa(x.sib) + "]")
		}
	}
	return b.String()
}

// matches reports whether the element at index i has the bare path rule,
// or, for a rule "//a/b", a bare path ending in /a/b. It compares names
// from the element up, without building its path.
func (v *validator) matches(rule string, i int) bool {
	r, anywhere := rule, strings.HasPrefix(rule, "//")
	if anywhere {
		r = rule[1:]
	}
	for {
		k := strings.LastIndexByte(r, '/')
		if k < 0 || i < 0 || v.nodes[i].n.Name.Local != r[k+1:] {
			return false
		}
		r, i = r[:k], v.nodes[i].parent
		if r == "" {
			return anywhere || i < 0
		}
	}
}

func (v *validator) match(rule string) []pathNode {
	var out []pathNode
	for i, pn := range v.nodes {
		if v.matches(rule, i) {
			out = append(out, pn)
		}
	}
	return out
}

// present reports whether n counts as present (non-empty).
func present(n *Node) bool { return !n.IsEmpty() }

func (v *validator) required(rule string, sev Severity, why string) {
	parent, child := rule[:strings.LastIndexByte(rule, '/')], rule[strings.LastIndexByte(rule, '/')+1:]
	if parent == "" || parent == "/" {
		return
	}
	for _, pn := range v.match(parent) {
		if !slices.ContainsFunc(pn.n.Children, func(c *Node) bool { return c.Name.Local == child && present(c) }) {
			v.add(CodeRequired, sev, pathNode{n: pn.n, path: v.pathOf(pn) + "/" + child}, "<"+child+"> is missing or empty ("+why+")")
			v.fixPos(pn)
		}
	}
}

// fixPos points an issue about a missing child at its parent.
func (v *validator) fixPos(parent pathNode) {
	last := &v.issues[len(v.issues)-1]
	if last.Line == 0 {
		last.Line, last.Col = v.posOf(parent, v.pathOf(parent))
	}
}

func (v *validator) value(vr ValueRule, pn pathNode) {
	text := strings.TrimSpace(pn.n.Text)
	if text == "" || len(pn.n.Children) > 0 {
		return
	}
	sev := vr.Severity
	if vr.CodeList != "" {
		if _, ok := v.rs.CodeLists[vr.CodeList][text]; !ok {
			v.add(CodeCodeList, sev, pn, fmt.Sprintf("the value (%s) is not in code list %s (%s)", ValueRef(text), vr.CodeList, strings.Join(sortedKeys(v.rs.CodeLists[vr.CodeList]), ", ")))
		}
	}
	switch vr.Format {
	case "int":
		if _, err := strconv.Atoi(text); err != nil {
			v.add(CodeFormat, sev, pn, fmt.Sprintf("the value (%s) is not an integer", ValueRef(text)))
		}
	case "date", "datetime":
		d, _, err := ParseDate(text)
		if err != nil {
			break // reported by Parse with the original text; a built value keeps Raw
		}
		if vr.Format == "datetime" && !d.HasTime {
			v.add(CodeDate, SeverityWarning, pn, "the date has no time of day; yyyy/MM/dd HH:mm:ss expected")
		}
	case "identifier":
		v.identifier(pn, text)
	}
	if vr.MaxLength > 0 && utf8.RuneCountInString(text) > vr.MaxLength {
		v.add(CodeFormat, sev, pn, fmt.Sprintf("longer than %d characters", vr.MaxLength))
	}
	if vr.Pattern != "" && !v.rs.patterns[vr.Pattern].MatchString(text) {
		v.add(CodeFormat, sev, pn, fmt.Sprintf("the value (%s) does not match %s", ValueRef(text), vr.Pattern))
	}
	// Dates the caller set to an unparsable value (Raw) are errors too.
	if vr.Format == "date" || vr.Format == "datetime" {
		if _, _, err := ParseDate(text); err != nil && !v.reportedByParse(pn.path) {
			v.add(CodeDate, SeverityError, pn, err.Error())
		}
	}
}

func (v *validator) reportedByParse(path string) bool {
	for _, i := range v.p.issues {
		if i.Code == CodeDate && i.Path == path {
			return true
		}
	}
	return false
}

func (v *validator) identifier(pn pathNode, id string) {
	ir := v.rs.Identifier
	switch {
	case v.rs.legacy.MatchString(id):
	case v.rs.accepted.MatchString(id) && len(id) <= ir.MaxLength:
		v.add(CodeIdentifier, ir.NonLegacySeverity, pn, fmt.Sprintf("the identifier (%s) is not in the legacy form LLL.KK.JJ.XNN; accepted as a dotted identifier (QĐ 20/2020, ≤ %d)", ValueRef(id), ir.MaxLength))
	default:
		v.add(CodeIdentifier, ir.InvalidSeverity, pn, fmt.Sprintf("the value (%s) is not an organisation identifier (LLL.KK.JJ.XNN or dotted groups of 0-9A-Z, ≤ %d characters)", ValueRef(id), ir.MaxLength))
	}
}

func (v *validator) conditional(c Conditional) {
	fired := false
	var at pathNode
	for _, pn := range v.match(c.When.Path) {
		t := strings.TrimSpace(pn.n.Text)
		if (c.When.Equals != "" && t == c.When.Equals) || slices.Contains(c.When.In, t) {
			fired, at = true, pn
			break
		}
	}
	if !fired {
		return
	}
	for _, r := range c.Require {
		if !slices.ContainsFunc(v.match(r), func(pn pathNode) bool { return present(pn.n) }) {
			v.add(CodeConditional, c.Severity, pathNode{path: r}, c.Message+" ("+c.ID+": "+lastStep(r)+" missing)")
			v.fixPos(at)
		}
	}
	for _, f := range c.Forbid {
		for _, pn := range v.match(f) {
			v.add(CodeConditional, c.Severity, pn, c.Message+" ("+c.ID+")")
		}
	}
}

func lastStep(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }

// references checks that manifest references and attachments match one to
// one by ContentId (compared without "cid:").
func (v *validator) references() {
	sev, ok := v.rs.Checks["referenceMatch"]
	if !ok {
		return
	}
	refs := map[string]int{}
	atts := map[string]int{}
	var refNodes, attNodes []pathNode
	for _, pn := range v.nodes {
		if pn.n.Name.Local != "ContentId" {
			continue
		}
		id := stripCid(strings.TrimSpace(pn.n.Text))
		switch bare := v.bareOf(pn); {
		case strings.HasSuffix(bare, "/edXMLManifest/Reference/ContentId"):
			refs[id]++
			refNodes = append(refNodes, pn)
		case bare == "/edXML/AttachmentEncoded/Attachment/ContentId":
			atts[id]++
			attNodes = append(attNodes, pn)
		}
	}
	for _, pn := range refNodes {
		id := stripCid(strings.TrimSpace(pn.n.Text))
		if refs[id] > 1 {
			v.add(CodeReference, sev, pn, fmt.Sprintf("ContentId (%s) used by more than one Reference", ValueRef(id)))
		}
		if atts[id] == 0 {
			v.add(CodeReference, sev, pn, fmt.Sprintf("no Attachment carries the ContentId (%s)", ValueRef(id)))
		}
	}
	for _, pn := range attNodes {
		id := stripCid(strings.TrimSpace(pn.n.Text))
		if atts[id] > 1 {
			v.add(CodeReference, sev, pn, fmt.Sprintf("ContentId (%s) used by more than one Attachment", ValueRef(id)))
		}
		if refs[id] == 0 && v.p.Kind() == KindDocument {
			v.add(CodeReference, sev, pn, fmt.Sprintf("the Attachment with ContentId (%s) has no manifest Reference", ValueRef(id)))
		}
	}
}

// documentId warns when DocumentId differs from the composed form; it is
// never used as a key, so this is informational.
func (v *validator) documentId() {
	sev, ok := v.rs.Checks["documentIdComposed"]
	mh := &v.p.Envelope.Header.MessageHeader
	if !ok || v.p.Kind() != KindDocument || mh.DocumentId == "" || mh.From == nil || mh.Code == nil || mh.PromulgationInfo == nil || mh.PromulgationInfo.PromulgationDate.Time.IsZero() {
		return
	}
	want := ComposeDocumentId(mh.From.OrganId, mh.PromulgationInfo.PromulgationDate.Time, mh.Code.CodeNumber, mh.Code.CodeNotation)
	if mh.DocumentId != want {
		path := "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader/DocumentId"
		v.add(CodeDocumentId, sev, pathNode{path: path}, fmt.Sprintf("DocumentId (%s) differs from the one composed of From/OrganId, PromulgationDate and Code (%s); kept as is, not used as a key", ValueRef(mh.DocumentId), ValueRef(want)))
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
