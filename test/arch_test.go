package test

// The architecture test: docs/architecture.md says which way imports point,
// and this file makes that page executable. The checkers are plain functions
// (checkImports, checkDocFiles, parseBusOrder) so that they are tested on
// synthetic trees below as well as run on the real one; a checker that can
// only ever say "fine" would prove nothing.
//
// Rules (letters as in the page and in every violation message):
//
//	(a) bus imports the standard library only.
//	(b) nothing under bus/ imports a package of this module outside bus/
//	    (adapters/, cmd/, ...).
//	(c) bus/service imports no adapter (a special case of (b), named apart
//	    because the registration design depends on it).
//	(d) an adapter imports no other adapter, except adapters/soap (the SOAP
//	    runtime) which any adapter may import; inside this module an adapter
//	    imports only bus, bus/*, its own subpackages, adapters/soap and the
//	    generated WSDL types under wsdl/ (wsdl/gen/<pkg>, wsdl/consumed/gen/<pkg>).
//	(e) bus/<job> packages follow the order of the code block in
//	    docs/architecture.md whose lines all start with "bus/": a package may
//	    import only packages listed above it (and its own subpackages), and
//	    every bus/<job> package must be listed there.
//	(f) every directory holding .go files has a doc.go whose package comment
//	    starts "Package <name>" ("Command <dir>" is also accepted for main).
//	(h) every package of generated WSDL types (wsdl/gen/<pkg>,
//	    wsdl/consumed/gen/<pkg>) has one owning adapter, named in the code
//	    block of docs/architecture.md whose lines all start with "wsdl/";
//	    only its owner imports it, and it imports no adapter but its owner
//	    (the one it registers its operations with) and adapters/soap. So an
//	    adapter cannot reach another adapter through generated packages.
//
// Only the non-test imports of each package are checked: the direction is
// about what ships in the binary. Third-party modules are allowed everywhere
// but in bus itself.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// violation is one broken rule. From is the importing package (or, for rule
// f, the directory), To the imported package ("" when the rule is about From
// alone). Both are module-relative for packages of this module.
type violation struct {
	Rule string
	From string
	To   string
	Why  string
}

func (v violation) String() string {
	if v.To == "" {
		return fmt.Sprintf("(%s) %s: %s", v.Rule, v.From, v.Why)
	}
	return fmt.Sprintf("(%s) %s imports %s: %s", v.Rule, v.From, v.To, v.Why)
}

// archPkg is one package of the module: Rel is its path relative to the
// module root ("bus", "bus/store", "adapters/soap"); Imports are full import
// paths, as go list prints them.
type archPkg struct {
	Rel     string
	Imports []string
}

// busJobRe is what an entry of the bus/<job> order list must look like.
var busJobRe = regexp.MustCompile(`^bus/[a-z0-9_]+$`)

// parseBusOrder returns the ordered bus/<job> list from docs/architecture.md:
// the one fenced code block in which every non-blank line starts with "bus/".
// The first word of each line is the package.
func parseBusOrder(doc []byte) ([]string, error) {
	var (
		blocks  [][]string
		inBlock bool
		cur     []string
		allBus  bool
	)
	sc := bufio.NewScanner(bytes.NewReader(doc))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			if inBlock {
				if allBus && len(cur) > 0 {
					blocks = append(blocks, cur)
				}
				inBlock = false
				continue
			}
			inBlock, cur, allBus = true, nil, true
			continue
		}
		if !inBlock || strings.TrimSpace(line) == "" {
			continue
		}
		if !strings.HasPrefix(line, "bus/") {
			allBus = false
			continue
		}
		cur = append(cur, strings.Fields(line)[0])
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if inBlock {
		return nil, errors.New("unclosed code block")
	}
	if len(blocks) != 1 {
		return nil, fmt.Errorf("want exactly one code block whose lines all start with \"bus/\", found %d", len(blocks))
	}
	order := blocks[0]
	seen := map[string]bool{}
	for _, p := range order {
		if !busJobRe.MatchString(p) {
			return nil, fmt.Errorf("order entry %q is not of the form bus/<job>", p)
		}
		if seen[p] {
			return nil, fmt.Errorf("order entry %q is listed twice", p)
		}
		seen[p] = true
	}
	return order, nil
}

