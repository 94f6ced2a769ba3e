package route

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// SOAP versions a push or a bridged service may speak.
const (
	SOAP11 = "1.1"
	SOAP12 = "1.2"
)

// The fields of the soap: block of a service.
var (
	soapServiceFields = []string{"wsdl", "operation", "version", "auth", "mapping"}
	soapAuthFields    = []string{"username_token"}
	usernameFields    = []string{"user", "password_env", "digest"}
	wsdlPathRE        = regexp.MustCompile(`^consumed/[a-z0-9][a-z0-9._-]{0,63}\.wsdl$`)
	xmlNameRE         = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
	envNameRE         = regexp.MustCompile(`^[A-Z_][A-Z0-9_]{0,127}$`)
	jsonPathRE        = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$`)
)

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

// Key returns the registry key of the bridged operation.
func (s *ServiceSOAP) Key() string { return OperationKey(s.WSDL, s.Operation) }

// OperationKey is the registry key of operation of the WSDL at wsdl.
func OperationKey(wsdl, operation string) string {
	return strings.TrimSuffix(path.Base(wsdl), ".wsdl") + "/" + operation
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

// mapping reads a mapping of request fields to sources; check says what
// is wrong with a source (bridgeSource for bridged services; pushes bring
// their own, adapters/soapout).
func (p *parser) mapping(f kv, check func(src string, item bool) string) []FieldMap {
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
		if msg := check(v.Value, strings.Contains(field, "[].")); msg != "" {
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

// bridgeSource returns what is wrong with a source of a bridged
// service's mapping, or "": json:<path> or const:<text>.
func bridgeSource(src string, _ bool) string {
	switch {
	case strings.HasPrefix(src, "const:"):
		return ""
	case strings.HasPrefix(src, "json:"):
		if !jsonPathRE.MatchString(strings.TrimPrefix(src, "json:")) {
			return fmt.Sprintf("%q: write json:<name> or json:<outer>.<inner>", src)
		}
		return ""
	}
	return fmt.Sprintf("unknown source %q; a bridged service maps json:<path> or const:<text>", src)
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
		sp.Mapping = p.mapping(v, bridgeSource)
	}
	s.SOAP = sp
}
