package service

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite generated docs (docs/config.md, docs/openapi.json)")

// The configuration is declared once, on the Config struct: yaml and env
// tags, defaults in Defaults, meaning in the fields' doc comments. These
// tests generate docs/config.md from that and check that the commented
// example configs/lgsp.yaml names every setting and holds the defaults.

const (
	configDoc  = "../../docs/config.md"
	configYAML = "../../configs/lgsp.yaml"
)

// setting is one leaf of the configuration.
type setting struct {
	Path, Type, Default, Env, Doc string
}

// fieldDocs reads the doc comments of the struct fields declared in the
// files that declare Config's types, keyed "Type.Field".
func fieldDocs(t *testing.T) map[string]string {
	t.Helper()
	docs := map[string]string{}
	fset := token.NewFileSet()
	for _, file := range []string{"config.go", "../exchange/exchange.go", "../retry.go", "../outboundtls.go", "../alert/config.go"} {
		f, err := parser.ParseFile(fset, file, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return false
			}
			// Every setting has its own comment (above or at the end of
			// its line): a comment above a group speaks for its first field.
			for _, fld := range st.Fields.List {
				text := strings.Join(strings.Fields(fld.Doc.Text()+" "+fld.Comment.Text()), " ")
				for _, name := range fld.Names {
					docs[ts.Name.Name+"."+name.Name] = text
				}
			}
			return false
		})
	}
	return docs
}

var durationT = reflect.TypeOf(time.Duration(0))

// settings walks Config and Defaults() into the list of leaf settings.
func settings(t *testing.T) []setting {
	docs := fieldDocs(t)
	var out []setting
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		typ := v.Type()
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			y := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if y == "" || y == "-" {
				continue
			}
			if f.Type.Kind() == reflect.Struct && f.Type != durationT {
				walk(v.Field(i), prefix+y+".")
				continue
			}
			doc := docs[typ.Name()+"."+f.Name]
			if doc == "" {
				t.Errorf("%s%s (%s.%s) has no doc comment", prefix, y, typ.Name(), f.Name)
			}
			out = append(out, setting{Path: prefix + y, Type: typeName(f.Type), Default: showValue(prefix+y, v.Field(i)), Env: f.Tag.Get("env"), Doc: doc})
		}
	}
	walk(reflect.ValueOf(Defaults()), "")
	return out
}

func typeName(t reflect.Type) string {
	switch {
	case t == durationT:
		return "duration"
	case t.Kind() == reflect.Slice:
		return "list of " + t.Elem().Kind().String()
	case t.Kind() == reflect.Map:
		return "map"
	case t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
		return "integer"
	case t.Kind() == reflect.Float64:
		return "number"
	}
	return t.Kind().String()
}

func showValue(path string, v reflect.Value) string {
	switch {
	case path == "node":
		return "host name"
	case v.Type() == durationT:
		return shortDuration(time.Duration(v.Int()))
	case v.Kind() == reflect.String:
		if v.String() == "" {
			return `""`
		}
		return v.String()
	case v.Kind() == reflect.Slice:
		if v.Len() == 0 {
			return "[]"
		}
	case v.Kind() == reflect.Map:
		if v.Len() == 0 {
			return "none"
		}
	}
	return fmt.Sprint(v.Interface())
}

