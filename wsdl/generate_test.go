package wsdl_test

// Regeneration gives the committed files: every //go:generate pair of
// generate.go and consumed/generate.go (gowsdl, then fixgen) is run again
// into a temporary gen/ and each file it writes is compared byte for byte
// with the one in gen/.
// `go tool gowsdl` runs offline from the module cache.

import (
	"bufio"
	"bytes"
	"context"
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
	var written []string // files under gen/, relative to it
	for _, args := range lines {
		args = append([]string(nil), args...)
		for i := 1; i < len(args); i++ {
			switch {
			case args[i-1] == "-d" && args[i] == "gen":
				args[i] = tmpGen
			case args[i-1] == "-file" && strings.HasPrefix(args[i], "gen/"):
				rel := strings.TrimPrefix(args[i], "gen/")
				args[i] = filepath.Join(tmpGen, rel)
				written = append(written, rel, filepath.Join(filepath.Dir(rel), "doc.go"))
				for j := 1; j < len(args); j++ {
					if args[j-1] == "-wsdl" {
						written = append(written, filepath.Join(filepath.Dir(rel), filepath.Base(args[j])))
					}
				}
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
	if len(written) == 0 {
		t.Fatal("no fixgen line (-file gen/...) in generate.go")
	}
	for _, rel := range written {
		fresh, err := os.ReadFile(filepath.Join(tmpGen, rel))
		if err != nil {
			t.Fatal(err)
		}
		committed, err := os.ReadFile(filepath.Join(dir, "gen", rel))
		if err != nil {
			t.Fatalf("gen/%s: %v (run go generate ./wsdl/ and commit the result)", rel, err)
		}
		if !bytes.Equal(fresh, committed) {
			t.Errorf("gen/%s differs from a fresh generation: run `go generate ./wsdl/` and commit the result", rel)
		}
	}
}
