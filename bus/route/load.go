package route

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tuyenquang/lgsp/bus"
)

// LoadDir reads every *.yaml (and *.yml) file directly in dir, in name
// order, and returns the checked set of routes. File names in routes and
// problems are filepath.Join(dir, name). On any problem in any file it
// returns a nil Set and an error of type Problems holding all of them
// (get it with errors.As); bus.CodeOf of that error is route.invalid.
func LoadDir(dir string, reg *bus.StepRegistry) (*Set, error) {
	return LoadDirWith(dir, reg, DefaultSections)
}

// LoadDirWith is LoadDir with the sections of secs (nil: DefaultSections):
// a file may hold routes:, services: and the registered sections, whose
// checks (Section.Check) run once everything else is clean.
func LoadDirWith(dir string, reg *bus.StepRegistry, secs *Sections) (*Set, error) {
	set, probs := load(dir, reg, secs)
	if len(probs) > 0 {
		return nil, probs
	}
	return set, nil
}

// Lint returns every problem of the route files in dir, or nil; it is what
// `lgsp routes lint` prints, one problem per line.
func Lint(dir string, reg *bus.StepRegistry) Problems {
	_, probs := load(dir, reg, DefaultSections)
	return probs
}

func load(dir string, reg *bus.StepRegistry, secs *Sections) (*Set, Problems) {
	if secs == nil {
		secs = DefaultSections
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, Problems{{File: dir, Msg: fmt.Sprintf("reading route directory: %v", err)}}
	}
	var all []*Route
	var services []*Service
	parts := map[string][]any{}
	var probs Problems
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || (!strings.HasSuffix(name, ".yaml") && !strings.HasSuffix(name, ".yml")) {
			continue
		}
		file := filepath.Join(dir, name)
		data, err := os.ReadFile(file)
		if err != nil {
			probs = append(probs, Problem{File: file, Msg: fmt.Sprintf("reading route file: %v", err)})
			continue
		}
		routes, svcs, pts, ps := parseAll(file, data, reg, secs)
		all = append(all, routes...)
		services = append(services, svcs...)
		for name, v := range pts {
			parts[name] = append(parts[name], v)
		}
		probs = append(probs, ps...)
	}
	set, ps := Build(all)
	probs = append(probs, ps...)
	probs = append(probs, set.addServices(services)...)
	set.sections = map[string]any{}
	names := secs.Names()
	for _, name := range names {
		sec, _ := secs.Lookup(name)
		if sec.Build == nil {
			if len(parts[name]) > 0 {
				set.sections[name] = parts[name]
			}
			continue
		}
		v, ps := guard(dir, name, "join", func() (any, Problems) { return sec.Build(parts[name]) })
		set.sections[name] = v
		probs = append(probs, ps...)
	}
	if len(probs) > 0 {
		probs.sort()
		return nil, probs
	}
	if len(set.routes) == 0 && len(set.services) == 0 && len(parts) == 0 {
		return nil, Problems{{File: dir, Msg: "no route files (*.yaml) in directory"}}
	}
	for _, name := range names {
		if sec, _ := secs.Lookup(name); sec.Check != nil {
			_, ps := guard(dir, name, "check", func() (any, Problems) { return nil, sec.Check(set) })
			probs = append(probs, ps...)
		}
	}
	if len(probs) > 0 {
		probs.sort()
		return nil, probs
	}
	return set, nil
}

// guard runs a section's join or check, turning its panic into a problem
// of the directory: a component's bug refuses the set instead of stopping
// the node.
func guard(dir, section, what string, fn func() (any, Problems)) (v any, ps Problems) {
	defer func() {
		if r := recover(); r != nil {
			v, ps = nil, Problems{{File: dir, Msg: fmt.Sprintf("%s: the section's %s failed: %v", section, what, r)}}
		}
	}()
	return fn()
}

// Build checks routes against each other — unique names, no two routes
// matching one source and data type, tests naming existing routes — and
// returns them as a Set. The Set is usable only when no problems are
// returned (and when Parse returned none for the routes).
func Build(routes []*Route) (*Set, Problems) {
	var probs Problems
	at := func(r *Route, p pos, format string, args ...any) {
		probs = append(probs, Problem{File: r.File, Line: p.line, Col: p.col, Msg: fmt.Sprintf(format, args...)})
	}
	set := &Set{byName: map[string]*Route{}}
	for _, r := range routes {
		if r.Name == "" {
			continue // reported by Parse
		}
		if first, dup := set.byName[r.Name]; dup {
			at(r, r.namePos, "duplicate route name %q (first defined at %s)", r.Name, where(first, first.namePos))
			continue
		}
		set.byName[r.Name] = r
		set.routes = append(set.routes, r)
	}
	for i, a := range set.routes {
		for _, b := range set.routes[i+1:] {
			if src, dt, ok := overlap(a, b); ok {
				what := fmt.Sprintf("data type %q", dt)
				if dt == "*" {
					what = "any data type"
				}
				at(b, b.matchPos, "route %q overlaps route %q (%s): both match source %q with %s; a message must match exactly one route", b.Name, a.Name, where(a, a.matchPos), src, what)
			}
		}
	}
	for _, r := range set.routes {
		for _, t := range r.Tests {
			if t.Expect.Route == "" {
				continue
			}
			if _, ok := set.byName[t.Expect.Route]; !ok {
				names := make([]string, 0, len(set.byName))
				for n := range set.byName {
					names = append(names, n)
				}
				sort.Strings(names)
				msg := fmt.Sprintf("expect.route: no route named %q", t.Expect.Route)
				if s := suggest(t.Expect.Route, names); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				}
				probs = append(probs, Problem{File: t.File, Line: t.routePos.line, Col: t.routePos.col, Msg: msg})
			}
		}
	}
	probs.sort()
	return set, probs
}

func where(r *Route, p pos) string {
	return fmt.Sprintf("%s:%d:%d", r.File, p.line, p.col)
}

// overlap returns a source and data type that both routes match.
func overlap(a, b *Route) (source, dataType string, ok bool) {
	for _, da := range a.DataTypes {
		for _, db := range b.DataTypes {
			dt, ok := dataTypeOverlap(da, db)
			if !ok {
				continue
			}
			for _, sa := range a.Sources {
				for _, sb := range b.Sources {
					if w, ok := intersect(sa, sb); ok {
						return w, dt, true
					}
				}
			}
		}
	}
	return "", "", false
}
