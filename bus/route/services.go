package route

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tuyenquang/lgsp/bus"
)

// Defaults and limits of service fields (services: in route files; C2, R3).
const (
	DefaultServiceTimeout           = 10 * time.Second
	MaxServiceTimeout               = 30 * time.Second // R3: the slowest answer is 30 s
	DefaultServiceMaxBytes    int64 = 10 << 20         // request body limit: 10 MiB
	DefaultServiceMaxInFlight       = 64
	MaxServiceMaxInFlight           = 10000
	MaxServiceAttempts              = 5
)

// IdempotentMethods are the methods a service may retry (RFC 9110 §9.2.2).
var IdempotentMethods = []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions}

// The fields of each mapping of a service.
var (
	serviceFields = []string{"name", "description", "owner", "endpoint", "scopes", "timeout", "retry", "max_bytes", "max_inflight", "headers", "gateway"}
	headerFields  = []string{"set", "remove"}
	scopeRE       = regexp.MustCompile(`^[a-z0-9][a-z0-9._:-]{0,63}$`)
)

// Service is a destination service published through the bus (C2): the
// source calls /svc/<Name>/… with a session key (A3) and the bus forwards
// the call to Endpoint, signed for the owner system.
type Service struct {
	Name        string
	Description string
	Owner       string   // identifier code of the destination system
	Endpoint    string   // absolute http(s) URL the calls go to
	Scopes      []string // scopes a session may be opened for
	Timeout     time.Duration
	Retry       ServiceRetry
	MaxBytes    int64 // request body limit
	MaxInFlight int   // calls in flight to this service at once
	Headers     HeaderRules
	// Gateway names the outside gateway whose credentials the call carries
	// instead of the bus's signature (ngsp: the province's OAuth2 token).
	Gateway   string
	File      string
	Line, Col int

	namePos pos
	blocks  map[string]any // the values of registered service fields
}

// Block returns the value of the registered service field name (e.g. the
// soap: block, adapters/soap.BridgeOf), or nil when the service has none.
func (s *Service) Block(name string) any { return s.blocks[name] }

// ServiceRetry says which calls are tried again after the destination could
// not be reached, how often in all (MaxAttempts, 1: no retry) and how
// long to wait between attempts (Backoff; no wait when Initial is zero).
// It is the one retry schema of route files plus Methods: only idempotent
// methods qualify.
type ServiceRetry struct {
	bus.RetryPolicy
	Methods []string // subset of IdempotentMethods
}

// HeaderRules change the headers of forwarded requests: Remove first, then
// Set. Names are in canonical form.
type HeaderRules struct {
	Set    map[string]string
	Remove []string
}

// Default waits between the attempts of a service call when its retry:
// declares none.
const (
	DefaultServiceRetryInitial     = 100 * time.Millisecond
	DefaultServiceRetryMaxInterval = time.Second
)

// Wait returns the wait before attempt+1 of a call that failed attempt
// times: the retry's backoff (initial doubling up to max_interval, with
// jitter), DefaultServiceRetryInitial and DefaultServiceRetryMaxInterval
// where it declares none. The service's timeout bounds all the waits.
func (r ServiceRetry) Wait(attempt int) time.Duration {
	p := r.RetryPolicy
	if p.Initial <= 0 {
		p.Initial = DefaultServiceRetryInitial
	}
	if p.MaxInterval <= 0 {
		p.MaxInterval = max(DefaultServiceRetryMaxInterval, p.Initial)
	}
	return p.Backoff(attempt)
}

// Attempts returns how many times a call with method may be sent.
func (s *Service) Attempts(method string) int {
	if s.Retry.MaxAttempts > 1 && slices.Contains(s.Retry.Methods, method) {
		return s.Retry.MaxAttempts
	}
	return 1
}

// AllowsScope reports whether sessions for scope may be opened.
func (s *Service) AllowsScope(scope string) bool { return slices.Contains(s.Scopes, scope) }

// Services returns the published services ordered by file and position.
func (s *Set) Services() []*Service {
	if s == nil {
		return nil
	}
	return append([]*Service(nil), s.services...)
}

