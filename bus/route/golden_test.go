package route_test

import (
	"bufio"
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	_ "github.com/tuyenquang/lgsp/adapters/soap" // declares the soap: block of services, as in the binary
	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/route"
)

var update = flag.Bool("update", false, "rewrite testdata/bad/*.golden from the linter's output")

// lintPath lints one bad case: a single file (Parse, then Build for the
// checks across routes) or a directory (Lint).
func lintPath(t *testing.T, p string) route.Problems {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.IsDir() {
		return route.Lint(p, bus.DefaultSteps)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	routes, ps := route.Parse(p, data, bus.DefaultSteps)
	_, more := route.Build(routes)
	all := append(ps, more...)
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return all
}

// TestBadFiles lints every case in testdata/bad and compares the output,
// one "file:line:col: message" per line, with the case's .golden file. It
// also checks that every line marked "# ERR" has a problem and that every
// positioned problem is on a marked line, so that a regenerated golden
// file cannot silently lose a problem.
func TestBadFiles(t *testing.T) {
	entries, err := os.ReadDir("testdata/bad")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() && !strings.HasSuffix(name, ".yaml") {
			continue
		}
		n++
		p := filepath.Join("testdata", "bad", name)
		t.Run(name, func(t *testing.T) {
			ps := lintPath(t, p)
			if len(ps) == 0 {
				t.Fatal("no problems reported")
			}
			var got bytes.Buffer
			for _, pr := range ps {
				got.WriteString(pr.String() + "\n")
			}
			golden := strings.TrimSuffix(p, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestBadFiles -update)", err)
			}
			if got.String() != string(want) {
				t.Errorf("problems differ from %s\n--- got\n%s--- want\n%s", golden, got.String(), want)
			}
			checkMarks(t, p, ps)
		})
	}
	if n < 10 {
		t.Fatalf("only %d bad cases found", n)
	}
}

func checkMarks(t *testing.T, p string, ps route.Problems) {
	t.Helper()
	files := []string{p}
	if fi, _ := os.Stat(p); fi.IsDir() {
		files, _ = filepath.Glob(filepath.Join(p, "*.yaml"))
	}
	marked := map[string]map[int]bool{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		marked[f] = map[int]bool{}
		s := bufio.NewScanner(fh)
		for line := 1; s.Scan(); line++ {
			if strings.HasSuffix(strings.TrimSpace(s.Text()), "# ERR") {
				marked[f][line] = true
			}
		}
		fh.Close()
	}
	hit := map[string]map[int]bool{}
	for _, pr := range ps {
		if pr.Col == 0 {
			continue // file-level and YAML syntax problems carry no column
		}
		if !marked[pr.File][pr.Line] {
			t.Errorf("problem on a line not marked # ERR: %s", pr)
		}
		if hit[pr.File] == nil {
			hit[pr.File] = map[int]bool{}
		}
		hit[pr.File][pr.Line] = true
	}
	for f, lines := range marked {
		for line := range lines {
			if !hit[f][line] {
				t.Errorf("%s:%d is marked # ERR but no problem was reported there", f, line)
			}
		}
	}
}

func TestGoodFiles(t *testing.T) {
	set, err := route.LoadDir("testdata/good", bus.DefaultSteps)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Routes()) == 0 {
		t.Fatal("no routes loaded")
	}
}
