package route

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/schedule"
)

// Defaults and limits of SOAP pushes (pushes: in route files; C1, F4–F7)
// and of SOAP-bridged services (soap: on a service; C2).
const (
	DefaultPushTimeout = 30 * time.Second
	MaxPushTimeout     = 30 * time.Second // as services: R3's slowest answer
)

// SOAP versions a push or a bridged service may speak.
const (
	SOAP11 = "1.1"
	SOAP12 = "1.2"
)

// The fields of pushes: and of the soap: block of a service.
var (
	pushFields        = []string{"system", "description", "wsdl", "operation", "endpoint", "version", "timeout", "auth", "mapping", "schedule", "retry", "answer"}
	answerFields      = []string{"success", "refusal"}
	answerTestFields  = []string{"field", "equals", "prefix", "present"}
	soapServiceFields = []string{"wsdl", "operation", "version", "auth", "mapping"}
	soapAuthFields    = []string{"username_token"}
	usernameFields    = []string{"user", "password_env", "digest"}
	wsdlPathRE        = regexp.MustCompile(`^consumed/[a-z0-9][a-z0-9._-]{0,63}\.wsdl$`)
	xmlNameRE         = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
	envNameRE         = regexp.MustCompile(`^[A-Z_][A-Z0-9_]{0,127}$`)
	edxmlPathRE       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*(/[A-Za-z_][A-Za-z0-9_.-]*)*$`)
	jsonPathRE        = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$`)
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
// Schedule, retrying with Retry. See adapters/soapout.
type Push struct {
	System      string // identifier code of the recipient system
	Description string
	WSDL        string // relative to wsdl/, e.g. consumed/qlvb-vnpt.wsdl
	Operation   string
	Endpoint    string
	Version     string // SOAP11 or SOAP12; "" = the registered binding's (soap.Binding.Version)
	Timeout     time.Duration
	Auth        SOAPAuth
	Mapping     []FieldMap
	Schedule    string // cron spec in Asia/Ho_Chi_Minh; "" = at once
	Retry       bus.RetryPolicy
	// Answer says which fault-free answers are accepted; without it any
	// fault-free answer is.
	Answer    AnswerRule
	File      string
	Line, Col int

	schedule  cron.Schedule
	systemPos pos
}

// AnswerRule declares what a successful answer of a push is (Success) and
// what is a refusal (Refusal), for legacy services that answer errors
// inside a result field ("ERR:20") instead of a fault. An answer matching
// Refusal, or not matching Success, is a failed delivery that no retry
// cures (adapters/soapout).
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

// SOAPAuth is the WS-Security of a call to a legacy system; the password
// is read from the environment variable PasswordEnv when the call is made.
type SOAPAuth struct {
	User        string
	PasswordEnv string
	Digest      bool // PasswordDigest; PasswordText when false
}

// FieldMap fills one field of the request (Field: a Go field name of the
// generated type, dotted for nested fields, "Name[].Sub" for the items of a
// repeated element) from Source.
type FieldMap struct {
	Field     string
	Source    string
	Line, Col int
}

// ServiceSOAP makes a service a REST ⇄ SOAP bridge (C2): the JSON body of
// a call is mapped into the request type of Operation (or decoded into it
// by its JSON names when Mapping is empty), the operation is called at the
// service's endpoint and its answer is returned as JSON.
type ServiceSOAP struct {
	WSDL      string
	Operation string
	Version   string // SOAP11 or SOAP12; "" = the registered binding's
	Auth      SOAPAuth
	Mapping   []FieldMap // sources are json:<path> or const:<text>
}

// Key returns the registry key of the operation: the WSDL's base name
// without .wsdl, a slash and the operation ("qlvb-vnpt/NhanVanBan").
func (p *Push) Key() string { return OperationKey(p.WSDL, p.Operation) }

// Key returns the registry key of the bridged operation.
func (s *ServiceSOAP) Key() string { return OperationKey(s.WSDL, s.Operation) }

// OperationKey is the registry key of operation of the WSDL at wsdl.
func OperationKey(wsdl, operation string) string {
	return strings.TrimSuffix(path.Base(wsdl), ".wsdl") + "/" + operation
}

// Plan returns when a push of an exchange that became due at now is made:
// now without a schedule, else the next time of the schedule after now.
func (p *Push) Plan(now time.Time) time.Time {
	if p.schedule == nil {
		return now
	}
	return p.schedule.Next(now)
}

// Pushes returns the declared pushes ordered by file and position.
func (s *Set) Pushes() []*Push {
	if s == nil {
		return nil
	}
	return append([]*Push(nil), s.pushes...)
}