// Service returns the service called name.
func (s *Set) Service(name string) (*Service, bool) {
	if s == nil {
		return nil, false
	}
	v, ok := s.svcByName[name]
	return v, ok
}

// ParseFile reads one route file with its routes and its services; see
// Parse. A file may declare routes:, services: or both.
func ParseFile(file string, data []byte, reg *bus.StepRegistry) ([]*Route, []*Service, Problems) {
	routes, services, _, probs := parseAll(file, data, reg, DefaultSections)
	return routes, services, probs
}

// ParseFileWith reads one route file with the step kinds of reg and the
// sections of secs (nil: the defaults), returning besides the routes and
// the services the value each section's decoder gave for the file.
func ParseFileWith(file string, data []byte, reg *bus.StepRegistry, secs *Sections) ([]*Route, []*Service, map[string]any, Problems) {
	return parseAll(file, data, reg, secs)
}

// parseAll reads one route file with its routes, its services and the
// parts of the registered sections.
func parseAll(file string, data []byte, reg *bus.StepRegistry, secs *Sections) ([]*Route, []*Service, map[string]any, Problems) {
	if reg == nil {
		reg = bus.DefaultSteps
	}
	if secs == nil {
		secs = DefaultSections
	}
	p := &parser{file: file, reg: reg, sections: secs}
	routes := p.parse(data)
	p.probs.sort()
	return routes, p.services, p.parts, p.probs
}

// addServices puts services into the set, reporting names used twice.
func (s *Set) addServices(svcs []*Service) Problems {
	var probs Problems
	s.svcByName = map[string]*Service{}
	for _, v := range svcs {
		if v.Name == "" {
			continue // reported by the parser
		}
		if first, dup := s.svcByName[v.Name]; dup {
			probs = append(probs, Problem{File: v.File, Line: v.namePos.line, Col: v.namePos.col,
				Msg: fmt.Sprintf("duplicate service name %q (first defined at %s:%d:%d)", v.Name, first.File, first.namePos.line, first.namePos.col)})
			continue
		}
		s.svcByName[v.Name] = v
		s.services = append(s.services, v)
	}
	return probs
}

// serviceList reads the services: list of a file.
func (p *parser) serviceList(f kv) {
	if isNull(f.val) || f.val.Kind == yaml.SequenceNode && len(f.val.Content) == 0 {
		p.errf(f.key, "services: list at least one service, or leave the field out")
		return
	}
	if f.val.Kind != yaml.SequenceNode {
		if f.val.Kind != yaml.AliasNode {
			p.errf(f.val, "services: expected a list, found %s", describe(f.val))
		}
		return
	}
	for _, n := range f.val.Content {
		if s := p.service(n); s != nil {
			p.services = append(p.services, s)
		}
	}
}

