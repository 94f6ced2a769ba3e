package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestHelperRequire is run as a child process by TestRequireFailsInOneLine;
// on its own (no LGSP_TESTENV_CHILD) it does nothing.
func TestHelperRequire(t *testing.T) {
	switch os.Getenv("LGSP_TESTENV_CHILD") {
	case "tool":
		RequireTool(t, "xmlsec1")
	case "mariadb":
		RequireMariaDB(t)
	case "external":
		ExternalEdXMLSamples(t)
	}
}

// TestRequireFailsInOneLine runs this test binary with PATH lacking the
// tool, with a DSN where nothing listens and without the external corpus:
// the first two FAIL (never skip) with one line naming what to install,
// the external corpus alone is skipped.
func TestRequireFailsInOneLine(t *testing.T) {
	cases := []struct {
		child, env, want string
		fail             bool
	}{
		{"tool", "PATH=" + t.TempDir(), "missing test prerequisite: xmlsec1 (not on PATH) — install the Debian package xmlsec1, " + Hint, true},
		{"mariadb", "LGSP_TEST_MYSQL_DSN=lgsp:secret@tcp(127.0.0.1:1)/", "missing test prerequisite: MariaDB at lgsp@tcp(127.0.0.1:1) (LGSP_TEST_MYSQL_DSN) does not answer", true},
		{"external", ExternalSamplesEnv + "=", "external edXML corpus not run: " + ExternalSamplesEnv + " is unset", false},
	}
	for _, c := range cases {
		t.Run(c.child, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperRequire$", "-test.v")
			cmd.Env = append(os.Environ(), "LGSP_TESTENV_CHILD="+c.child, c.env)
			out, err := cmd.CombinedOutput()
			if failed := err != nil; failed != c.fail {
				t.Fatalf("failed=%v, want %v:\n%s", failed, c.fail, out)
			}
			var lines []string
			for _, l := range strings.Split(string(out), "\n") {
				if strings.Contains(l, "testenv_test.go:") {
					lines = append(lines, l)
				}
			}
			if len(lines) != 1 || !strings.Contains(lines[0], c.want) || strings.Contains(lines[0], "secret") {
				t.Fatalf("want one line containing %q (no password), got %q\n%s", c.want, lines, out)
			}
			if c.fail && strings.Contains(string(out), "SKIP") {
				t.Fatalf("a missing component was skipped:\n%s", out)
			}
		})
	}
}
