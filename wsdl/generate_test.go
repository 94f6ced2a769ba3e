package wsdl_test

// Regeneration gives the committed files: every //go:generate line of
// generate.go and consumed/generate.go (fixgen, which runs gowsdl) is run
// again into a temporary gen/, each file it writes is compared byte for
// byte with the one in gen/, and the generated packages are vetted.
// `go tool gowsdl` runs offline from the module cache.

import (
	"bufio"
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// generateLines returns the commands of the //go:generate lines of file.
func generateLines(t *testing.T, file string) [][]string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "//go:generate "); ok {
			out = append(out, strings.Fields(rest))
		}
	}
	return out
}

func TestRegenerationIsStable(t *testing.T) {
	for _, dir := range []string{".", "consumed"} {
		t.Run(dir, func(t *testing.T) { regenerate(t, dir) })
	}
}

// regenerate checks the go:generate lines of dir/generate.go.
func regenerate(t *testing.T, dir string) {
	lines := generateLines(t, filepath.Join(dir, "generate.go"))
	if len(lines) == 0 {
		t.Fatal("generate.go has no //go:generate lines")
	}
	tmp := t.TempDir()
	tmpGen := filepath.Join(tmp, "gen")
	if err := os.MkdirAll(tmpGen, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range lines {
		args = append([]string(nil), args...)
		for i := 1; i < len(args); i++ {
			if args[i-1] == "-d" && args[i] == "gen" {
				args[i] = tmpGen
			}
		}
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	var written int
	err := filepath.WalkDir(tmpGen, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(tmpGen, p)
		written++
		fresh, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		committed, err := os.ReadFile(filepath.Join(dir, "gen", rel))
		if err != nil {
			t.Errorf("gen/%s: %v (run go generate ./wsdl/... and commit the result)", rel, err)
			return nil
		}
		if !bytes.Equal(fresh, committed) {
			t.Errorf("gen/%s differs from a fresh generation: run `go generate ./wsdl/...` and commit the result", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if written == 0 {
		t.Fatal("the go:generate lines wrote nothing under gen/")
	}
	// The committed files are what was just generated: vet them.
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	vet := exec.CommandContext(ctx, "go", "vet", "./gen/...")
	vet.Dir = dir
	if out, err := vet.CombinedOutput(); err != nil {
		t.Fatalf("go vet ./gen/... in %s: %v\n%s", dir, err, out)
	}
}

// TestDocsGenerateLines: every go:generate line docs/soap-systems.md shows
// is one the code runs (the docs once showed gowsdl alone where the code
// used two lines).
func TestDocsGenerateLines(t *testing.T) {
	code := map[string]bool{}
	for _, f := range []string{"generate.go", "consumed/generate.go"} {
		for _, l := range generateLines(t, f) {
			code[strings.Join(l, " ")] = true
		}
	}
	doc, err := os.ReadFile("../docs/soap-systems.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(doc), "\n") {
		_, rest, ok := strings.Cut(line, "//go:generate ")
		if !ok {
			continue
		}
		n++
		if !code[strings.Join(strings.Fields(rest), " ")] {
			t.Errorf("docs/soap-systems.md shows %q, which no generate.go runs", strings.TrimSpace(line))
		}
	}
	if n == 0 {
		t.Error("docs/soap-systems.md shows no go:generate line")
	}
}