// Push returns the push declared for the system with identifier code.
func (s *Set) Push(system string) (*Push, bool) {
	if s == nil {
		return nil, false
	}
	for _, p := range s.pushes {
		if p.System == system {
			return p, true
		}
	}
	return nil, false
}

// addPushes puts pushes into the set, reporting a system pushed twice.
func (s *Set) addPushes(list []*Push) Problems {
	var probs Problems
	seen := map[string]*Push{}
	for _, p := range list {
		if p.System == "" {
			continue // reported by the parser
		}
		if first, dup := seen[p.System]; dup {
			probs = append(probs, Problem{File: p.File, Line: p.systemPos.line, Col: p.systemPos.col,
				Msg: fmt.Sprintf("system %s already has a push (at %s:%d:%d); a system is pushed to one way", p.System, first.File, first.Line, first.Col)})
			continue
		}
		seen[p.System] = p
		s.pushes = append(s.pushes, p)
	}
	sort.SliceStable(s.pushes, func(i, j int) bool {
		a, b := s.pushes[i], s.pushes[j]
		return a.File < b.File || a.File == b.File && a.Line < b.Line
	})
	return probs
}

// parseAll reads one route file with its routes, services and pushes.
func parseAll(file string, data []byte, reg *bus.StepRegistry) ([]*Route, []*Service, []*Push, Problems) {
	if reg == nil {
		reg = bus.DefaultSteps
	}
	p := &parser{file: file, reg: reg}
	routes := p.parse(data)
	p.probs.sort()
	return routes, p.services, p.pushes, p.probs
}

// pushList reads the pushes: list of a file.
func (p *parser) pushList(f kv) {
	if isNull(f.val) || f.val.Kind == yaml.SequenceNode && len(f.val.Content) == 0 {
		p.errf(f.key, "pushes: list at least one push, or leave the field out")
		return
	}
	if f.val.Kind != yaml.SequenceNode {
		if f.val.Kind != yaml.AliasNode {
			p.errf(f.val, "pushes: expected a list, found %s", describe(f.val))
		}
		return
	}
	for _, n := range f.val.Content {
		if ps := p.push(n); ps != nil {
			p.pushes = append(p.pushes, ps)
		}
	}
}

func (p *parser) push(n *yaml.Node) *Push {
	ps := &Push{File: p.file, Line: n.Line, Col: n.Column, Timeout: DefaultPushTimeout, Retry: bus.DefaultRetry, systemPos: pos{n.Line, n.Column}}
	fs, ok := p.fields(n, pushFields)
	if !ok {
		return nil
	}
	if f, ok := fs.get("system"); !ok {
		p.missing(n, fs, "push", "system")
	} else if code, ok := p.str(f); ok {
		ps.systemPos = pos{f.val.Line, f.val.Column}
		if _, err := bus.ParseSystemCode(code); err != nil {
			p.errf(f.val, "system: %q is not an identifier code (QCVN 102, e.g. 000.00.01.H60)", code)
		} else {
			ps.System = code
		}
	}
	if f, ok := fs.get("description"); ok {
		ps.Description, _ = p.str(f)
	}
	p.wsdlOp(n, fs, "push", &ps.WSDL, &ps.Operation)
	if f, ok := fs.get("endpoint"); !ok {
		p.missing(n, fs, "push", "endpoint")
	} else if ep, ok := p.str(f); ok {
		if msg := checkEndpoint(ep); msg != "" {
			p.errf(f.val, "endpoint: %s", msg)
		}
		ps.Endpoint = ep
	}
	if f, ok := fs.get("version"); ok {
		ps.Version = p.soapVersion(f)
	}
	if f, ok := fs.get("timeout"); ok {
		if d, ok := p.duration(f); ok {
			switch {
			case d <= 0:
				p.errf(f.val, "timeout: must be positive, got %s", f.val.Value)
			case d > MaxPushTimeout:
				p.errf(f.val, "timeout: %s exceeds the maximum of 30s (R3: the slowest answer is 30 seconds)", f.val.Value)
			default:
				ps.Timeout = d
			}
		}
	}
	if f, ok := fs.get("auth"); ok {
		ps.Auth = p.soapAuth(f)
	}
	if f, ok := fs.get("mapping"); !ok {
		p.missing(n, fs, "push", "mapping")
	} else {
		ps.Mapping = p.mapping(f, false)
	}
	if f, ok := fs.get("schedule"); ok {
		if spec, ok := p.str(f); ok {
			sched, err := schedule.Parse(spec)
			if err != nil {
				p.errf(f.val, "schedule: %v", err)
			} else {
				ps.Schedule, ps.schedule = spec, sched
			}
		}
	}
	if f, ok := fs.get("retry"); ok {
		var d Delivery
		p.retry(f, &d)
		ps.Retry = d.Retry
	}
	if f, ok := fs.get("answer"); ok {
		ps.Answer = p.answerRule(f)
	}
	return ps
}

