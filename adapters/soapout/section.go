package soapout

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"github.com/tuyenquang/lgsp/adapters/soap"
	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/route"
)

// SectionName is the route-file section in which pushes are declared.
const SectionName = "pushes"

// Defaults and limits of pushes (C1, F4–F7).
const (
	DefaultPushTimeout = 30 * time.Second
	MaxPushTimeout     = 30 * time.Second // as services: R3's slowest answer
)

// The fields of a push and of its answer rule.
var (
	pushFields       = []string{"system", "description", "wsdl", "operation", "endpoint", "version", "timeout", "auth", "mapping", "schedule", "retry", "answer"}
	answerFields     = []string{"success", "refusal"}
	answerTestFields = []string{"field", "equals", "prefix", "present"}
	edxmlPathRE      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*(/[A-Za-z_][A-Za-z0-9_.-]*)*$`)
)

// PushSources are the metadata names a push mapping may take a value from,
// besides content, edxml:<path>, const:<text> and, for the items of a
// repeated element (Field[].Sub), attachment.<name>.
var PushSources = []string{"exchange_id", "title", "source", "recipient", "data_type", "importance", "priority", "urgent", "media_type", "sha256", "size", "route", "created_at", "content"}

// AttachmentSources are the values of one edXML attachment.
var AttachmentSources = []string{"attachment.name", "attachment.content_type", "attachment.description", "attachment.content", "attachment.size", "attachment.sha256"}

// Push declares that exchanges to System are pushed to that system's own
// SOAP service (a legacy QLVB that neither polls nor takes webhooks): LGSP
// fetches the content, maps it into the request type generated from the
// system's WSDL (Mapping) and calls Operation at Endpoint, at once or on
// Schedule, retrying with Retry (the one retry: schema of route files).
type Push struct {
	System      string // identifier code of the recipient system
	Description string
	WSDL        string // relative to wsdl/, e.g. consumed/qlvb-vnpt.wsdl
	Operation   string
	Endpoint    string
	Version     string // soap.Declared11 or soap.Declared12; "" = the registered binding's (soap.Binding.Version)
	Timeout     time.Duration
	Auth        soap.Auth
	Mapping     []soap.FieldMap
	Schedule    string // cron spec in Asia/Ho_Chi_Minh; "" = at once
	Retry       bus.RetryPolicy
	// Answer says which fault-free answers are accepted; without it any
	// fault-free answer is.
	Answer    AnswerRule
	File      string
	Line, Col int

	schedule           cron.Schedule
	systemLine, sysCol int
}

// AnswerRule declares what a successful answer of a push is (Success) and
// what is a refusal (Refusal), for legacy services that answer errors
// inside a result field ("ERR:20") instead of a fault. An answer matching
// Refusal, or not matching Success, is a failed delivery that no retry
// cures.
type AnswerRule struct {
	Success, Refusal *AnswerTest
}

// AnswerTest tests one field of the answer (a Go field path of the
// generated response type, like a mapping's): equal to Equals, starting
// with Prefix, or, with Present, present and not empty.
type AnswerTest struct {
	Field     string
	Equals    string
	Prefix    string
	Present   bool
	Line, Col int
}

// Key returns the registry key of the operation: the WSDL's base name
// without .wsdl, a slash and the operation ("qlvb-vnpt/NhanVanBan").
func (p *Push) Key() string { return soap.OperationKey(p.WSDL, p.Operation) }

// Plan returns when a push of an exchange that became due at now is made:
// now without a schedule, else the next time of the schedule after now.
func (p *Push) Plan(now time.Time) time.Time {
	if p.schedule == nil {
		return now
	}
	return p.schedule.Next(now)
}

// Pushes returns the pushes declared in set, ordered by file and position.
func Pushes(set *route.Set) []*Push {
	list, _ := set.Section(SectionName).([]*Push)
	return append([]*Push(nil), list...)
}

// PushTo returns the push declared in set for the system with identifier
// code system.
func PushTo(set *route.Set, system string) (*Push, bool) {
	list, _ := set.Section(SectionName).([]*Push)
	for _, p := range list {
		if p.System == system {
			return p, true
		}
	}
	return nil, false
}

// Section is the pushes: section of route files. lookup and registered
// find the bindings of consumed operations (the SOAP binding registry of
// the environment), which its check needs.
func Section(lookup func(key string) (soap.Binding, bool), registered func() []string) route.Section {
	return route.Section{
		Name:   SectionName,
		Decode: decodePushes,
		Build:  buildPushes,
		Check:  func(set *route.Set) route.Problems { return checkOperations(set, lookup, registered) },
	}
}

func decodePushes(d *route.Decoder, key, val *yaml.Node) any {
	var out []*Push
	for _, n := range d.List(route.Field{Key: key, Val: val}, "push") {
		if ps := decodePush(d, n); ps != nil {
			out = append(out, ps)
		}
	}
	return out
}

// buildPushes joins the pushes of every file, reporting a system pushed
// twice.
func buildPushes(parts []any) (any, route.Problems) {
	var probs route.Problems
	var all []*Push
	seen := map[string]*Push{}
	for _, part := range parts {
		list, _ := part.([]*Push)
		for _, p := range list {
			if p.System == "" {
				continue // reported by the decoder
			}
			if first, dup := seen[p.System]; dup {
				probs = append(probs, route.Problem{File: p.File, Line: p.systemLine, Col: p.sysCol,
					Msg: fmt.Sprintf("system %s already has a push (at %s:%d:%d); a system is pushed to one way", p.System, first.File, first.Line, first.Col)})
				continue
			}
			seen[p.System] = p
			all = append(all, p)
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		return a.File < b.File || a.File == b.File && a.Line < b.Line
	})
	return all, probs
}

func decodePush(d *route.Decoder, n *yaml.Node) *Push {
	ps := &Push{File: d.File(), Line: n.Line, Col: n.Column, Timeout: DefaultPushTimeout, Retry: bus.DefaultRetry, systemLine: n.Line, sysCol: n.Column}
	fs, ok := d.Fields(n, pushFields)
	if !ok {
		return nil
	}
	if f, ok := fs.Require(n, "push", "system"); ok {
		if code, ok := d.String(f); ok {
			ps.systemLine, ps.sysCol = f.Val.Line, f.Val.Column
			if _, err := bus.ParseSystemCode(code); err != nil {
				d.Errorf(f.Val, "system: %q is not an identifier code (QCVN 102, e.g. 000.00.01.H60)", code)
			} else {
				ps.System = code
			}
		}
	}
	if f, ok := fs.Get("description"); ok {
		ps.Description, _ = d.String(f)
	}
	soap.DecodeOperation(d, n, fs, "push", &ps.WSDL, &ps.Operation)
	if f, ok := fs.Require(n, "push", "endpoint"); ok {
		if ep, ok := d.String(f); ok {
			if msg := route.CheckEndpoint(ep); msg != "" {
				d.Errorf(f.Val, "endpoint: %s", msg)
			}
			ps.Endpoint = ep
		}
	}
	if f, ok := fs.Get("version"); ok {
		ps.Version = soap.DecodeVersion(d, f)
	}
	if f, ok := fs.Get("timeout"); ok {
		if t, ok := d.Duration(f); ok {
			switch {
			case t <= 0:
				d.Errorf(f.Val, "timeout: must be positive, got %s", f.Val.Value)
			case t > MaxPushTimeout:
				d.Errorf(f.Val, "timeout: %s exceeds the maximum of 30s (R3: the slowest answer is 30 seconds)", f.Val.Value)
			default:
				ps.Timeout = t
			}
		}
	}
	if f, ok := fs.Get("auth"); ok {
		ps.Auth = soap.DecodeAuth(d, f)
	}
	if f, ok := fs.Require(n, "push", "mapping"); ok {
		ps.Mapping = soap.DecodeMapping(d, f, pushSource)
	}
	if f, ok := fs.Get("schedule"); ok {
		if spec, sched, ok := d.Schedule(f); ok {
			ps.Schedule, ps.schedule = spec, sched
		}
	}
	if f, ok := fs.Get("retry"); ok {
		ps.Retry = d.Retry(f)
	}
	if f, ok := fs.Get("answer"); ok {
		ps.Answer = decodeAnswerRule(d, f)
	}
	return ps
}

// decodeAnswerRule reads answer: {success: {...}, refusal: {...}}.
func decodeAnswerRule(d *route.Decoder, f route.Field) AnswerRule {
	var r AnswerRule
	fs, ok := d.Fields(f.Val, answerFields)
	if !ok {
		return r
	}
	v1, ok1 := fs.Get("success")
	if ok1 {
		r.Success = decodeAnswerTest(d, v1)
	}
	v2, ok2 := fs.Get("refusal")
	if ok2 {
		r.Refusal = decodeAnswerTest(d, v2)
	}
	if !ok1 && !ok2 {
		d.Errorf(f.Key, "answer: declare success:, refusal: or both, like {success: {field: Result, prefix: \"OK\"}}")
	}
	return r
}

// decodeAnswerTest reads {field: F, equals: X | prefix: X | present: true}.
func decodeAnswerTest(d *route.Decoder, f route.Field) *AnswerTest {
	fs, ok := d.Fields(f.Val, answerTestFields)
	if !ok {
		return nil
	}
	t := &AnswerTest{Line: f.Val.Line, Col: f.Val.Column}
	v, ok := fs.Require(f.Val, f.Key.Value, "field")
	if !ok {
		return nil
	}
	if name, ok := d.String(v); ok {
		if !soap.ValidFieldPath(name) || strings.Contains(name, "[]") {
			d.Errorf(v.Val, "field: %q is not a field of the generated answer type (Name or Outer.Inner)", name)
			return nil
		}
		t.Field = name
	}
	n := 0
	if v, ok := fs.Get("equals"); ok {
		t.Equals, _ = d.String(v)
		n++
	}
	if v, ok := fs.Get("prefix"); ok {
		t.Prefix, _ = d.String(v)
		if t.Prefix == "" {
			d.Errorf(v.Val, "prefix: must not be empty")
		}
		n++
	}
	if v, ok := fs.Get("present"); ok {
		if v.Val.Kind != yaml.ScalarNode || v.Val.ShortTag() != "!!bool" || v.Val.Value != "true" {
			d.Errorf(v.Val, "present: write present: true (the field is present and not empty)")
		}
		t.Present = true
		n++
	}
	if n != 1 {
		d.Errorf(f.Val, "%s: give exactly one of equals:, prefix: or present: true", f.Key.Value)
		return nil
	}
	return t
}

// pushSource returns what is wrong with a source of a push mapping, or "".
func pushSource(src string, item bool) string {
	switch {
	case strings.HasPrefix(src, "const:"):
		return ""
	case strings.HasPrefix(src, "edxml:"):
		if !edxmlPathRE.MatchString(strings.TrimPrefix(src, "edxml:")) {
			return fmt.Sprintf("%q: write edxml:<Element>/<Child>, e.g. edxml:Code/CodeNumber", src)
		}
		return ""
	case strings.HasPrefix(src, "attachment."):
		if !item {
			return fmt.Sprintf("%s is a value of one attachment; map it to the items of a repeated element (Name[].Field)", src)
		}
		if !slices.Contains(AttachmentSources, src) {
			return fmt.Sprintf("unknown source %q%s", src, route.Hint(src, AttachmentSources))
		}
		return ""
	case slices.Contains(PushSources, src):
		return ""
	}
	return fmt.Sprintf("unknown source %q%s; use one of %s, edxml:<path> or const:<text>", src, route.Hint(src, PushSources), strings.Join(PushSources, ", "))
}

// checkOperations reports pushes and bridged services whose SOAP operation
// has no registered binding (bus/route cannot know the registry), and
// checks their mappings against the generated types (LintMapping): without
// this, such a push would only fail — dead — when its first exchange came.
func checkOperations(set *route.Set, lookup func(string) (soap.Binding, bool), registered func() []string) route.Problems {
	var ps route.Problems
	miss := func(file string, line, col int, what, key string) {
		ps = append(ps, route.Problem{File: file, Line: line, Col: col, Msg: fmt.Sprintf("%s: SOAP operation %q is not registered (add its WSDL under wsdl/consumed/, run go generate ./wsdl/..., and register it with soapout.Register; registered: %s)", what, key, strings.Join(registered(), ", "))})
	}
	mapping := func(file string, line, col int, what string, b Binding, m []soap.FieldMap, required bool) {
		for _, mp := range LintMapping(b, m, required) {
			l, c := mp.Line, mp.Col
			if l == 0 {
				l, c = line, col
			}
			ps = append(ps, route.Problem{File: file, Line: l, Col: c, Msg: what + ": " + mp.Msg})
		}
	}
	for _, p := range Pushes(set) {
		b, ok := lookup(p.Key())
		if !ok {
			miss(p.File, p.Line, p.Col, "push to "+p.System, p.Key())
			continue
		}
		mapping(p.File, p.Line, p.Col, "push to "+p.System, b, p.Mapping, true)
		for _, mp := range LintAnswer(b, p.Answer) {
			ps = append(ps, route.Problem{File: p.File, Line: mp.Line, Col: mp.Col, Msg: "push to " + p.System + ": " + mp.Msg})
		}
	}
	for _, sv := range set.Services() {
		br := soap.BridgeOf(sv)
		if br == nil {
			continue
		}
		b, ok := lookup(br.Key())
		if !ok {
			miss(sv.File, sv.Line, sv.Col, "service "+sv.Name, br.Key())
			continue
		}
		// Without a mapping the JSON body is decoded by element names:
		// nothing to check before a call comes.
		if len(br.Mapping) > 0 {
			mapping(sv.File, sv.Line, sv.Col, "service "+sv.Name, b, br.Mapping, true)
		}
	}
	return ps
}
