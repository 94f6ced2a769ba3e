package route

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/schedule"
)

// Section is a top-level section of route files that a component declares
// for itself (a delivery kind's targets, like the pushes: of
// adapters/soapout), beside the routes: and services: that bus/route owns.
// Its schema lives with the component: Decode reads the section of one
// file through the strict Decoder, which keeps every problem's position,
// so a kind is added without touching a switch statement here.
type Section struct {
	// Name is the key of the section in a route file ("pushes").
	Name string
	// Decode reads the section of one file: key is the section's key node,
	// val its value. Problems go to d with their positions; the returned
	// value (nil when there is nothing to keep) is one part of Build.
	Decode func(d *Decoder, key, val *yaml.Node) any
	// Build joins the parts of every file (in file order) into the
	// section's value in the set, checking them against each other (a
	// target declared twice). Optional: without it the value is the list
	// of parts ([]any).
	Build func(parts []any) (any, Problems)
	// Check looks at the whole loaded set for what only the component
	// knows (the SOAP operation a push names is registered, its mapping
	// fits the generated types). It runs once every file loaded without a
	// problem — at start-up, on every reload and in `lgsp routes lint` —
	// so a set that fails it never replaces a running one. Optional.
	Check func(set *Set) Problems
}

// Sections is a registry of route-file sections. A node uses the one of
// its environment (bus/service.Environment); DefaultSections is the one
// that the adapters' init functions fill.
type Sections struct {
	mu       sync.RWMutex
	byNm     map[string]Section
	fields   map[string]ServiceField
	gateways map[string]bool
}

// ServiceField is a field of services: that a component declares for
// itself (the soap: block that makes a service a REST ⇄ SOAP bridge,
// adapters/soap), beside the fields bus/route owns.
type ServiceField struct {
	// Name is the key of the field in a service ("soap").
	Name string
	// Decode reads the field's value f of one service; service holds the
	// service's other fields, for checks across them. Problems go to d
	// with their positions; the value is the service's Block(Name).
	Decode func(d *Decoder, f Field, service Fields) any
}

// NewSections returns an empty registry: route files may then hold only
// routes: and services:, services only the fields bus/route owns, and no
// service may name a gateway.
func NewSections() *Sections {
	return &Sections{byNm: map[string]Section{}, fields: map[string]ServiceField{}, gateways: map[string]bool{}}
}

// DefaultSections is the registry filled by the adapters' init functions.
var DefaultSections = NewSections()

// reserved are the top-level fields that bus/route owns itself.
var reserved = []string{"routes", "services"}