func (p *parser) service(n *yaml.Node) *Service {
	s := &Service{
		File: p.file, Line: n.Line, Col: n.Column,
		Timeout: DefaultServiceTimeout, MaxBytes: DefaultServiceMaxBytes, MaxInFlight: DefaultServiceMaxInFlight,
		Retry:   ServiceRetry{RetryPolicy: bus.RetryPolicy{MaxAttempts: 1}},
		namePos: pos{n.Line, n.Column},
	}
	extra := p.sections.ServiceFieldNames()
	fs, ok := p.fields(n, append(append([]string(nil), serviceFields...), extra...))
	if !ok {
		return nil
	}
	if f, ok := fs.get("name"); !ok {
		p.missing(n, fs, "service", "name")
	} else if name, ok := p.str(f); ok {
		s.namePos = pos{f.val.Line, f.val.Column}
		if !routeName.MatchString(name) {
			p.errf(f.val, "name: %q must be 1 to 64 lowercase letters, digits or '-'", name)
		}
		s.Name = name
	}
	if f, ok := fs.get("description"); ok {
		s.Description, _ = p.str(f)
	}
	if f, ok := fs.get("owner"); !ok {
		p.missing(n, fs, "service", "owner")
	} else if owner, ok := p.str(f); ok {
		if _, err := bus.ParseSystemCode(owner); err != nil {
			p.errf(f.val, "owner: %q is not an identifier code (QCVN 102, e.g. 000.00.01.H60)", owner)
		}
		s.Owner = owner
	}
	if f, ok := fs.get("endpoint"); !ok {
		p.missing(n, fs, "service", "endpoint")
	} else if ep, ok := p.str(f); ok {
		if msg := checkEndpoint(ep); msg != "" {
			p.errf(f.val, "endpoint: %s", msg)
		}
		s.Endpoint = strings.TrimRight(ep, "/")
	}
	if f, ok := fs.get("scopes"); !ok {
		p.missing(n, fs, "service", "scopes")
	} else if list, nodes, ok := p.strList(f); ok {
		if len(list) == 0 {
			p.errf(f.val, "scopes: list at least one scope (e.g. [read])")
		}
		for i, sc := range list {
			if !scopeRE.MatchString(sc) {
				p.errf(nodes[i], "scopes: %q must be 1 to 64 of a-z 0-9 . _ : - (starting with a letter or digit)", sc)
				continue
			}
			s.Scopes = append(s.Scopes, sc)
		}
	}
	if f, ok := fs.get("timeout"); ok {
		if d, ok := p.duration(f); ok {
			switch {
			case d <= 0:
				p.errf(f.val, "timeout: must be positive, got %s", f.val.Value)
			case d > MaxServiceTimeout:
				p.errf(f.val, "timeout: %s exceeds the maximum of 30s (R3: the slowest answer is 30 seconds)", f.val.Value)
			default:
				s.Timeout = d
			}
		}
	}
	if f, ok := fs.get("max_bytes"); ok {
		if v, ok := p.int64(f); ok {
			if v <= 0 {
				p.errf(f.val, "max_bytes: must be positive, got %d", v)
			} else {
				s.MaxBytes = v
			}
		}
	}
	if f, ok := fs.get("max_inflight"); ok {
		if v, ok := p.int64(f); ok {
			if v < 1 || v > MaxServiceMaxInFlight {
				p.errf(f.val, "max_inflight: must be between 1 and %d, got %d", MaxServiceMaxInFlight, v)
			} else {
				s.MaxInFlight = int(v)
			}
		}
	}
	if f, ok := fs.get("retry"); ok {
		p.serviceRetry(f, s)
	}
	if f, ok := fs.get("headers"); ok {
		p.headerRules(f, s)
	}
	if f, ok := fs.get("gateway"); ok {
		if g, ok := p.str(f); ok {
			if !p.sections.Gateway(g) {
				if known := p.sections.Gateways(); len(known) == 0 {
					p.errf(f.val, "gateway: %q is not a gateway services can call through; no gateways are registered", g)
				} else {
					p.errf(f.val, "gateway: %q is not a gateway services can call through (%s)", g, strings.Join(known, ", "))
				}
			} else {
				s.Gateway = g
			}
		}
	}
	for _, name := range extra {
		f, ok := fs.get(name)
		if !ok {
			continue
		}
		sf, _ := p.sections.ServiceField(name)
		if v := decodeServiceField(sf, &Decoder{p}, f, Fields{&Decoder{p}, fs}); v != nil {
			if s.blocks == nil {
				s.blocks = map[string]any{}
			}
			s.blocks[name] = v
		}
	}
	return s
}

// decodeServiceField runs a service field's decoder, turning its panic
// into a problem at the field's key.
func decodeServiceField(sf ServiceField, d *Decoder, f kv, service Fields) (v any) {
	defer func() {
		if r := recover(); r != nil {
			d.Errorf(f.key, "%s: the field decoder failed: %v", sf.Name, r)
			v = nil
		}
	}()
	return sf.Decode(d, Field{f.key, f.val}, service)
}

func checkEndpoint(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Sprintf("%q is not a URL", raw)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Opaque != "":
		return fmt.Sprintf("%q must be an absolute http:// or https:// URL", raw)
	case u.User != nil:
		return "must not carry a user or password (use headers.set for credentials the destination needs)"
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Sprintf("%q must not have a query or a #fragment", raw)
	}
	return ""
}

