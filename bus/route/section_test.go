package route_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/route"
)

// hooks is a section "hooks": a list of {name, url}, joined across files
// with a name declared twice refused, and checked against the loaded set.
func hooks(check func(*route.Set) route.Problems) route.Section {
	type hook struct {
		Name string `yaml:"name"`
		URL  string `yaml:"url"`
	}
	return route.Section{
		Name: "hooks",
		Decode: func(d *route.Decoder, key, val *yaml.Node) any {
			var out []hook
			for _, n := range d.List(route.Field{Key: key, Val: val}, "hook") {
				var h hook
				if d.Strict(n, "hook", &h) {
					out = append(out, h)
				}
			}
			return out
		},
		Build: func(parts []any) (any, route.Problems) {
			seen := map[string]bool{}
			var all []hook
			var ps route.Problems
			for _, p := range parts {
				for _, h := range p.([]hook) {
					if seen[h.Name] {
						ps = append(ps, route.Problem{File: "hooks", Msg: "hook " + h.Name + " declared twice"})
						continue
					}
					seen[h.Name] = true
					all = append(all, h)
				}
			}
			return all, ps
		},
		Check: check,
	}
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func problemsOf(t *testing.T, err error) string {
	t.Helper()
	var ps route.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error %v is not route.Problems", err)
	}
	return ps.Error()
}

// TestSections: a registered section is read from any file, positioned
// problems come from its strict decoder, the parts of every file are
// joined by its Build, its Check runs only on a set without other
// problems, and a panic in the component's code is a problem, not a crash.
func TestSections(t *testing.T) {
	checked := 0
	secs := route.NewSections()
	secs.Register(hooks(func(*route.Set) route.Problems { checked++; return nil }))
	dir := writeFiles(t, map[string]string{
		"a.yaml": "hooks:\n  - {name: a, url: http://a}\n",
		"b.yaml": "hooks:\n  - {name: b, url: http://b}\n",
	})
	// Build's value is what Check and callers see.
	secs2 := route.NewSections()
	var seen any
	sec := hooks(func(set *route.Set) route.Problems { seen = set.Section("hooks"); return nil })
	secs2.Register(sec)
	set, err := route.LoadDirWith(dir, bus.DefaultSteps, secs2)
	if err != nil {
		t.Fatal(err)
	}
	if set.Section("hooks") == nil || seen == nil || len(set.Routes()) != 0 {
		t.Fatalf("section value %#v", set.Section("hooks"))
	}

	dir = writeFiles(t, map[string]string{
		"a.yaml": "hooks:\n  - {name: a, url: http://a}\n",
		"b.yaml": "hooks:\n  - {name: a, url: http://b}\n  - {name: c, ulr: http://c}\nhoks: []\n",
	})
	_, err = route.LoadDirWith(dir, bus.DefaultSteps, secs)
	got := problemsOf(t, err)
	for _, want := range []string{
		filepath.Join(dir, "b.yaml") + `:3:15: hook: unknown field "ulr" (did you mean "url"?)`,
		filepath.Join(dir, "b.yaml") + `:4:1: unknown field "hoks" (did you mean "hooks"?)`,
		"hooks: hook a declared twice",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if checked != 0 {
		t.Fatal("a section's check ran on a set with problems")
	}

	boom := route.NewSections()
	boom.Register(route.Section{Name: "boom", Decode: func(*route.Decoder, *yaml.Node, *yaml.Node) any { panic("bug") }})
	boom.Register(route.Section{Name: "late", Decode: func(*route.Decoder, *yaml.Node, *yaml.Node) any { return 1 },
		Check: func(*route.Set) route.Problems { panic("bug in check") }})
	dir = writeFiles(t, map[string]string{"a.yaml": "boom: 1\n"})
	if got := problemsOf(t, func() error { _, err := route.LoadDirWith(dir, bus.DefaultSteps, boom); return err }()); !strings.Contains(got, "a.yaml:1:1: boom: the section decoder failed: bug") {
		t.Fatalf("decoder panic: %s", got)
	}
	dir = writeFiles(t, map[string]string{"a.yaml": "late: 1\n"})
	if got := problemsOf(t, func() error { _, err := route.LoadDirWith(dir, bus.DefaultSteps, boom); return err }()); !strings.Contains(got, "late: the section's check failed: bug in check") {
		t.Fatalf("check panic: %s", got)
	}

	for _, name := range []string{"", "routes", "services", "hooks"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("registering section %q did not panic", name)
				}
			}()
			secs.Register(route.Section{Name: name, Decode: func(*route.Decoder, *yaml.Node, *yaml.Node) any { return nil }})
		}()
	}
}
