package test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSecurityRegisterNamesRealTests keeps docs/security.md honest: every
// `./pkg -run 'A\|B'` it gives must name test functions (or name
// prefixes of them) that exist in that package, so that no row of the
// threat register points at a test that is gone.
func TestSecurityRegisterNamesRealTests(t *testing.T) {
	doc, err := os.ReadFile("../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	cmd := regexp.MustCompile("`(\\./[a-z0-9/]*) -run '?([^'` ]+)'?")
	found := cmd.FindAllStringSubmatch(string(doc), -1)
	if len(found) < 30 {
		t.Fatalf("found only %d test commands in docs/security.md", len(found))
	}
	funcs := map[string][]string{} // package dir → function names
	for _, m := range found {
		dir := filepath.Join("..", filepath.FromSlash(strings.TrimPrefix(m[1], "./")))
		if _, ok := funcs[dir]; !ok {
			funcs[dir] = testFuncs(t, dir)
		}
		for _, name := range strings.Split(m[2], `\|`) {
			name = strings.Trim(name, "^$")
			name, _, _ = strings.Cut(name, "/") // a subtest: the top-level test must exist
			ok := false
			for _, f := range funcs[dir] {
				if strings.HasPrefix(f, name) {
					ok = true
					break
				}
			}
			if !ok {
				t.Errorf("docs/security.md names %s in %s, but no test there starts with it", name, m[1])
			}
		}
	}
}

var testFunc = regexp.MustCompile(`(?m)^func ((?:Test|Fuzz|Benchmark)\w*)\(`)

func testFuncs(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files in %s (%v)", dir, err)
	}
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range testFunc.FindAllSubmatch(b, -1) {
			out = append(out, string(m[1]))
		}
	}
	return out
}
