package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// binDir holds the lgsp binaries the tests build, once per test binary
// (TestMain removes it at the end).
var binDir string

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "lgsp-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "test binaries' folder:", err)
		os.Exit(2)
	}
	binDir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

var (
	builtMu sync.Mutex
	built   = map[string]string{} // build tags → binary
)

// builtLGSP returns cmd/lgsp built with tags (none: ""), building it the
// first time a test asks: linking the binary once instead of in every test
// that runs it keeps the suite within its time. Tests only run it.
func builtLGSP(t *testing.T, tags string) string {
	t.Helper()
	builtMu.Lock()
	defer builtMu.Unlock()
	if bin, ok := built[tags]; ok {
		return bin
	}
	bin := filepath.Join(binDir, "lgsp-"+fmt.Sprint(len(built)))
	args := []string{"build", "-o", bin}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	cmd := exec.Command("go", append(args, "../cmd/lgsp")...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building lgsp (tags %q): %v\n%s", tags, err, out)
	}
	built[tags] = bin
	return bin
}
