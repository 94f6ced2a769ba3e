package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLIGlobalConfig: the global --config works before the command (in
// both spellings) as the usage says, a --config after the command wins, and
// LGSP_DATA_DIR moves the data directory; the usage names --listen and
// LGSP_DATA_DIR, the ways to change the port and the data directory.
func TestCLIGlobalConfig(t *testing.T) {
	bin := buildLGSP(t)
	work := t.TempDir()
	lgsp := func(env []string, args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "LGSP_CONFIG=", "LGSP_DATA_DIR=")
		cmd.Env = append(cmd.Env, env...)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatalf("lgsp %s: %v", strings.Join(args, " "), err)
		}
		return string(out), 0
	}
	must := func(env []string, args ...string) string {
		t.Helper()
		out, code := lgsp(env, args...)
		if code != 0 {
			t.Fatalf("lgsp %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
		return out
	}
	for name, dir := range map[string]string{"a.yaml": "data-a", "b.yaml": "data-b"} {
		if err := os.WriteFile(filepath.Join(work, name), []byte("data_dir: "+dir+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	must(nil, "--config", "a.yaml", "systems", "add", "--code", "000.00.00.H60", "--name", "UBND tỉnh")
	if _, err := os.Stat(filepath.Join(work, "data-a", "lgsp.db")); err != nil {
		t.Fatalf("--config before the command did not choose data-a: %v", err)
	}
	if out := must(nil, "--config=a.yaml", "systems", "list"); !strings.Contains(out, "000.00.00.H60") {
		t.Fatalf("--config=a.yaml systems list:\n%s", out)
	}
	if out := must(nil, "-config", "a.yaml", "systems", "list", "--config", "b.yaml"); strings.Contains(out, "000.00.00.H60") {
		t.Fatalf("the command's own --config b.yaml did not win:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(work, "data-b", "lgsp.db")); err != nil {
		t.Fatalf("--config after the command did not choose data-b: %v", err)
	}
	must([]string{"LGSP_DATA_DIR=data-c"}, "systems", "add", "--code", "000.00.01.H60", "--name", "Văn phòng")
	if out := must([]string{"LGSP_DATA_DIR=data-c"}, "systems", "list"); !strings.Contains(out, "000.00.01.H60") || strings.Contains(out, "000.00.00.H60") {
		t.Fatalf("LGSP_DATA_DIR=data-c systems list:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(work, "data")); !os.IsNotExist(err) {
		t.Fatalf("the default ./data was touched: %v", err)
	}
	if out, code := lgsp(nil, "--config"); code != 2 || !strings.Contains(out, "--config FILE") {
		t.Fatalf("--config without a file: exit %d\n%s", code, out)
	}
	if out, code := lgsp(nil, "--configs", "a.yaml", "systems", "list"); code != 2 || !strings.Contains(out, "unknown command") {
		t.Fatalf("an unknown global flag: exit %d\n%s", code, out)
	}
	help := must(nil, "--help")
	for _, w := range []string{"--config FILE", "--listen", "LGSP_LISTEN", "LGSP_DATA_DIR", "lgsp config env"} {
		if !strings.Contains(help, w) {
			t.Errorf("lgsp --help does not mention %s", w)
		}
	}
}