// isStdlib reports whether an import path is of the standard library: its
// first element has no dot ("C", the cgo pseudo-package, is not).
func isStdlib(path string) bool {
	if path == "C" {
		return false
	}
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// relTo returns path relative to module and whether it is inside it.
func relTo(module, path string) (string, bool) {
	if path == module {
		return ".", true
	}
	if rest, ok := strings.CutPrefix(path, module+"/"); ok {
		return rest, true
	}
	return path, false
}

// under reports whether rel is the tree top or inside it.
func under(rel, top string) bool {
	return rel == top || strings.HasPrefix(rel, top+"/")
}

// unit returns the first two elements of rel: the bus/<job> or
// adapters/<name> a (sub)package belongs to.
func unit(rel string) string {
	parts := strings.SplitN(rel, "/", 3)
	if len(parts) < 2 {
		return rel
	}
	return parts[0] + "/" + parts[1]
}

// checkImports applies rules (a)–(e) to every import of every package and
// returns all violations, sorted.
func checkImports(module string, order []string, pkgs []archPkg) []violation {
	pos := make(map[string]int, len(order))
	for i, p := range order {
		pos[p] = i
	}
	var out []violation
	add := func(rule, from, to, why string) {
		out = append(out, violation{Rule: rule, From: from, To: to, Why: why})
	}
	for _, p := range pkgs {
		from := p.Rel
		fromJob := unit(from)
		_, fromListed := pos[fromJob]
		if strings.HasPrefix(from, "bus/") && !fromListed {
			add("e", from, "", fmt.Sprintf("%s is not listed in the bus/<job> order of docs/architecture.md; add it there", fromJob))
		}
		for _, imp := range p.Imports {
			if isStdlib(imp) {
				continue
			}
			to, inModule := relTo(module, imp)
			switch {
			case from == "bus":
				add("a", from, to, "the kernel bus may import the standard library only")

			case strings.HasPrefix(from, "bus/"):
				if !inModule || to == "bus" {
					continue
				}
				if !strings.HasPrefix(to, "bus/") {
					if fromJob == "bus/service" && under(to, "adapters") {
						add("c", from, to, "bus/service never names an adapter; adapters register themselves with service.RegisterModule")
					} else {
						add("b", from, to, "a bus package may import only bus and bus/* packages of this module")
					}
					continue
				}
				toJob := unit(to)
				if toJob == fromJob {
					continue
				}
				toPos, toListed := pos[toJob]
				switch {
				case !toListed:
					add("e", from, to, fmt.Sprintf("%s is not listed in the bus/<job> order of docs/architecture.md", toJob))
				case !fromListed:
					// Reported once for the package above.
				case toPos >= pos[fromJob]:
					add("e", from, to, fmt.Sprintf("%s is listed below %s in docs/architecture.md; a package may import only those above it", toJob, fromJob))
				}

			case under(from, "adapters"):
				if !inModule || to == "bus" || strings.HasPrefix(to, "bus/") || generatedTypes(to) {
					continue
				}
				if under(to, "adapters") {
					if unit(to) == unit(from) || unit(to) == "adapters/soap" {
						continue
					}
					add("d", from, to, "an adapter never imports another adapter (only adapters/soap, the SOAP runtime)")
					continue
				}
				add("d", from, to, "an adapter may import only bus, bus/*, adapters/soap, generated WSDL types (wsdl/**/gen/*) and its own subpackages of this module")
			}
		}
	}
	slices.SortFunc(out, func(x, y violation) int {
		return strings.Compare(x.String(), y.String())
	})
	return slices.Compact(out)
}

// generatedTypes reports whether rel is a package of types generated from a
// WSDL (wsdl/gen/<pkg>, wsdl/consumed/gen/<pkg>), which adapters may import.
func generatedTypes(rel string) bool {
	parts := strings.Split(rel, "/")
	return len(parts) >= 3 && parts[0] == "wsdl" && parts[len(parts)-2] == "gen"
}

// parseGenOwners returns the owners of the generated WSDL packages from
// docs/architecture.md: the one fenced code block in which every non-blank
// line starts with "wsdl/", each line "<package> <adapters/name> …".
func parseGenOwners(doc []byte) (map[string]string, error) {
	var blocks []map[string]string
	var cur map[string]string
	inBlock, allGen, lines := false, false, 0
	var bad, curBad error
	sc := bufio.NewScanner(bytes.NewReader(doc))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			if inBlock {
				if allGen && lines > 0 {
					blocks = append(blocks, cur)
					if bad == nil {
						bad = curBad
					}
				}
				inBlock = false
				continue
			}
			inBlock, cur, allGen, lines, curBad = true, map[string]string{}, true, 0, nil
			continue
		}
		if !inBlock || strings.TrimSpace(line) == "" {
			continue
		}
		if !strings.HasPrefix(line, "wsdl/") {
			allGen = false
			continue
		}
		lines++
		f := strings.Fields(line)
		switch {
		case len(f) < 2 || !generatedTypes(f[0]) || !strings.HasPrefix(f[1], "adapters/") || strings.Count(f[1], "/") != 1:
			curBad = fmt.Errorf("owner line %q is not \"wsdl/…/gen/<pkg> adapters/<name>\"", line)
		case cur[f[0]] != "":
			curBad = fmt.Errorf("generated package %s is listed twice", f[0])
		default:
			cur[f[0]] = f[1]
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(blocks) != 1 {
		return nil, fmt.Errorf("want exactly one code block whose lines all start with \"wsdl/\" (owners of generated packages), found %d", len(blocks))
	}
	return blocks[0], bad
}

// checkGenerated applies rule (h).
func checkGenerated(module string, owners map[string]string, pkgs []archPkg) []violation {
	var out []violation
	add := func(from, to, why string) { out = append(out, violation{Rule: "h", From: from, To: to, Why: why}) }
	for _, p := range pkgs {
		if generatedTypes(p.Rel) {
			if owners[p.Rel] == "" {
				add(p.Rel, "", "a generated package needs its owning adapter in docs/architecture.md (the code block of wsdl/ lines)")
			}
		}
		for _, imp := range p.Imports {
			to, inModule := relTo(module, imp)
			if !inModule {
				continue
			}
			switch {
			case under(p.Rel, "adapters") && generatedTypes(to):
				if owner := owners[to]; owner != "" && owner != unit(p.Rel) {
					add(p.Rel, to, fmt.Sprintf("%s belongs to %s (docs/architecture.md); an adapter imports only the generated packages it owns", to, owner))
				}
			case generatedTypes(p.Rel) && under(to, "adapters") && unit(to) != "adapters/soap":
				if owner := owners[p.Rel]; unit(to) != owner {
					add(p.Rel, to, fmt.Sprintf("a generated package imports only its owner (%s) and adapters/soap: through it, its importers would reach another adapter", owner))
				}
			}
		}
	}
	slices.SortFunc(out, func(x, y violation) int { return strings.Compare(x.String(), y.String()) })
	return slices.Compact(out)
}

// skipDir reports whether the go tool ignores a directory (and so do we).
func skipDir(name string) bool {
	return name == "testdata" || name == "vendor" || name == "node_modules" ||
		strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")
}

// checkDocFiles applies rule (f) to every directory under root that holds
// .go files. Directories are reported relative to root.
func checkDocFiles(root string) ([]violation, error) {
	var out []violation
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if path != root && skipDir(d.Name()) {
			return filepath.SkipDir
		}
		entries, err := os.ReadDir(path)
		if err != nil {
			return err
		}
		hasGo := slices.ContainsFunc(entries, func(e fs.DirEntry) bool {
			return !e.IsDir() && strings.HasSuffix(e.Name(), ".go")
		})
		if !hasGo {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if why := docProblem(filepath.Join(path, "doc.go"), filepath.Base(path)); why != "" {
			out = append(out, violation{Rule: "f", From: rel, Why: why})
		}
		return nil
	})
	return out, err
}