// answerRule reads answer: {success: {...}, refusal: {...}}.
func (p *parser) answerRule(f kv) AnswerRule {
	var r AnswerRule
	fs, ok := p.fields(f.val, answerFields)
	if !ok {
		return r
	}
	v1, ok1 := fs.get("success")
	if ok1 {
		r.Success = p.answerTest(v1)
	}
	v2, ok2 := fs.get("refusal")
	if ok2 {
		r.Refusal = p.answerTest(v2)
	}
	if !ok1 && !ok2 {
		p.errf(f.key, "answer: declare success:, refusal: or both, like {success: {field: Result, prefix: \"OK\"}}")
	}
	return r
}

// answerTest reads {field: F, equals: X | prefix: X | present: true}.
func (p *parser) answerTest(f kv) *AnswerTest {
	fs, ok := p.fields(f.val, answerTestFields)
	if !ok {
		return nil
	}
	t := &AnswerTest{Line: f.val.Line, Col: f.val.Column}
	if v, ok := fs.get("field"); !ok {
		p.missing(f.val, fs, f.key.Value, "field")
		return nil
	} else if name, ok := p.str(v); ok {
		if !validFieldPath(name) || strings.Contains(name, "[]") {
			p.errf(v.val, "field: %q is not a field of the generated answer type (Name or Outer.Inner)", name)
			return nil
		}
		t.Field = name
	}
	n := 0
	if v, ok := fs.get("equals"); ok {
		t.Equals, _ = p.str(v)
		n++
	}
	if v, ok := fs.get("prefix"); ok {
		t.Prefix, _ = p.str(v)
		if t.Prefix == "" {
			p.errf(v.val, "prefix: must not be empty")
		}
		n++
	}
	if v, ok := fs.get("present"); ok {
		if v.val.Kind != yaml.ScalarNode || v.val.ShortTag() != "!!bool" || v.val.Value != "true" {
			p.errf(v.val, "present: write present: true (the field is present and not empty)")
		}
		t.Present = true
		n++
	}
	if n != 1 {
		p.errf(f.val, "%s: give exactly one of equals:, prefix: or present: true", f.key.Value)
		return nil
	}
	return t
}

// wsdlOp reads the wsdl and operation fields.
func (p *parser) wsdlOp(n *yaml.Node, fs entries, what string, wsdl, op *string) {
	if f, ok := fs.get("wsdl"); !ok {
		p.missing(n, fs, what, "wsdl")
	} else if w, ok := p.str(f); ok {
		if !wsdlPathRE.MatchString(w) {
			p.errf(f.val, "wsdl: %q must name a file in wsdl/consumed, like consumed/qlvb-vnpt.wsdl", w)
		} else {
			*wsdl = w
		}
	}
	if f, ok := fs.get("operation"); !ok {
		p.missing(n, fs, what, "operation")
	} else if o, ok := p.str(f); ok {
		if !xmlNameRE.MatchString(o) {
			p.errf(f.val, "operation: %q is not an operation name of a WSDL", o)
		} else {
			*op = o
		}
	}
}

func (p *parser) soapVersion(f kv) string {
	v, ok := p.str(f)
	if !ok {
		return ""
	}
	if v != SOAP11 && v != SOAP12 {
		p.errf(f.val, `version: %q: expected "1.1" or "1.2" (quote it: a bare 1.1 is a number)`, v)
		return ""
	}
	return v
}

func (p *parser) soapAuth(f kv) SOAPAuth {
	var a SOAPAuth
	fs, ok := p.fields(f.val, soapAuthFields)
	if !ok {
		return a
	}
	ut, ok := fs.get("username_token")
	if !ok {
		p.missing(f.val, fs, "auth", "username_token")
		return a
	}
	us, ok := p.fields(ut.val, usernameFields)
	if !ok {
		return a
	}
	if v, ok := us.get("user"); !ok {
		p.missing(ut.val, us, "username_token", "user")
	} else {
		a.User, _ = p.str(v)
	}
	if v, ok := us.get("password_env"); !ok {
		p.missing(ut.val, us, "username_token", "password_env")
	} else if env, ok := p.str(v); ok {
		if !envNameRE.MatchString(env) {
			p.errf(v.val, "password_env: %q must be the name of an environment variable (A-Z, 0-9, _); passwords are never written in route files", env)
		} else {
			a.PasswordEnv = env
		}
	}
	if v, ok := us.get("digest"); ok {
		if v.val.Kind != yaml.ScalarNode || v.val.ShortTag() != "!!bool" {
			p.errf(v.val, "digest: expected true or false, found %s", describe(v.val))
		} else {
			a.Digest = v.val.Value == "true"
		}
	}
	return a
}