// serviceRetry reads the retry: of a service: the one retry schema
// (retrySchema), max_attempts required and at most MaxServiceAttempts,
// plus methods:, the idempotent methods that may be sent again. The
// durations are the waits between attempts, within the service's timeout;
// absent, the proxy tries again at once.
func (p *parser) serviceRetry(f kv, s *Service) {
	rp, fs, ok := p.retrySchema(f, RetryLimits{MaxAttempts: MaxServiceAttempts, Extra: []string{"methods"}, Bare: true})
	if !ok {
		return
	}
	r := ServiceRetry{RetryPolicy: rp, Methods: IdempotentMethods}
	if _, ok := fs.get("max_attempts"); !ok {
		p.missing(f.val, fs, "retry", "max_attempts")
	}
	if v, ok := fs.get("max_elapsed"); ok {
		p.errf(v.key, "max_elapsed: the attempts of a service call are bounded by its timeout; leave max_elapsed out")
		r.MaxElapsed = 0
	}
	if r.MaxAttempts == 0 {
		r.MaxAttempts = 1
	}
	if v, ok := fs.get("methods"); ok {
		list, nodes, _ := p.strList(v)
		r.Methods = nil
		for i, m := range list {
			if !slices.Contains(IdempotentMethods, m) {
				p.errf(nodes[i], "methods: %q is not idempotent; only %s may be retried", m, strings.Join(IdempotentMethods, ", "))
				continue
			}
			r.Methods = append(r.Methods, m)
		}
	}
	s.Retry = r
}

// reservedHeader reports headers a route file may not set or remove: the
// hop-by-hop headers and the ones the bus sets itself.
func reservedHeader(name string) bool {
	c := http.CanonicalHeaderKey(name)
	if strings.HasPrefix(c, "X-Lgsp-") {
		return true
	}
	switch c {
	case "Authorization", "Host", "Content-Length", "Content-Type", "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Lgspaccesstoken":
		return true
	}
	return false
}

func (p *parser) headerRules(f kv, s *Service) {
	fs, ok := p.fields(f.val, headerFields)
	if !ok {
		return
	}
	check := func(n *yaml.Node, name string) bool {
		if !validHeaderName(name) {
			p.errf(n, "headers: %q is not a header name", name)
			return false
		}
		if reservedHeader(name) {
			p.errf(n, "headers: %s is set by the bus and cannot be changed here", http.CanonicalHeaderKey(name))
			return false
		}
		return true
	}
	if v, ok := fs.get("remove"); ok {
		list, nodes, _ := p.strList(v)
		for i, name := range list {
			if check(nodes[i], name) {
				s.Headers.Remove = append(s.Headers.Remove, http.CanonicalHeaderKey(name))
			}
		}
	}
	if v, ok := fs.get("set"); ok {
		if v.val.Kind != yaml.MappingNode {
			if v.val.Kind != yaml.AliasNode {
				p.errf(v.val, "set: expected a mapping of header names to values, found %s", describe(v.val))
			}
			return
		}
		s.Headers.Set = map[string]string{}
		for i := 0; i+1 < len(v.val.Content); i += 2 {
			k, val := v.val.Content[i], v.val.Content[i+1]
			if k.Kind != yaml.ScalarNode || isNull(k) || !check(k, k.Value) {
				if k.Kind != yaml.ScalarNode || isNull(k) {
					p.errf(k, "set: keys must be header names, found %s", describe(k))
				}
				continue
			}
			name := http.CanonicalHeaderKey(k.Value)
			if _, dup := s.Headers.Set[name]; dup {
				p.errf(k, "set: %s repeated", name)
				continue
			}
			if val.Kind != yaml.ScalarNode || isNull(val) || strings.ContainsAny(val.Value, "\r\n\x00") {
				if val.Kind != yaml.AliasNode {
					p.errf(val, "set: %s: expected a one-line string, found %s", name, describe(val))
				}
				continue
			}
			s.Headers.Set[name] = val.Value
		}
	}
}

func validHeaderName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
