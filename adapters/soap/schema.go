package soap

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tuyenquang/lgsp/bus/route"
)

// The route-file schema of a call to a legacy system's own SOAP service,
// shared by the two adapters that make such calls: the pushes: section of
// adapters/soapout and the soap: block of services, which adapters/rest
// bridges (C2). It lives here, in the SOAP runtime that both may import,
// and not in bus/route.

// SOAP versions a route file may declare (version: "1.1" | "1.2").
const (
	Declared11 = "1.1"
	Declared12 = "1.2"
)

// BridgeField is the name of the block that makes a service a REST ⇄ SOAP
// bridge (services: - soap: {...}).
const BridgeField = "soap"

var (
	bridgeFields   = []string{"wsdl", "operation", "version", "auth", "mapping"}
	authFields     = []string{"username_token"}
	usernameFields = []string{"user", "password_env", "digest"}
	wsdlPathRE     = regexp.MustCompile(`^consumed/[a-z0-9][a-z0-9._-]{0,63}\.wsdl$`)
	opNameRE       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
	envNameRE      = regexp.MustCompile(`^[A-Z_][A-Z0-9_]{0,127}$`)
	jsonPathRE     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$`)
)

// Auth is the WS-Security of a call to a legacy system; the password is
// read from the environment variable PasswordEnv when the call is made.
type Auth struct {
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

// Bridge makes a service a REST ⇄ SOAP bridge (C2): the JSON body of a
// call is mapped into the request type of Operation (or decoded into it by
// its JSON names when Mapping is empty), the operation is called at the
// service's endpoint and its answer is returned as JSON (adapters/rest).
type Bridge struct {
	WSDL      string
	Operation string
	Version   string // Declared11 or Declared12; "" = the registered binding's
	Auth      Auth
	Mapping   []FieldMap // sources are json:<path> or const:<text>
}

// Key returns the registry key of the bridged operation.
func (b *Bridge) Key() string { return OperationKey(b.WSDL, b.Operation) }

// OperationKey is the registry key of operation of the WSDL at wsdl: the
// WSDL's base name without .wsdl, a slash and the operation
// ("qlvb-vnpt/NhanVanBan").
func OperationKey(wsdl, operation string) string {
	return strings.TrimSuffix(path.Base(wsdl), ".wsdl") + "/" + operation
}

// BridgeOf returns the soap: block of svc, or nil when svc is not a bridge.
func BridgeOf(svc *route.Service) *Bridge {
	b, _ := svc.Block(BridgeField).(*Bridge)
	return b
}

func init() { RegisterBridgeField(route.DefaultSections) }

// RegisterBridgeField declares the soap: block of services in secs (the
// default sections get it from init; a test environment calls it).
func RegisterBridgeField(secs *route.Sections) {
	secs.RegisterServiceField(route.ServiceField{Name: BridgeField, Decode: decodeBridge})
}

// decodeBridge reads the soap: block of a service.
func decodeBridge(d *route.Decoder, f route.Field, service route.Fields) any {
	fs, ok := d.Fields(f.Val, bridgeFields)
	if !ok {
		return nil
	}
	b := &Bridge{}
	DecodeOperation(d, f.Val, fs, "soap", &b.WSDL, &b.Operation)
	if v, ok := fs.Get("version"); ok {
		b.Version = DecodeVersion(d, v)
	}
	if v, ok := fs.Get("auth"); ok {
		b.Auth = DecodeAuth(d, v)
	}
	if v, ok := fs.Get("mapping"); ok {
		b.Mapping = DecodeMapping(d, v, bridgeSource)
	}
	if g, ok := service.Get("gateway"); ok && g.Val.Kind == yaml.ScalarNode && d.Gateway(g.Val.Value) {
		d.Errorf(g.Val, "gateway: a SOAP bridge service cannot call through a gateway")
	}
	return b
}

// DecodeOperation reads the wsdl: and operation: fields of a call into
// wsdl and op; what names the mapping n in messages about missing fields.
func DecodeOperation(d *route.Decoder, n *yaml.Node, fs route.Fields, what string, wsdl, op *string) {
	if f, ok := fs.Require(n, what, "wsdl"); ok {
		if w, ok := d.String(f); ok {
			if !wsdlPathRE.MatchString(w) {
				d.Errorf(f.Val, "wsdl: %q must name a file in wsdl/consumed, like consumed/qlvb-vnpt.wsdl", w)
			} else {
				*wsdl = w
			}
		}
	}
	if f, ok := fs.Require(n, what, "operation"); ok {
		if o, ok := d.String(f); ok {
			if !opNameRE.MatchString(o) {
				d.Errorf(f.Val, "operation: %q is not an operation name of a WSDL", o)
			} else {
				*op = o
			}
		}
	}
}

// DecodeVersion reads version: "1.1" or "1.2".
func DecodeVersion(d *route.Decoder, f route.Field) string {
	v, ok := d.String(f)
	if !ok {
		return ""
	}
	if v != Declared11 && v != Declared12 {
		d.Errorf(f.Val, `version: %q: expected "1.1" or "1.2" (quote it: a bare 1.1 is a number)`, v)
		return ""
	}
	return v
}

// DecodeAuth reads auth: {username_token: {user, password_env, digest}}.
func DecodeAuth(d *route.Decoder, f route.Field) Auth {
	var a Auth
	fs, ok := d.Fields(f.Val, authFields)
	if !ok {
		return a
	}
	ut, ok := fs.Require(f.Val, "auth", "username_token")
	if !ok {
		return a
	}
	us, ok := d.Fields(ut.Val, usernameFields)
	if !ok {
		return a
	}
	if v, ok := us.Require(ut.Val, "username_token", "user"); ok {
		a.User, _ = d.String(v)
	}
	if v, ok := us.Require(ut.Val, "username_token", "password_env"); ok {
		if env, ok := d.String(v); ok {
			if !envNameRE.MatchString(env) {
				d.Errorf(v.Val, "password_env: %q must be the name of an environment variable (A-Z, 0-9, _); passwords are never written in route files", env)
			} else {
				a.PasswordEnv = env
			}
		}
	}
	if v, ok := us.Get("digest"); ok {
		if v.Val.Kind != yaml.ScalarNode || v.Val.ShortTag() != "!!bool" {
			d.Errorf(v.Val, "digest: expected true or false, found %s", route.Describe(v.Val))
		} else {
			a.Digest = v.Val.Value == "true"
		}
	}
	return a
}

// DecodeMapping reads a mapping of request fields to sources; check says
// what is wrong with a source, or "" (item: the field is an item of a
// repeated element, Name[].Field).
func DecodeMapping(d *route.Decoder, f route.Field, check func(src string, item bool) string) []FieldMap {
	if f.Val.Kind != yaml.MappingNode || len(f.Val.Content) == 0 {
		if f.Val.Kind != yaml.AliasNode {
			d.Errorf(f.Val, "mapping: expected a mapping of request fields to sources, like {TrichYeu: title}, found %s", route.Describe(f.Val))
		}
		return nil
	}
	var out []FieldMap
	seen := map[string]bool{}
	for i := 0; i+1 < len(f.Val.Content); i += 2 {
		k, v := f.Val.Content[i], f.Val.Content[i+1]
		if k.Kind != yaml.ScalarNode || route.IsNull(k) {
			d.Errorf(k, "mapping: keys must be field names, found %s", route.Describe(k))
			continue
		}
		field := k.Value
		if !ValidFieldPath(field) {
			d.Errorf(k, "mapping: %q is not a field of the generated request type (Name, Outer.Inner or List[].Item)", field)
			continue
		}
		if seen[field] {
			d.Errorf(k, "mapping: %s repeated", field)
			continue
		}
		seen[field] = true
		if v.Kind != yaml.ScalarNode || route.IsNull(v) {
			if v.Kind != yaml.AliasNode {
				d.Errorf(v, "mapping: %s: expected a source, found %s", field, route.Describe(v))
			}
			continue
		}
		if msg := check(v.Value, strings.Contains(field, "[].")); msg != "" {
			d.Errorf(v, "mapping: %s: %s", field, msg)
			continue
		}
		out = append(out, FieldMap{Field: field, Source: v.Value, Line: k.Line, Col: k.Column})
	}
	return out
}

// ValidFieldPath reports whether s is a field path of a generated type:
// Name, Outer.Inner or List[].Item.
func ValidFieldPath(s string) bool {
	if strings.Count(s, "[]") > 1 {
		return false
	}
	for _, part := range strings.Split(strings.Replace(s, "[].", ".", 1), ".") {
		if !opNameRE.MatchString(part) {
			return false
		}
	}
	return true
}

// bridgeSource returns what is wrong with a source of a bridged service's
// mapping, or "": json:<path> or const:<text>.
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
