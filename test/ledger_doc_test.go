package test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// dynamicKinds are the kind expressions the scan cannot resolve, with the
// kinds they take: a new unresolvable one fails the test until listed here.
var dynamicKinds = map[string][]string{
	// Confirm: the recipient's new status (store.Transition.To), confirmed or rejected.
	"bus/exchange/delivery.go t.To": {"confirmed", "rejected"},
}

// ledgerKindsInCode finds every ledger event kind the platform writes, by
// reading the source of bus/ and adapters/: the kind argument of the
// event-building helpers (a function or method named event or ledger with
// a parameter named kind) and the Kind of every store.Event literal.
func ledgerKindsInCode(t *testing.T) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	type file struct {
		path, pkg string
		f         *ast.File
	}
	var files []file
	consts := map[string]string{} // "pkg.Name" → value
	for _, root := range []string{"../bus", "../adapters"} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == "storetest" || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, p, nil, 0)
			if err != nil {
				return err
			}
			files = append(files, file{strings.TrimPrefix(filepath.ToSlash(p), "../"), f.Name.Name, f})
			for _, decl := range f.Decls {
				g, ok := decl.(*ast.GenDecl)
				if !ok || g.Tok != token.CONST {
					continue
				}
				for _, spec := range g.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, name := range vs.Names {
						if i < len(vs.Values) {
							if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
								v, _ := strconv.Unquote(lit.Value)
								consts[f.Name.Name+"."+name.Name] = v
							}
						}
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Where the kind sits among the arguments of each package's helpers.
	kindArg := map[string]int{} // "pkg.name" → index
	for _, fl := range files {
		for _, decl := range fl.f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || (fd.Name.Name != "event" && fd.Name.Name != "ledger") {
				continue
			}
			i := 0
			for _, fld := range fd.Type.Params.List {
				for _, n := range fld.Names {
					if n.Name == "kind" {
						kindArg[fl.pkg+"."+fd.Name.Name] = i
					}
					i++
				}
			}
		}
	}
	kinds := map[string]string{} // kind → where first seen
	resolve := func(fl file, e ast.Expr) {
		pos := fset.Position(e.Pos())
		where := fl.path + ":" + strconv.Itoa(pos.Line)
		var key string
		switch x := e.(type) {
		case *ast.BasicLit:
			v, _ := strconv.Unquote(x.Value)
			kinds[v] = where
			return
		case *ast.Ident:
			if x.Name == "kind" {
				return // a helper passing its own parameter on
			}
			key = fl.pkg + "." + x.Name
		case *ast.SelectorExpr:
			if id, ok := x.X.(*ast.Ident); ok {
				key = id.Name + "." + x.Sel.Name
				if v, ok := consts[key]; ok {
					kinds[v] = where
					return
				}
				if ks, ok := dynamicKinds[fl.path+" "+id.Name+"."+x.Sel.Name]; ok {
					for _, k := range ks {
						kinds[k] = where
					}
					return
				}
			}
		}
		if v, ok := consts[key]; ok {
			kinds[v] = where
			return
		}
		t.Errorf("%s: ledger kind %s cannot be resolved; list it in dynamicKinds", where, key)
	}
	for _, fl := range files {
		ast.Inspect(fl.f, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.CallExpr:
				sel, ok := x.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if i, ok := kindArg[fl.pkg+"."+sel.Sel.Name]; ok && i < len(x.Args) {
					resolve(fl, x.Args[i])
				}
			case *ast.CompositeLit:
				typ := types(x.Type)
				if typ != "store.Event" && !(fl.pkg == "store" && typ == "Event") {
					return true
				}
				for _, el := range x.Elts {
					if kv, ok := el.(*ast.KeyValueExpr); ok {
						if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Kind" {
							resolve(fl, kv.Value)
						}
					}
				}
			}
			return true
		})
	}
	return kinds
}

func types(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.SelectorExpr:
		return types(x.X) + "." + x.Sel.Name
	}
	return ""
}

var ledgerRow = regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|")

// TestLedgerKindsDocumented: the table of ledger event kinds in
// docs/exchange.md lists exactly the kinds the code writes.
func TestLedgerKindsDocumented(t *testing.T) {
	code := ledgerKindsInCode(t)
	if len(code) < 15 {
		t.Fatalf("the scan found only %d kinds: %v", len(code), code)
	}
	b, err := os.ReadFile("../docs/exchange.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(b), "<!-- ledger-kinds -->")
	table, _, ok2 := strings.Cut(table, "<!-- /ledger-kinds -->")
	if !ok || !ok2 {
		t.Fatal("docs/exchange.md has no <!-- ledger-kinds --> table")
	}
	doc := map[string]bool{}
	for _, m := range ledgerRow.FindAllStringSubmatch(table, -1) {
		doc[m[1]] = true
	}
	var missing, extra []string
	for k, where := range code {
		if !doc[k] {
			missing = append(missing, k+" ("+where+")")
		}
	}
	for k := range doc {
		if _, ok := code[k]; !ok {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("docs/exchange.md ledger table: missing %v; not written by the code %v", missing, extra)
	}
}
