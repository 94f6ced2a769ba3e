package test

// Rule (g) of the architecture (docs/architecture.md, "Store aggregates"):
// outside bus/store, bus/service and cmd/, no package takes the whole
// store.Store as a field or parameter type. Each consumer declares the
// narrow interface it needs (a few methods, or a few of the aggregates
// store.Store is composed of), so that what a package can touch in the
// database reads from its own code. bus/service builds the node and hands
// the store out (service.Host keeps it whole for modules, whose
// constructors then take narrow ones); cmd/ opens it for commands.

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// wholeStoreAllowed are the trees that may hold a store.Store.
var wholeStoreAllowed = []string{"bus/store", "bus/service", "cmd"}

// wholeStoreUses applies rule (g) to one non-test file (rel is its path
// relative to the module root): every struct field, interface embedding
// and function parameter whose type mentions store.Store is a violation.
func wholeStoreUses(module, rel string, src []byte) ([]violation, error) {
	dir := filepath.ToSlash(filepath.Dir(rel))
	for _, top := range wholeStoreAllowed {
		if under(dir, top) {
			return nil, nil
		}
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, rel, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	name := ""
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		if p != module+"/bus/store" {
			continue
		}
		name = "store"
		if im.Name != nil {
			name = im.Name.Name
		}
	}
	if name == "" || name == "_" {
		return nil, nil
	}
	mentions := func(e ast.Expr) bool {
		found := false
		ast.Inspect(e, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "Store" {
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == name {
					found = true
				}
			}
			return !found
		})
		return found
	}
	var out []violation
	report := func(what string, fl *ast.FieldList) {
		if fl == nil {
			return
		}
		for _, fd := range fl.List {
			if mentions(fd.Type) {
				out = append(out, violation{Rule: "g", From: rel,
					Why: fset.Position(fd.Pos()).String() + ": " + what + " of type store.Store; declare the narrow interface this package needs (see docs/architecture.md, \"Store aggregates\")"})
			}
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch t := n.(type) {
		case *ast.StructType:
			report("a field", t.Fields)
		case *ast.InterfaceType:
			embedded := &ast.FieldList{}
			for _, m := range t.Methods.List {
				if len(m.Names) == 0 {
					embedded.List = append(embedded.List, m)
				}
			}
			report("an interface embedding", embedded) // methods: their FuncType below
		case *ast.FuncType:
			report("a parameter", t.Params)
			return false // a parameter's own func type is checked by mentions
		}
		return true
	})
	return out, nil
}

// checkWholeStore applies rule (g) to every non-test .go file under root
// and returns the violations and the number of files that import bus/store
// (so that a check that saw none can say so).
func checkWholeStore(root, module string) (vs []violation, importers int, err error) {
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && skipDir(d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if strings.Contains(string(src), `"`+module+`/bus/store"`) {
			importers++
		}
		got, err := wholeStoreUses(module, rel, src)
		vs = append(vs, got...)
		return err
	})
	return vs, importers, err
}

func TestNoConsumerTakesWholeStore(t *testing.T) {
	root := moduleRoot(t)
	module := modulePath(t, root)
	vs, importers, err := checkWholeStore(root, module)
	if err != nil {
		t.Fatal(err)
	}
	if importers < 20 {
		t.Fatalf("only %d files import bus/store; the check would prove nothing", importers)
	}
	for _, v := range vs {
		t.Errorf("%s", v)
	}
	t.Logf("checked %d files that import bus/store", importers)
}

// TestWholeStoreUses shows that the checker finds what it must, and lets
// through what it must, on synthetic files.
func TestWholeStoreUses(t *testing.T) {
	const imp = "import (\n\t\"context\"\n\n\t\"" + fakeModule + "/bus/store\"\n)\n\nvar _ context.Context\n\n"
	tests := []struct {
		name, rel, src string
		want           int
	}{
		{"field", "bus/alert/engine.go", imp + "type Engine struct{ Store store.Store }\n", 1},
		{"parameter", "bus/notify/hub.go", imp + "func NewFeed(st store.Store) {}\n", 1},
		{"method parameter", "adapters/x/x.go", imp + "type P struct{}\nfunc (p *P) Use(ctx context.Context, st store.Store) {}\n", 1},
		{"nested in a slice", "bus/x/x.go", imp + "func All(sts []store.Store) {}\n", 1},
		{"func-typed field", "bus/x/x.go", imp + "type O struct{ Open func() (store.Store, error) }\n", 1},
		{"embedded in an interface", "bus/x/x.go", imp + "type S interface{ store.Store }\n", 1},
		{"interface method parameter", "bus/x/x.go", imp + "type S interface{ Use(st store.Store) error }\n", 1},
		{"aliased import", "bus/x/x.go", "import st \"" + fakeModule + "/bus/store\"\n\ntype O struct{ S st.Store }\n", 1},
		{"narrow aggregate", "bus/x/x.go", imp + "type O struct{ S store.StatsStore }\nfunc F(s store.LedgerStore) {}\n", 0},
		{"own interface", "bus/x/x.go", imp + "type Store interface{ GetSystem(ctx context.Context, code string) (store.System, error) }\ntype O struct{ S Store }\n", 0},
		{"result only", "bus/x/x.go", imp + "func Open() store.Store { return nil }\n", 0},
		{"bus/service may", "bus/service/service.go", imp + "type Host struct{ Store store.Store }\n", 0},
		{"cmd may", "cmd/lgsp/main.go", imp + "func load(st store.Store) {}\n", 0},
		{"bus/store itself", "bus/store/guard.go", "type Guarded struct{ Store }\n", 0},
		{"another package named store", "bus/x/x.go", "import \"example.org/other/store\"\n\ntype O struct{ S store.Store }\n", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vs, err := wholeStoreUses(fakeModule, tc.rel, []byte("package x\n\n"+tc.src))
			if err != nil {
				t.Fatal(err)
			}
			if len(vs) != tc.want {
				t.Fatalf("%d violations, want %d: %v", len(vs), tc.want, vs)
			}
			for _, v := range vs {
				if v.Rule != "g" || v.From != tc.rel || !strings.Contains(v.Why, "store.Store") {
					t.Fatalf("violation = %+v", v)
				}
			}
		})
	}
}
