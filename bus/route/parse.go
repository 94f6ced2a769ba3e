package route

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/schedule"
)

// The fields of each mapping of a route file.
var (
	routeFields    = []string{"name", "description", "match", "recipients", "max_bytes", "steps", "delivery", "tests"}
	matchFields    = []string{"sources", "data_types"}
	deliveryFields = []string{"mode", "schedule", "expiry", "retry"}
	testFields     = []string{"name", "input", "now", "expect"}
	inputFields    = []string{"source", "data_type", "recipients", "media_type", "content", "content_file"}
	expectFields   = []string{"route", "error", "due", "labels"}
	modes          = []string{ModeImmediate, ModeCron}
)

var (
	routeName   = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)
	dataTypeRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`) // as exchange requests (docs/exchange.md)
	yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
)

// Parse reads one route file. file names it in problems; steps are built
// from reg (nil means bus.DefaultSteps). It returns every route it could
// read, even with problems, so that checks across files (Build) can still
// run; the routes are usable only when no problems are returned. Parse
// never panics, whatever data holds.
func Parse(file string, data []byte, reg *bus.StepRegistry) ([]*Route, Problems) {
	routes, _, probs := ParseFile(file, data, reg)
	return routes, probs
}

type parser struct {
	file     string
	reg      *bus.StepRegistry
	sections *Sections // the sections components declare (section.go)
	probs    Problems
	services []*Service     // services: of the file (services.go)
	parts    map[string]any // the value of each registered section in the file
}

func (p *parser) errf(n *yaml.Node, format string, args ...any) {
	p.probs = append(p.probs, Problem{File: p.file, Line: n.Line, Col: n.Column, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) fileErr(line int, format string, args ...any) {
	p.probs = append(p.probs, Problem{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// decodeDocs parses data into YAML documents, turning parser errors and
// panics into problems.
func (p *parser) decodeDocs(data []byte) (docs []*yaml.Node) {
	defer func() {
		if r := recover(); r != nil {
			p.fileErr(0, "invalid YAML: the parser failed: %v", r)
			docs = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			if m := yamlLineErr.FindStringSubmatch(err.Error()); m != nil {
				line, _ := strconv.Atoi(m[1])
				p.fileErr(line, "invalid YAML: %s", m[2])
			} else {
				p.fileErr(0, "invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
			}
			return nil
		}
		docs = append(docs, &doc)
	}
}

func (p *parser) parse(data []byte) []*Route {
	docs := p.decodeDocs(data)
	if len(p.probs) > 0 {
		return nil
	}
	if len(docs) == 0 {
		p.fileErr(0, "file declares no routes")
		return nil
	}
	for _, extra := range docs[1:] {
		p.errf(extra, "file holds more than one YAML document; put each in its own file")
	}
	p.rejectAliases(docs[0])
	root := docs[0]
	if len(root.Content) == 0 || isNull(root.Content[0]) {
		p.fileErr(0, "file declares no routes")
		return nil
	}
	names := p.sections.Names()
	top, ok := p.fields(root.Content[0], append(append([]string(nil), reserved...), names...))
	if !ok {
		return nil
	}
	svcs, hasOther := top.get("services")
	if hasOther {
		p.serviceList(svcs)
	}
	for _, name := range names {
		f, ok := top.get(name)
		if !ok {
			continue
		}
		hasOther = true
		sec, _ := p.sections.Lookup(name)
		if v := decodeSection(sec, &Decoder{p}, f); v != nil {
			if p.parts == nil {
				p.parts = map[string]any{}
			}
			p.parts[name] = v
		}
	}
	list, ok := top.get("routes")
	if !ok {
		if !hasOther {
			p.missing(root.Content[0], top, "file", "routes")
		}
		return nil
	}
	if isNull(list.val) || (list.val.Kind == yaml.SequenceNode && len(list.val.Content) == 0) {
		p.errf(list.key, "routes: file declares no routes")
		return nil
	}
	if list.val.Kind != yaml.SequenceNode {
		p.errf(list.val, "routes: expected a list, found %s", describe(list.val))
		return nil
	}
	var routes []*Route
	for _, n := range list.val.Content {
		if r := p.route(n); r != nil {
			routes = append(routes, r)
		}
	}
	return routes
}

// decodeSection runs a section's decoder, turning its panic into a
// problem at the section's key.
func decodeSection(sec Section, d *Decoder, f kv) (v any) {
	defer func() {
		if r := recover(); r != nil {
			d.Errorf(f.key, "%s: the section decoder failed: %v", sec.Name, r)
			v = nil
		}
	}()
	return sec.Decode(d, f.key, f.val)
}

// rejectAliases reports every alias: route files are written out plainly
// (and aliases could make a cyclic node graph).
func (p *parser) rejectAliases(n *yaml.Node) {
	if n.Kind == yaml.AliasNode {
		p.errf(n, "YAML aliases are not supported in route files; write the value out")
		return
	}
	for _, c := range n.Content {
		p.rejectAliases(c)
	}
}

// kv is a key node and its value node.
type kv struct{ key, val *yaml.Node }

// entries are the fields of a mapping by key. suggested holds the known
// names offered for unknown keys, so that a typo is not reported a second
// time as a missing field.
type entries struct {
	m         map[string]kv
	suggested map[string]bool
}

func (e entries) get(name string) (kv, bool) { f, ok := e.m[name]; return f, ok }

// missing reports a required field that is absent, unless a typo of it
// was already reported.
func (p *parser) missing(n *yaml.Node, e entries, what, name string) {
	if !e.suggested[name] {
		p.errf(n, "%s: missing field %q", what, name)
	}
}

// fields checks that n is a mapping whose keys are among known, reporting
// unknown and repeated keys, and returns its entries by key.
func (p *parser) fields(n *yaml.Node, known []string) (entries, bool) {
	e := entries{m: map[string]kv{}, suggested: map[string]bool{}}
	if n.Kind != yaml.MappingNode {
		if n.Kind != yaml.AliasNode { // aliases are reported once, by rejectAliases
			p.errf(n, "expected a mapping, found %s", describe(n))
		}
		return e, false
	}
	out := e.m
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.errf(k, "keys must be plain names, found %s", describe(k))
			continue
		}
		if !contains(known, k.Value) {
			p.errf(k, "unknown field %q%s", k.Value, hint(k.Value, known))
			if sug := suggest(k.Value, known); sug != "" {
				e.suggested[sug] = true
			}
			continue
		}
		if first, dup := out[k.Value]; dup {
			p.errf(k, "field %q repeated (first at line %d)", k.Value, first.key.Line)
			continue
		}
		out[k.Value] = kv{k, v}
	}
	return e, true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// str reads a scalar as text; null, lists and mappings are refused.
func (p *parser) str(f kv) (string, bool) {
	if f.val.Kind == yaml.AliasNode {
		return "", false
	}
	if f.val.Kind != yaml.ScalarNode || isNull(f.val) {
		p.errf(f.val, "%s: expected a string, found %s", f.key.Value, describe(f.val))
		return "", false
	}
	return f.val.Value, true
}

// strList reads a list of strings, returning each with its node.
func (p *parser) strList(f kv) ([]string, []*yaml.Node, bool) {
	if f.val.Kind == yaml.AliasNode {
		return nil, nil, false
	}
	if f.val.Kind != yaml.SequenceNode {
		p.errf(f.val, "%s: expected a list, found %s", f.key.Value, describe(f.val))
		return nil, nil, false
	}
	var out []string
	var nodes []*yaml.Node
	ok := true
	seen := map[string]bool{}
	for _, n := range f.val.Content {
		if n.Kind == yaml.AliasNode {
			ok = false
			continue
		}
		if n.Kind != yaml.ScalarNode || isNull(n) {
			p.errf(n, "%s: expected a string, found %s", f.key.Value, describe(n))
			ok = false
			continue
		}
		if seen[n.Value] {
			p.errf(n, "%s: %q listed twice", f.key.Value, n.Value)
			ok = false
			continue
		}
		seen[n.Value] = true
		out = append(out, n.Value)
		nodes = append(nodes, n)
	}
	return out, nodes, ok
}

func (p *parser) int64(f kv) (int64, bool) {
	var x int64
	if f.val.Kind == yaml.AliasNode {
		return 0, false
	}
	if f.val.Kind != yaml.ScalarNode || f.val.ShortTag() != "!!int" {
		p.errf(f.val, "%s: expected an integer, found %s", f.key.Value, describe(f.val))
		return 0, false
	}
	if err := f.val.Decode(&x); err != nil {
		p.errf(f.val, "%s: %s is out of range", f.key.Value, f.val.Value)
		return 0, false
	}
	return x, true
}

func (p *parser) duration(f kv) (time.Duration, bool) {
	if f.val.Kind == yaml.AliasNode {
		return 0, false
	}
	if f.val.Kind != yaml.ScalarNode || f.val.ShortTag() != "!!str" {
		p.errf(f.val, "%s: expected a duration like 90s, 30m or 72h, found %s", f.key.Value, describe(f.val))
		return 0, false
	}
	d, err := time.ParseDuration(f.val.Value)
	if err != nil {
		p.errf(f.val, "%s: invalid duration %q (write it like 90s, 30m or 72h)", f.key.Value, f.val.Value)
		return 0, false
	}
	return d, true
}

func (p *parser) time(f kv) (time.Time, bool) {
	s, ok := p.str(f)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		p.errf(f.val, "%s: invalid time %q (write it like 2026-11-26T10:00:00+07:00)", f.key.Value, s)
		return time.Time{}, false
	}
	return t, true
}

func (p *parser) route(n *yaml.Node) *Route {
	r := &Route{
		File: p.file, Line: n.Line, Col: n.Column,
		MaxBytes: DefaultMaxBytes,
		Delivery: Delivery{Mode: ModeImmediate, Expiry: DefaultExpiry, Retry: bus.DefaultRetry},
		namePos:  pos{n.Line, n.Column},
		matchPos: pos{n.Line, n.Column},
	}
	fs, ok := p.fields(n, routeFields)
	if !ok {
		return nil
	}
	if f, ok := fs.get("name"); !ok {
		p.missing(n, fs, "route", "name")
	} else if name, ok := p.str(f); ok {
		r.namePos = pos{f.val.Line, f.val.Column}
		if !routeName.MatchString(name) {
			p.errf(f.val, "name: %q must be 1 to 64 lowercase letters, digits or '-'", name)
		}
		r.Name = name
	}
	if f, ok := fs.get("description"); ok {
		r.Description, _ = p.str(f)
	}
	if f, ok := fs.get("match"); !ok {
		p.missing(n, fs, "route", "match")
	} else {
		r.matchPos = pos{f.key.Line, f.key.Column}
		p.match(f, r)
	}
	if f, ok := fs.get("recipients"); ok {
		list, nodes, _ := p.strList(f)
		for i, pat := range list {
			if err := checkPattern(pat); err != nil {
				p.errf(nodes[i], "recipients: %v", err)
				continue
			}
			r.Recipients = append(r.Recipients, pat)
		}
	}
	if f, ok := fs.get("max_bytes"); ok {
		if v, ok := p.int64(f); ok {
			if v <= 0 {
				p.errf(f.val, "max_bytes: must be positive, got %d", v)
			} else {
				r.MaxBytes = v
			}
		}
	}
	if f, ok := fs.get("steps"); ok && !isNull(f.val) {
		if f.val.Kind != yaml.SequenceNode {
			p.errf(f.val, "steps: expected a list, found %s", describe(f.val))
		} else {
			for i, sn := range f.val.Content {
				if s, ok := p.step(sn, i+1); ok {
					r.Steps = append(r.Steps, s)
				}
			}
		}
	}
	if f, ok := fs.get("delivery"); ok {
		p.delivery(f, r)
	}
	if f, ok := fs.get("tests"); ok && !isNull(f.val) {
		if f.val.Kind != yaml.SequenceNode {
			p.errf(f.val, "tests: expected a list, found %s", describe(f.val))
		} else {
			names := map[string]int{}
			for _, tn := range f.val.Content {
				t, ok := p.test(tn)
				if !ok {
					continue
				}
				if first, dup := names[t.Name]; dup {
					p.errf(tn, "test %q repeated (first at line %d)", t.Name, first)
					continue
				}
				names[t.Name] = t.Line
				r.Tests = append(r.Tests, t)
			}
		}
	}
	return r
}

func (p *parser) match(f kv, r *Route) {
	fs, ok := p.fields(f.val, matchFields)
	if !ok {
		return
	}
	if s, ok := fs.get("sources"); !ok {
		p.missing(f.val, fs, "match", "sources")
	} else if list, nodes, ok := p.strList(s); ok && len(s.val.Content) == 0 {
		p.errf(s.val, `sources: list at least one pattern ("*" matches any source)`)
	} else {
		for i, pat := range list {
			if err := checkPattern(pat); err != nil {
				p.errf(nodes[i], "sources: %v", err)
				continue
			}
			r.Sources = append(r.Sources, pat)
		}
	}
	if d, ok := fs.get("data_types"); !ok {
		p.missing(f.val, fs, "match", "data_types")
	} else if list, nodes, ok := p.strList(d); ok && len(d.val.Content) == 0 {
		p.errf(d.val, `data_types: list at least one data type ("*" matches any)`)
	} else {
		for i, dt := range list {
			if dt != "*" && !dataTypeRE.MatchString(dt) {
				p.errf(nodes[i], `data_types: %q must be an exact name ([a-z0-9][a-z0-9._-]*, at most 64) or "*"`, dt)
				continue
			}
			r.DataTypes = append(r.DataTypes, dt)
		}
	}
}

// step builds one item of steps: a mapping of one kind to its configuration.
func (p *parser) step(n *yaml.Node, index int) (Step, bool) {
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 {
		if n.Kind == yaml.MappingNode && len(n.Content) > 2 {
			var keys []string
			for i := 0; i < len(n.Content); i += 2 {
				keys = append(keys, n.Content[i].Value)
			}
			p.errf(n, "step %d has %d kinds (%s); write each step as its own list item", index, len(keys), strings.Join(keys, ", "))
		} else {
			p.errf(n, "step %d: expected a mapping of one step kind to its configuration, like `- validate: {max_bytes: 1024}`, found %s", index, describe(n))
		}
		return Step{}, false
	}
	k, cfg := n.Content[0], n.Content[1]
	if k.Kind != yaml.ScalarNode {
		p.errf(k, "step %d: the step kind must be a name, found %s", index, describe(k))
		return Step{}, false
	}
	kind := k.Value
	spec, ok := p.reg.Lookup(kind)
	if !ok {
		var known []string
		for _, s := range p.reg.Specs() {
			known = append(known, s.Name)
		}
		msg := fmt.Sprintf("unknown step kind %q", kind)
		if s := suggest(kind, known); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		if len(known) == 0 {
			msg += "; no step kinds are registered"
		} else {
			msg += "; known kinds: " + strings.Join(known, ", ")
		}
		p.errf(k, "%s", msg)
		return Step{}, false
	}
	at := cfg
	if isNull(cfg) {
		at = k // an empty configuration has no useful position of its own
	}
	var decodeFailed bool
	decode := func(into any) error {
		p.tellDir(into)
		probs := decodeStrict(cfg, into)
		for _, dp := range probs {
			p.errf(dp.n, "%s: %s", kind, dp.msg)
		}
		if len(probs) > 0 {
			decodeFailed = true
			return errBadConfig
		}
		return nil
	}
	st, err := build(spec.New, decode)
	if err != nil {
		if decodeFailed && errors.Is(err, errBadConfig) {
			return Step{}, false
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			p.errf(at, "%s: %s", kind, line)
		}
		return Step{}, false
	}
	if st == nil {
		p.errf(at, "%s: the step factory returned no step", kind)
		return Step{}, false
	}
	if decodeFailed {
		return Step{}, false
	}
	return Step{Kind: kind, Index: index, File: p.file, Line: k.Line, Col: k.Column, Step: st}, true
}

// errBadConfig is what decode returns to a factory once the configuration's
// problems have been reported with their positions.
var errBadConfig = errors.New("invalid step configuration")

// build calls a step factory, turning its panic into an error.
func build(f bus.StepFactory, decode func(any) error) (s bus.Step, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("the step factory panicked: %v", r)
		}
	}()
	return f(decode)
}

func (p *parser) delivery(f kv, r *Route) {
	fs, ok := p.fields(f.val, deliveryFields)
	if !ok {
		return
	}
	d := &r.Delivery
	mode, hasMode := fs.get("mode")
	if hasMode {
		if m, ok := p.str(mode); ok {
			if contains(modes, m) {
				d.Mode = m
			} else {
				p.errf(mode.val, "mode: unknown delivery mode %q%s", m, hint(m, modes))
				d.Mode = ""
			}
		}
	}
	if s, ok := fs.get("schedule"); ok {
		spec, ok := p.str(s)
		switch {
		case !ok:
		case d.Mode != ModeCron && d.Mode != "":
			p.errf(s.key, "schedule: only used with mode: cron (mode is %s)", d.Mode)
		default:
			sched, err := schedule.Parse(spec)
			if err != nil {
				p.errf(s.val, "schedule: %v", err)
				break
			}
			d.Schedule, r.schedule = spec, sched
		}
	} else if d.Mode == ModeCron && !fs.suggested["schedule"] {
		p.errf(mode.val, `mode: cron needs a schedule (e.g. schedule: "0 7,13 * * 1-5")`)
	}
	if e, ok := fs.get("expiry"); ok {
		if v, ok := p.duration(e); ok {
			switch {
			case v <= 0:
				p.errf(e.val, "expiry: must be positive, got %s", e.val.Value)
			case v > MaxExpiry:
				p.errf(e.val, "expiry: %s exceeds the maximum of 720h (30 days)", e.val.Value)
			default:
				d.Expiry = v
			}
		}
	}
	if rt, ok := fs.get("retry"); ok {
		p.retry(rt, d)
	}
}

// RetryFields are the fields of the one retry: schema of route files,
// used by deliveries, by the sections of delivery kinds (Decoder.Retry)
// and, with methods: besides, by services.
var RetryFields = []string{"initial", "max_interval", "max_elapsed", "max_attempts", "jitter"}

// MaxRetryAttempts bounds max_attempts of deliveries and pushes.
const MaxRetryAttempts = 1000

// RetryLimits are what one use of the retry schema allows.
type RetryLimits struct {
	MaxAttempts int      // max_attempts must be 1 … MaxAttempts
	Extra       []string // more fields the use reads itself (services: methods)
	// Bare leaves absent fields zero instead of taking bus.DefaultRetry's
	// (services: no wait between attempts unless one is declared).
	Bare bool
}

func (p *parser) retry(f kv, d *Delivery) {
	d.Retry = p.retryPolicy(f, RetryLimits{MaxAttempts: MaxRetryAttempts})
}

// retryPolicy reads a retry: block into a bus.RetryPolicy; it is the one
// decoder of that schema.
func (p *parser) retryPolicy(f kv, lim RetryLimits) bus.RetryPolicy {
	rp, _, _ := p.retrySchema(f, lim)
	return rp
}

// retrySchema reads a retry: block and returns its entries for the Extra
// fields of lim.
func (p *parser) retrySchema(f kv, lim RetryLimits) (bus.RetryPolicy, entries, bool) {
	var rp bus.RetryPolicy
	fs, ok := p.fields(f.val, append(append([]string(nil), RetryFields...), lim.Extra...))
	if !ok {
		if lim.Bare {
			return rp, fs, false
		}
		return bus.DefaultRetry, fs, false
	}
	for _, x := range []struct {
		name string
		dst  *time.Duration
	}{{"initial", &rp.Initial}, {"max_interval", &rp.MaxInterval}, {"max_elapsed", &rp.MaxElapsed}} {
		if v, ok := fs.get(x.name); ok {
			if d, ok := p.duration(v); ok {
				if d <= 0 {
					p.errf(v.val, "%s: must be positive, got %s", x.name, v.val.Value)
				} else {
					*x.dst = d
				}
			}
		}
	}
	if v, ok := fs.get("max_attempts"); ok {
		if x, ok := p.int64(v); ok {
			if x < 1 || x > int64(lim.MaxAttempts) {
				p.errf(v.val, "max_attempts: must be between 1 and %d, got %d", lim.MaxAttempts, x)
			} else {
				rp.MaxAttempts = int(x)
			}
		}
	}
	if v, ok := fs.get("jitter"); ok {
		var j float64
		if v.val.Kind != yaml.ScalarNode || (v.val.ShortTag() != "!!float" && v.val.ShortTag() != "!!int") || v.val.Decode(&j) != nil {
			p.errf(v.val, "jitter: expected a number between 0 and 1, found %s", describe(v.val))
		} else if j < 0 || j > 1 {
			p.errf(v.val, "jitter: must be between 0 and 1 (a fraction of each wait), got %s", v.val.Value)
		} else if j == 0 {
			rp.Jitter = -1 // bus.RetryPolicy: negative is none, zero the default
		} else {
			rp.Jitter = j
		}
	}
	full := rp.WithDefaults()
	if full.Initial > full.MaxInterval {
		p.errf(f.val, "retry: initial %s exceeds max_interval %s", full.Initial, full.MaxInterval)
	}
	if lim.Bare {
		return rp, fs, true
	}
	return full, fs, true
}

func (p *parser) test(n *yaml.Node) (Test, bool) {
	t := Test{File: p.file, Line: n.Line, Col: n.Column}
	fs, ok := p.fields(n, testFields)
	if !ok {
		return t, false
	}
	before := len(p.probs)
	if f, ok := fs.get("name"); !ok {
		p.missing(n, fs, "test", "name")
	} else if name, ok := p.str(f); ok {
		if strings.TrimSpace(name) == "" {
			p.errf(f.val, "name: must not be empty")
		}
		t.Name = name
	}
	if f, ok := fs.get("input"); !ok {
		p.missing(n, fs, "test", "input")
	} else {
		p.input(f, &t.Input)
	}
	if f, ok := fs.get("now"); ok {
		t.Now, _ = p.time(f)
	}
	if f, ok := fs.get("expect"); !ok {
		p.missing(n, fs, "test", "expect")
	} else {
		_, hasNow := fs.get("now")
		p.expect(f, &t, hasNow)
	}
	return t, len(p.probs) == before
}

func (p *parser) input(f kv, in *TestInput) {
	fs, ok := p.fields(f.val, inputFields)
	if !ok {
		return
	}
	for _, name := range []string{"source", "data_type"} {
		if _, ok := fs.get(name); !ok {
			p.missing(f.val, fs, "input", name)
		}
	}
	for name, dst := range map[string]*string{"source": &in.Source, "data_type": &in.DataType, "media_type": &in.MediaType, "content": &in.Content, "content_file": &in.ContentFile} {
		if v, ok := fs.get(name); ok {
			*dst, _ = p.str(v)
		}
	}
	if v, ok := fs.get("recipients"); ok {
		in.Recipients, _, _ = p.strList(v)
	}
	if cf, ok := fs.get("content_file"); ok {
		if _, both := fs.get("content"); both {
			p.errf(cf.key, "content_file: give content or content_file, not both")
		} else if in.ContentFile != "" && !iofs.ValidPath(in.ContentFile) {
			p.errf(cf.val, "content_file: %q must be a slash-separated path inside the routes directory", in.ContentFile)
		}
	}
}

func (p *parser) expect(f kv, t *Test, hasNow bool) {
	fs, ok := p.fields(f.val, expectFields)
	if !ok {
		return
	}
	e := &t.Expect
	if v, ok := fs.get("route"); ok {
		e.Route, _ = p.str(v)
		t.routePos = pos{v.val.Line, v.val.Column}
	}
	if v, ok := fs.get("error"); ok {
		if code, ok := p.str(v); ok {
			if _, known := bus.Lookup(bus.Code(code)); !known {
				var codes []string
				for _, d := range bus.Catalogue() {
					codes = append(codes, string(d.Code))
				}
				msg := fmt.Sprintf("error: unknown error code %q", code)
				if s := suggest(code, codes); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				}
				p.errf(v.val, "%s", msg)
			} else {
				e.Error = bus.Code(code)
			}
		}
		if e.Route != "" && bus.Code(v.val.Value) == bus.ErrNoRoute.Code {
			p.errf(v.val, "error: %s contradicts route: %s", bus.ErrNoRoute.Code, e.Route)
		}
	}
	if v, ok := fs.get("due"); ok {
		e.Due, _ = p.time(v)
		if !hasNow {
			p.errf(v.key, "due: needs now: on the test, since the planned time depends on it")
		}
	}
	if v, ok := fs.get("labels"); ok {
		e.Labels = p.labels(v)
	}
	_, hasRoute := fs.get("route")
	_, hasErr := fs.get("error")
	if !hasRoute && !hasErr && !fs.suggested["route"] && !fs.suggested["error"] {
		p.errf(f.val, "expect: give route, error or both")
	}
}

func (p *parser) labels(f kv) map[string]string {
	if f.val.Kind != yaml.MappingNode {
		if f.val.Kind != yaml.AliasNode {
			p.errf(f.val, "labels: expected a mapping, found %s", describe(f.val))
		}
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(f.val.Content); i += 2 {
		k, v := f.val.Content[i], f.val.Content[i+1]
		if k.Kind != yaml.ScalarNode || isNull(k) {
			p.errf(k, "labels: keys must be names, found %s", describe(k))
			continue
		}
		if _, dup := out[k.Value]; dup {
			p.errf(k, "labels: %q repeated", k.Value)
			continue
		}
		if v.Kind != yaml.ScalarNode || isNull(v) {
			if v.Kind != yaml.AliasNode {
				p.errf(v, "labels: %s: expected a string, found %s", k.Value, describe(v))
			}
			continue
		}
		out[k.Value] = v.Value
	}
	return out
}

// sortedKeys returns m's keys in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