// docProblem says what is wrong with a directory's doc.go, or "" if nothing.
func docProblem(docPath, dirName string) string {
	if _, err := os.Stat(docPath); err != nil {
		return "no doc.go; every package opens with a doc.go whose comment starts \"Package <name>\""
	}
	f, err := parser.ParseFile(token.NewFileSet(), docPath, nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		return fmt.Sprintf("doc.go does not parse: %v", err)
	}
	name := f.Name.Name
	if f.Doc == nil {
		return fmt.Sprintf("doc.go has no package comment; start it with \"// Package %s ...\"", name)
	}
	words := strings.Fields(f.Doc.Text())
	if len(words) >= 2 {
		second := strings.TrimRight(words[1], ".,:;")
		if words[0] == "Package" && second == name {
			return ""
		}
		if name == "main" && words[0] == "Command" && second == dirName {
			return ""
		}
	}
	return fmt.Sprintf("doc.go's package comment must start \"Package %s\"", name)
}

// moduleRoot finds the directory holding go.mod, from the test's directory up.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

// modulePath reads the module line of go.mod.
func modulePath(t *testing.T, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	t.Fatal("go.mod has no module line")
	return ""
}

// goList runs `go list -e -json ./...` in root and returns every package.
// Packages with errors (a colleague's half-written file) are still returned
// with whatever imports go list could read, and logged.
func goList(t *testing.T, root, module string) []archPkg {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list packages: %v", err)
	}
	cmd := exec.Command(goBin, "list", "-e", "-json=ImportPath,Imports,Error", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []archPkg
	dec := json.NewDecoder(bytes.NewReader(stdout))
	for {
		var p struct {
			ImportPath string
			Imports    []string
			Error      *struct{ Err string }
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		if p.Error != nil {
			t.Logf("go list reports an error in %s (not this test's business): %s", p.ImportPath, p.Error.Err)
		}
		rel, ok := relTo(module, p.ImportPath)
		if !ok {
			t.Fatalf("go list returned %s, outside module %s", p.ImportPath, module)
		}
		pkgs = append(pkgs, archPkg{Rel: rel, Imports: p.Imports})
	}
	return pkgs
}

// TestArchitecture enforces docs/architecture.md on the real tree and
// reports every violation at once.
func TestArchitecture(t *testing.T) {
	root := moduleRoot(t)
	module := modulePath(t, root)
	doc, err := os.ReadFile(filepath.Join(root, "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	order, err := parseBusOrder(doc)
	if err != nil {
		t.Fatalf("docs/architecture.md: %v", err)
	}
	if !slices.Contains(order, "bus/service") {
		t.Fatalf("docs/architecture.md: the bus/<job> order %v does not list bus/service", order)
	}

	pkgs := goList(t, root, module)
	if !slices.ContainsFunc(pkgs, func(p archPkg) bool { return p.Rel == "bus" }) {
		t.Fatalf("go list found no package bus among %d packages; the check would prove nothing", len(pkgs))
	}

	owners, err := parseGenOwners(doc)
	if err != nil {
		t.Fatalf("docs/architecture.md: %v", err)
	}
	vs := checkImports(module, order, pkgs)
	vs = append(vs, checkGenerated(module, owners, pkgs)...)
	docVs, err := checkDocFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	vs = append(vs, docVs...)
	if len(vs) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "%d architecture violation(s); see docs/architecture.md:\n", len(vs))
		for _, v := range vs {
			fmt.Fprintf(&b, "  %s\n", v)
		}
		t.Error(b.String())
	}
	t.Logf("checked %d packages against the order %v", len(pkgs), order)
}

const fakeModule = "example.com/m"

// fakeOrder mirrors the order in docs/architecture.md at the time of writing.
var fakeOrder = []string{"bus/vault", "bus/store", "bus/schedule", "bus/auth", "bus/route",
	"bus/pipeline", "bus/notify", "bus/exchange", "bus/service"}

func TestCheckImports(t *testing.T) {
	m := func(rel string) string { return fakeModule + "/" + rel }
	// clean is a tree that breaks no rule; each case adds packages to it.
	clean := []archPkg{
		{"bus", []string{"errors", "fmt", "crypto/aes", "time"}},
		{"bus/vault", []string{"crypto/aes", fakeModule + "/bus"}},
		{"bus/store", []string{"database/sql", "modernc.org/sqlite", "github.com/go-sql-driver/mysql", m("bus"), m("bus/vault")}},
		{"bus/store/sqlite", []string{m("bus/store"), "modernc.org/sqlite"}},
		{"bus/store", []string{m("bus/store/sqlite")}},
		{"bus/schedule", []string{"github.com/robfig/cron/v3", m("bus/store")}},
		{"bus/service", []string{m("bus"), m("bus/exchange"), m("bus/vault"), "github.com/sirupsen/logrus"}},
		{"adapters/soap", []string{m("bus"), "github.com/beevik/etree"}},
		{"adapters/rest", []string{m("bus/service"), m("bus/exchange"), m("adapters/soap"), m("adapters/rest/internal/wire")}},
		{"adapters/rest/internal/wire", []string{m("adapters/rest/internal/other"), m("adapters/soap/envelope")}},
		{"adapters/qlvb", []string{m("adapters/soap"), m("bus/service")}},
		{"cmd/lgsp", []string{m("adapters/rest"), m("adapters/qlvb"), m("bus/service"), m("bus/store"), m("bus")}},
		{"test", []string{m("cmd/lgsp"), m("adapters/rest")}},
	}
	tests := []struct {
		name  string
		extra []archPkg
		want  []string // violation strings, sorted
	}{
		{name: "clean tree", want: nil},
		{
			name:  "kernel imports a third-party module",
			extra: []archPkg{{"bus", []string{"fmt", "github.com/sirupsen/logrus"}}},
			want:  []string{"(a) bus imports github.com/sirupsen/logrus: the kernel bus may import the standard library only"},
		},
		{
			name:  "kernel imports a bus job",
			extra: []archPkg{{"bus", []string{m("bus/store")}}},
			want:  []string{"(a) bus imports bus/store: the kernel bus may import the standard library only"},
		},
		{
			name:  "kernel uses cgo",
			extra: []archPkg{{"bus", []string{"C"}}},
			want:  []string{"(a) bus imports C: the kernel bus may import the standard library only"},
		},
		{
			name:  "bus job imports an adapter",
			extra: []archPkg{{"bus/store", []string{m("adapters/rest")}}},
			want:  []string{"(b) bus/store imports adapters/rest: a bus package may import only bus and bus/* packages of this module"},
		},
		{
			name:  "bus job imports cmd",
			extra: []archPkg{{"bus/route", []string{m("cmd/lgsp")}}},
			want:  []string{"(b) bus/route imports cmd/lgsp: a bus package may import only bus and bus/* packages of this module"},
		},
		{
			name:  "bus/service imports an adapter",
			extra: []archPkg{{"bus/service", []string{m("adapters/soap")}}},
			want:  []string{"(c) bus/service imports adapters/soap: bus/service never names an adapter; adapters register themselves with service.RegisterModule"},
		},
		{
			name:  "adapter imports another adapter",
			extra: []archPkg{{"adapters/rest", []string{m("adapters/qlvb")}}},
			want:  []string{"(d) adapters/rest imports adapters/qlvb: an adapter never imports another adapter (only adapters/soap, the SOAP runtime)"},
		},
		{
			name:  "adapter subpackage imports another adapter's subpackage",
			extra: []archPkg{{"adapters/rest/internal/wire", []string{m("adapters/qlvb/codec")}}},
			want:  []string{"(d) adapters/rest/internal/wire imports adapters/qlvb/codec: an adapter never imports another adapter (only adapters/soap, the SOAP runtime)"},
		},
		{
			name:  "the SOAP runtime imports an adapter",
			extra: []archPkg{{"adapters/soap", []string{m("adapters/rest")}}},
			want:  []string{"(d) adapters/soap imports adapters/rest: an adapter never imports another adapter (only adapters/soap, the SOAP runtime)"},
		},
		{
			name:  "adapter imports cmd",
			extra: []archPkg{{"adapters/qlvb", []string{m("cmd/lgsp")}}},
			want:  []string{"(d) adapters/qlvb imports cmd/lgsp: an adapter may import only bus, bus/*, adapters/soap, generated WSDL types (wsdl/**/gen/*) and its own subpackages of this module"},
		},
		{
			name:  "adapter imports generated WSDL types (allowed) and the wsdl tooling (not)",
			extra: []archPkg{{"adapters/qlvb", []string{m("wsdl/gen/lgspedoc"), m("wsdl/consumed/gen/qlvbvnpt"), m("wsdl/internal/fixgen")}}},
			want:  []string{"(d) adapters/qlvb imports wsdl/internal/fixgen: an adapter may import only bus, bus/*, adapters/soap, generated WSDL types (wsdl/**/gen/*) and its own subpackages of this module"},
		},
		{
			name:  "bus job imports one listed below it",
			extra: []archPkg{{"bus/vault", []string{m("bus/store")}}},
			want:  []string{"(e) bus/vault imports bus/store: bus/store is listed below bus/vault in docs/architecture.md; a package may import only those above it"},
		},
		{
			name:  "bus job imports bus/service",
			extra: []archPkg{{"bus/exchange", []string{m("bus/service")}}},
			want:  []string{"(e) bus/exchange imports bus/service: bus/service is listed below bus/exchange in docs/architecture.md; a package may import only those above it"},
		},
		{
			name:  "subpackage imports a job below its own",
			extra: []archPkg{{"bus/store/mysql", []string{m("bus/store"), m("bus/pipeline/steps")}}},
			want:  []string{"(e) bus/store/mysql imports bus/pipeline/steps: bus/pipeline is listed below bus/store in docs/architecture.md; a package may import only those above it"},
		},
		{
			name: "unlisted bus job",
			extra: []archPkg{
				{"bus/edxml", []string{m("bus"), m("bus/vault")}},
				{"bus/route", []string{m("bus/edxml")}},
			},
			want: []string{
				"(e) bus/edxml: bus/edxml is not listed in the bus/<job> order of docs/architecture.md; add it there",
				"(e) bus/route imports bus/edxml: bus/edxml is not listed in the bus/<job> order of docs/architecture.md",
			},
		},
		{
			name: "every violation is reported at once",
			extra: []archPkg{
				{"bus", []string{"gopkg.in/yaml.v3"}},
				{"bus/service", []string{m("adapters/rest")}},
				{"adapters/qlvb", []string{m("adapters/rest")}},
				{"bus/auth", []string{m("bus/route"), m("bus/schedule")}},
			},
			want: []string{
				"(a) bus imports gopkg.in/yaml.v3: the kernel bus may import the standard library only",
				"(c) bus/service imports adapters/rest: bus/service never names an adapter; adapters register themselves with service.RegisterModule",
				"(d) adapters/qlvb imports adapters/rest: an adapter never imports another adapter (only adapters/soap, the SOAP runtime)",
				"(e) bus/auth imports bus/route: bus/route is listed below bus/auth in docs/architecture.md; a package may import only those above it",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pkgs := append(slices.Clone(clean), tc.extra...)
			var got []string
			for _, v := range checkImports(fakeModule, fakeOrder, pkgs) {
				got = append(got, v.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("violations:\n got  %q\n want %q", got, tc.want)
			}
		})
	}
}

func TestCheckGenerated(t *testing.T) {
	m := func(rel string) string { return fakeModule + "/" + rel }
	owners := map[string]string{"wsdl/gen/lgspedoc": "adapters/qlvb", "wsdl/consumed/gen/qlvbvnpt": "adapters/soapout"}
	clean := []archPkg{
		{"wsdl/gen/lgspedoc", []string{"encoding/xml"}},
		{"wsdl/consumed/gen/qlvbvnpt", []string{m("adapters/soap"), m("adapters/soapout")}},
		{"adapters/qlvb", []string{m("wsdl/gen/lgspedoc"), m("adapters/soap")}},
		{"adapters/soapout", []string{m("adapters/soap")}},
		{"wsdl/consumed", []string{m("wsdl/consumed/gen/qlvbvnpt")}},
		{"test/sim/qlvbvnpt", []string{m("wsdl/consumed/gen/qlvbvnpt")}},
	}
	tests := []struct {
		name  string
		extra []archPkg
		want  []string
	}{
		{name: "clean tree", want: nil},
		{
			name:  "an adapter imports another adapter's generated package",
			extra: []archPkg{{"adapters/qlvb", []string{m("wsdl/consumed/gen/qlvbvnpt")}}},
			want:  []string{"(h) adapters/qlvb imports wsdl/consumed/gen/qlvbvnpt: wsdl/consumed/gen/qlvbvnpt belongs to adapters/soapout (docs/architecture.md); an adapter imports only the generated packages it owns"},
		},
		{
			name:  "a generated package reaches another adapter",
			extra: []archPkg{{"wsdl/gen/lgspedoc", []string{m("adapters/rest")}}},
			want:  []string{"(h) wsdl/gen/lgspedoc imports adapters/rest: a generated package imports only its owner (adapters/qlvb) and adapters/soap: through it, its importers would reach another adapter"},
		},
		{
			name:  "a generated package without an owner",
			extra: []archPkg{{"wsdl/consumed/gen/hoadonasmx", []string{m("adapters/soapout")}}},
			want: []string{
				"(h) wsdl/consumed/gen/hoadonasmx imports adapters/soapout: a generated package imports only its owner () and adapters/soap: through it, its importers would reach another adapter",
				"(h) wsdl/consumed/gen/hoadonasmx: a generated package needs its owning adapter in docs/architecture.md (the code block of wsdl/ lines)",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, v := range checkGenerated(fakeModule, owners, append(slices.Clone(clean), tc.extra...)) {
				got = append(got, v.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("violations:\n got  %q\n want %q", got, tc.want)
			}
		})
	}
	if _, err := parseGenOwners([]byte("```\nwsdl/gen/a adapters/x\n```\n```\nwsdl/gen/b adapters/y\n```\n")); err == nil || !strings.Contains(err.Error(), "found 2") {
		t.Errorf("two owner blocks: %v", err)
	}
	if _, err := parseGenOwners([]byte("```\nwsdl/gen/a bus/x\n```\n")); err == nil || !strings.Contains(err.Error(), "is not") {
		t.Errorf("owner outside adapters/: %v", err)
	}
	if got, err := parseGenOwners([]byte("```\nwsdl/gen/a   adapters/x   why\n```\n")); err != nil || got["wsdl/gen/a"] != "adapters/x" {
		t.Errorf("owners = %v, %v", got, err)
	}
}

func TestParseBusOrder(t *testing.T) {
	good := "# Architecture\n\n```\ncmd/lgsp   → adapters/*\nbus/service → bus/*, bus\nbus        → stdlib\n```\n\n" +
		"Order:\n\n```\nbus/vault   keys\n\nbus/store   the store\nbus/service config\n```\n"
	tests := []struct {
		name    string
		doc     string
		want    []string
		wantErr string
	}{
		{name: "layers block ignored, order block read", doc: good, want: []string{"bus/vault", "bus/store", "bus/service"}},
		{name: "no order block", doc: "```\ncmd/lgsp → bus\n```\n", wantErr: "found 0"},
		{name: "two order blocks", doc: "```\nbus/a\n```\n```\nbus/b\n```\n", wantErr: "found 2"},
		{name: "duplicate entry", doc: "```\nbus/a x\nbus/a y\n```\n", wantErr: "listed twice"},
		{name: "placeholder entry", doc: "```\nbus/<job> x\n```\n", wantErr: "not of the form"},
		{name: "unclosed block", doc: "```\nbus/a\n", wantErr: "unclosed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseBusOrder([]byte(tc.doc))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRealOrderParses guards the page itself: the list the architecture test
// reads must be the one a reader sees, starting at bus/vault.
func TestRealOrderParses(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(moduleRoot(t), "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	order, err := parseBusOrder(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(order) < 2 || order[len(order)-1] != "bus/service" {
		t.Errorf("order %q: want bus/service last (it wires everything above it)", order)
	}
}

func TestCheckDocFiles(t *testing.T) {
	root := t.TempDir()
	write := func(rel, body string) {
		t.Helper()
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("bus/doc.go", "// Package bus is the kernel.\npackage bus\n")
	write("bus/x.go", "package bus\n")
	write("bus/good/doc.go", "// Package good does things.\n//\n// More.\npackage good\n")
	write("bus/missing/x.go", "package missing\n")
	write("bus/nocomment/doc.go", "package nocomment\n")
	write("bus/wrong/doc.go", "// Wrong says something else.\npackage wrong\n")
	write("bus/othername/doc.go", "// Package other is misnamed.\npackage othername\n")
	write("bus/onlytests/x_test.go", "package onlytests\n")
	write("cmd/lgsp/doc.go", "// Command lgsp is the one binary.\npackage main\n")
	write("cmd/tool/doc.go", "// Package main runs a tool.\npackage main\n")
	write("bus/good/testdata/fixture.go", "this is not Go\n")
	write(".hidden/x.go", "package hidden\n")
	write("docs/readme.md", "no Go here\n")

	vs, err := checkDocFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vs {
		got = append(got, v.String())
	}
	want := []string{
		`(f) bus/missing: no doc.go; every package opens with a doc.go whose comment starts "Package <name>"`,
		`(f) bus/nocomment: doc.go has no package comment; start it with "// Package nocomment ..."`,
		`(f) bus/onlytests: no doc.go; every package opens with a doc.go whose comment starts "Package <name>"`,
		`(f) bus/othername: doc.go's package comment must start "Package othername"`,
		`(f) bus/wrong: doc.go's package comment must start "Package wrong"`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("violations:\n got  %q\n want %q", got, want)
	}
}