// shortDuration writes 5m for 5m0s and 1h for 1h0m0s, as in configs/lgsp.yaml.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func configMarkdown(list []setting) string {
	var b strings.Builder
	b.WriteString(`# Configuration reference

<!-- Generated from bus/service/config.go (and bus/exchange for exchange.*) by
     go test ./bus/service -run TestConfigDoc -update — do not edit by hand. -->

Every setting a node reads, generated from its one declaration: the ` + "`Config`" + ` struct in
` + "`bus/service/config.go`" + ` (yaml path and environment variable from its tags, default from
` + "`Defaults()`" + `, meaning from its doc comment). Every setting is optional. The file is
YAML given with ` + "`--config FILE`" + ` (or ` + "`LGSP_CONFIG`" + `); unknown keys are refused with their line.
An environment variable, where a setting has one, overrides the file (` + "`lgsp config env`" + `
lists them). Besides these, ` + "`LGSP_MASTER_KEY`" + ` (base64) replaces the master key file and
` + "`LGSP_ADMIN_TOKEN`" + ` the admin token file. Durations are Go durations (` + "`90s`, `5m`, `1h`" + `).
[configs/lgsp.yaml](../configs/lgsp.yaml) is the same list as a commented example file;
` + "`TestConfigYAMLComplete`" + ` fails when it misses a setting or its values differ from the defaults.

| setting | type | default | environment | meaning |
|---|---|---|---|---|
`)
	for _, s := range list {
		env := ""
		if s.Env != "" {
			env = "`" + s.Env + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s | %s |\n", s.Path, s.Type, s.Default, env, strings.ReplaceAll(s.Doc, "|", `\|`))
	}
	return b.String()
}

// TestConfigDoc keeps docs/config.md equal to what the declarations say.
func TestConfigDoc(t *testing.T) {
	want := configMarkdown(settings(t))
	if *update {
		if err := os.WriteFile(configDoc, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(configDoc)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatal("docs/config.md is out of date: run go test ./bus/service -run TestConfigDoc -update")
	}
}

var yamlKey = regexp.MustCompile(`^(\s*)([a-z_][a-z0-9_]*):(\s|$)`)

// yamlPaths returns the key paths a YAML file names, counting keys that
// are commented out ("# store: …", "  # file: …") as named.
func yamlPaths(text string) map[string]bool {
	paths := map[string]bool{}
	type level struct {
		indent int
		key    string
	}
	var stack []level
	for _, line := range strings.Split(text, "\n") {
		if i := strings.Index(line, "# "); i >= 0 && strings.TrimSpace(line[:i]) == "" {
			line = line[:i] + line[i+2:]
		}
		m := yamlKey.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		indent := len(m[1])
		for len(stack) > 0 && stack[len(stack)-1].indent >= indent {
			stack = stack[:len(stack)-1]
		}
		stack = append(stack, level{indent, m[2]})
		var keys []string
		for _, l := range stack {
			keys = append(keys, l.key)
		}
		paths[strings.Join(keys, ".")] = true
	}
	return paths
}

// TestConfigYAMLComplete: configs/lgsp.yaml names every setting (set or
// commented out), names nothing that is not a setting, and what it sets
// loads strictly and equals the defaults it claims to show.
func TestConfigYAMLComplete(t *testing.T) {
	for _, e := range EnvVars() {
		t.Setenv(e[0], "")
	}
	b, err := os.ReadFile(configYAML)
	if err != nil {
		t.Fatal(err)
	}
	named := yamlPaths(string(b))
	known := map[string]bool{}
	for _, s := range settings(t) {
		known[s.Path] = true
		if !named[s.Path] {
			t.Errorf("configs/lgsp.yaml does not name the setting %s", s.Path)
		}
	}
	for p := range named {
		section, _, _ := strings.Cut(p, ".")
		if !known[p] && section != "gateways" && !isSection(p, known) {
			t.Errorf("configs/lgsp.yaml names %s, which is not a setting", p)
		}
	}
	got, err := LoadConfig(configYAML)
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults()
	got.Node = want.Node
	if len(got.Webhooks.AllowCIDRs) == 0 && len(want.Webhooks.AllowCIDRs) == 0 {
		got.Webhooks.AllowCIDRs, want.Webhooks.AllowCIDRs = nil, nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("configs/lgsp.yaml sets values other than the defaults:\n got %+v\nwant %+v", got, want)
	}
}

// isSection reports whether p is the parent of some setting (log, limits …).
func isSection(p string, known map[string]bool) bool {
	for k := range known {
		if strings.HasPrefix(k, p+".") {
			return true
		}
	}
	return false
}