// Register adds a section. It panics on a name that is empty, reserved or
// already registered, or without Decode: these are programming errors
// found at start-up.
func (r *Sections) Register(s Section) {
	if s.Name == "" || s.Decode == nil || contains(reserved, s.Name) {
		panic(fmt.Sprintf("route: invalid section %q (a section needs a free name and Decode)", s.Name))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.byNm[s.Name]; dup {
		panic("route: section " + s.Name + " registered twice")
	}
	r.byNm[s.Name] = s
}

// RegisterServiceField adds a field of services. It panics on a name that
// is empty, one of the fields bus/route owns or already registered, or
// without Decode.
func (r *Sections) RegisterServiceField(f ServiceField) {
	if f.Name == "" || f.Decode == nil || contains(serviceFields, f.Name) {
		panic(fmt.Sprintf("route: invalid service field %q (a field needs a free name and Decode)", f.Name))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.fields[f.Name]; dup {
		panic("route: service field " + f.Name + " registered twice")
	}
	r.fields[f.Name] = f
}

// RegisterGateway adds an outside gateway that services may call through
// (gateway: name); the adapter that carries the calls registers it
// (adapters/ngsp: "ngsp"). It panics on an empty name or one already
// registered.
func (r *Sections) RegisterGateway(name string) {
	if name == "" {
		panic("route: a gateway needs a name")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gateways[name] {
		panic("route: gateway " + name + " registered twice")
	}
	r.gateways[name] = true
}

// Gateway reports whether services may call through the gateway name.
func (r *Sections) Gateway(name string) bool {
	if r == nil {
		return false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.gateways[name]
}

// Gateways returns the names of the registered gateways, sorted.
func (r *Sections) Gateways() []string {
	if r == nil {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.gateways))
	for n := range r.gateways {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ServiceField returns the service field called name.
func (r *Sections) ServiceField(name string) (ServiceField, bool) {
	if r == nil {
		return ServiceField{}, false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	f, ok := r.fields[name]
	return f, ok
}

// ServiceFieldNames returns the names of the registered service fields,
// sorted.
func (r *Sections) ServiceFieldNames() []string {
	if r == nil {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.fields))
	for n := range r.fields {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Lookup returns the section called name.
func (r *Sections) Lookup(name string) (Section, bool) {
	if r == nil {
		return Section{}, false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.byNm[name]
	return s, ok
}

// Names returns the names of the registered sections, sorted.
func (r *Sections) Names() []string {
	if r == nil {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.byNm))
	for n := range r.byNm {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Section returns the value of the section called name in the set (what
// its Build returned), or nil when no section of that name is registered.
func (s *Set) Section(name string) any {
	if s == nil {
		return nil
	}
	return s.sections[name]
}

// Decoder reads a section of one route file for its component: every
// problem it reports carries the file and the node's line and column, and
// its readers give the same messages as the rest of the file's fields.
type Decoder struct{ p *parser }

// Field is a key node of a mapping and its value node.
type Field struct{ Key, Val *yaml.Node }

func (f Field) kv() kv { return kv{f.Key, f.Val} }

// Fields are the fields of a mapping by name (Decoder.Fields).
type Fields struct {
	d *Decoder
	e entries
}

// Gateway reports whether name is a gateway services may call through in
// the registry the file is read with (Sections.RegisterGateway).
func (d *Decoder) Gateway(name string) bool { return d.p.sections.Gateway(name) }

// File returns the name of the file being read, as problems give it.
func (d *Decoder) File() string { return d.p.file }

// Errorf reports a problem at n.
func (d *Decoder) Errorf(n *yaml.Node, format string, args ...any) {
	d.p.errf(n, format, args...)
}

// Fields checks that n is a mapping whose keys are among known (unknown
// and repeated keys are reported, with a "did you mean" hint), and returns
// its fields; ok is false when n is no mapping.
func (d *Decoder) Fields(n *yaml.Node, known []string) (Fields, bool) {
	e, ok := d.p.fields(n, known)
	return Fields{d, e}, ok
}

// Get returns the field called name.
func (fs Fields) Get(name string) (Field, bool) {
	f, ok := fs.e.get(name)
	return Field{f.key, f.val}, ok
}

// Require returns the field called name, reporting it as missing from
// what (at n) when absent, unless a typo of it was already reported.
func (fs Fields) Require(n *yaml.Node, what, name string) (Field, bool) {
	f, ok := fs.Get(name)
	if !ok {
		fs.d.p.missing(n, fs.e, what, name)
	}
	return f, ok
}

// Suggested reports whether an unknown key was already reported as a typo
// of name.
func (fs Fields) Suggested(name string) bool { return fs.e.suggested[name] }

// String reads a scalar as text; null, lists and mappings are refused.
func (d *Decoder) String(f Field) (string, bool) { return d.p.str(f.kv()) }

// StringList reads a list of distinct strings with their nodes.
func (d *Decoder) StringList(f Field) ([]string, []*yaml.Node, bool) { return d.p.strList(f.kv()) }

// Int64 reads an integer.
func (d *Decoder) Int64(f Field) (int64, bool) { return d.p.int64(f.kv()) }

// Duration reads a duration like 90s, 30m or 72h.
func (d *Decoder) Duration(f Field) (time.Duration, bool) { return d.p.duration(f.kv()) }

// Schedule reads a cron spec in Asia/Ho_Chi_Minh (bus/schedule).
func (d *Decoder) Schedule(f Field) (string, cron.Schedule, bool) {
	spec, ok := d.String(f)
	if !ok {
		return "", nil, false
	}
	sched, err := schedule.Parse(spec)
	if err != nil {
		d.Errorf(f.Val, "schedule: %v", err)
		return "", nil, false
	}
	return spec, sched, true
}

// Retry reads a retry: block with the one retry schema of route files
// (RetryFields): what is absent takes the defaults of bus.DefaultRetry.
func (d *Decoder) Retry(f Field) bus.RetryPolicy {
	return d.p.retryPolicy(f.kv(), RetryLimits{MaxAttempts: MaxRetryAttempts})
}

// List reads a section that is a non-empty list and returns its items;
// what names the items in the message for an empty one ("push").
func (d *Decoder) List(f Field, what string) []*yaml.Node {
	if IsNull(f.Val) || f.Val.Kind == yaml.SequenceNode && len(f.Val.Content) == 0 {
		d.Errorf(f.Key, "%s: list at least one %s, or leave the field out", f.Key.Value, what)
		return nil
	}
	if f.Val.Kind != yaml.SequenceNode {
		if f.Val.Kind != yaml.AliasNode {
			d.Errorf(f.Val, "%s: expected a list, found %s", f.Key.Value, describe(f.Val))
		}
		return nil
	}
	return f.Val.Content
}

// Strict decodes n into the value into points to with the strict decoder
// of step configurations (unknown and repeated fields are errors); what
// prefixes each problem. It reports whether n decoded without a problem.
func (d *Decoder) Strict(n *yaml.Node, what string, into any) bool {
	probs := decodeStrict(n, into)
	for _, dp := range probs {
		d.Errorf(dp.n, "%s: %s", what, dp.msg)
	}
	return len(probs) == 0
}

// CheckEndpoint returns what is wrong with the endpoint URL of a call, or
// "": it must be an absolute http(s) URL without user, query or fragment.
func CheckEndpoint(raw string) string { return checkEndpoint(raw) }

// IsNull reports whether n is an explicit or implicit YAML null.
func IsNull(n *yaml.Node) bool { return isNull(n) }

// Describe names a node's kind and value for messages ("a list", "string
// \"x\"").
func Describe(n *yaml.Node) string { return describe(n) }

// Hint returns ` (did you mean "x"?)` or ` (known: a, b)` for an unknown
// name.
func Hint(name string, known []string) string { return hint(name, known) }