// mapping reads a mapping of request fields to sources; bridge mappings
// take json:<path> and const:<text> sources, push mappings the others.
func (p *parser) mapping(f kv, bridge bool) []FieldMap {
	if f.val.Kind != yaml.MappingNode || len(f.val.Content) == 0 {
		if f.val.Kind != yaml.AliasNode {
			p.errf(f.val, "mapping: expected a mapping of request fields to sources, like {TrichYeu: title}, found %s", describe(f.val))
		}
		return nil
	}
	var out []FieldMap
	seen := map[string]bool{}
	for i := 0; i+1 < len(f.val.Content); i += 2 {
		k, v := f.val.Content[i], f.val.Content[i+1]
		if k.Kind != yaml.ScalarNode || isNull(k) {
			p.errf(k, "mapping: keys must be field names, found %s", describe(k))
			continue
		}
		field := k.Value
		if !validFieldPath(field) {
			p.errf(k, "mapping: %q is not a field of the generated request type (Name, Outer.Inner or List[].Item)", field)
			continue
		}
		if seen[field] {
			p.errf(k, "mapping: %s repeated", field)
			continue
		}
		seen[field] = true
		if v.Kind != yaml.ScalarNode || isNull(v) {
			if v.Kind != yaml.AliasNode {
				p.errf(v, "mapping: %s: expected a source, found %s", field, describe(v))
			}
			continue
		}
		if msg := checkSource(v.Value, strings.Contains(field, "[]."), bridge); msg != "" {
			p.errf(v, "mapping: %s: %s", field, msg)
			continue
		}
		out = append(out, FieldMap{Field: field, Source: v.Value, Line: k.Line, Col: k.Column})
	}
	return out
}

func validFieldPath(s string) bool {
	if strings.Count(s, "[]") > 1 {
		return false
	}
	for _, part := range strings.Split(strings.Replace(s, "[].", ".", 1), ".") {
		if !xmlNameRE.MatchString(part) {
			return false
		}
	}
	return true
}

// checkSource returns what is wrong with a mapping source, or "".
func checkSource(src string, item, bridge bool) string {
	switch {
	case strings.HasPrefix(src, "const:"):
		return ""
	case bridge && strings.HasPrefix(src, "json:"):
		if !jsonPathRE.MatchString(strings.TrimPrefix(src, "json:")) {
			return fmt.Sprintf("%q: write json:<name> or json:<outer>.<inner>", src)
		}
		return ""
	case bridge:
		return fmt.Sprintf("unknown source %q; a bridged service maps json:<path> or const:<text>", src)
	case strings.HasPrefix(src, "edxml:"):
		if !edxmlPathRE.MatchString(strings.TrimPrefix(src, "edxml:")) {
			return fmt.Sprintf("%q: write edxml:<Element>/<Child>, e.g. edxml:Code/CodeNumber", src)
		}
		return ""
	case strings.HasPrefix(src, "attachment."):
		if !item {
			return fmt.Sprintf("%s is a value of one attachment; map it to the items of a repeated element (Name[].Field)", src)
		}
		if !contains(AttachmentSources, src) {
			return fmt.Sprintf("unknown source %q%s", src, hint(src, AttachmentSources))
		}
		return ""
	case contains(PushSources, src):
		return ""
	}
	return fmt.Sprintf("unknown source %q%s; use one of %s, edxml:<path> or const:<text>", src, hint(src, PushSources), strings.Join(PushSources, ", "))
}

// serviceSOAP reads the soap: block of a service.
func (p *parser) serviceSOAP(f kv, s *Service) {
	fs, ok := p.fields(f.val, soapServiceFields)
	if !ok {
		return
	}
	sp := &ServiceSOAP{}
	p.wsdlOp(f.val, fs, "soap", &sp.WSDL, &sp.Operation)
	if v, ok := fs.get("version"); ok {
		sp.Version = p.soapVersion(v)
	}
	if v, ok := fs.get("auth"); ok {
		sp.Auth = p.soapAuth(v)
	}
	if v, ok := fs.get("mapping"); ok {
		sp.Mapping = p.mapping(v, true)
	}
	s.SOAP = sp
}
