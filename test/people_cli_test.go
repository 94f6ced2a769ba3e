package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus/service"
)

// TestCLIUsersFirstAdmin is the path of a new installation, with the real
// binary: `lgsp users add` creates the first administrator (password on
// standard input, never an argument), `lgsp users totp` prints the
// otpauth:// URI, and `lgsp serve` on that data directory logs the person
// in with the password and the authenticator's code. A password flag does
// not exist, a weak password and demoting the last administrator are
// refused with their codes.
func TestCLIUsersFirstAdmin(t *testing.T) {
	bin := buildLGSP(t)
	work := t.TempDir()
	lgsp := func(stdin string, args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "LGSP_CONFIG=", "LGSP_DATA_DIR=data")
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatalf("lgsp %s: %v", strings.Join(args, " "), err)
		}
		return string(out), 0
	}
	must := func(stdin string, args ...string) string {
		t.Helper()
		out, code := lgsp(stdin, args...)
		if code != 0 {
			t.Fatalf("lgsp %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
		return out
	}
	if out, code := lgsp("", "users", "add", "quantri", "--roles", "admin", "--password", testPassword); code != 2 {
		t.Fatalf("a --password flag was accepted: exit %d\n%s", code, out)
	}
	if out, code := lgsp("ngắn\n", "users", "add", "quantri", "--roles", "admin", "--password-stdin"); code != 1 || !strings.Contains(out, "people.password_weak") {
		t.Fatalf("weak password: exit %d\n%s", code, out)
	}
	must(testPassword+"\n", "users", "add", "quantri", "--roles", "admin", "--name", "Quản trị viên", "--email", "QuanTri@TuyenQuang.gov.vn", "--password-stdin")
	must("", "users", "add", "vanhanh", "--roles", "operator", "--unit", "Sở Y tế", "--no-password")
	uri := strings.TrimSpace(must("", "users", "totp", "quantri"))
	if !regexp.MustCompile(`^otpauth://totp/LGSP:quantri\?.*secret=[A-Z2-7]{32}`).MatchString(strings.Split(uri, "\n")[0]) {
		t.Fatalf("totp printed %q", uri)
	}
	uri = strings.Split(uri, "\n")[0]
	list := must("", "users", "list")
	if !strings.Contains(list, "quantri") || !strings.Contains(list, "Quản trị viên") || !strings.Contains(list, "vanhanh") {
		t.Fatalf("list:\n%s", list)
	}
	if out, code := lgsp("", "users", "disable", "quantri"); code != 1 || !strings.Contains(out, "people.invalid") {
		t.Fatalf("disabling the last administrator: exit %d\n%s", code, out)
	}

	n := startNodeWith(t, "sqlite", func(c *service.Config) { c.DataDir = filepath.Join(work, "data") })
	c := newConsole(t, n)
	if st, _, body := c.login("quantri", testPassword, "", ""); st != 401 || !strings.Contains(body, "people.totp_invalid") {
		t.Fatalf("login without the code: %d %s", st, body)
	}
	c = loggedIn(t, n, "quantri", totpCode(t, uri, time.Now()))
	if st, _, body := c.do("GET", "/console/", nil, map[string]string{"Accept": "text/html"}); st != 200 || !strings.Contains(body, "Quản trị viên (quantri)") {
		t.Fatalf("console home: %d %.300s", st, body)
	}
	if p, ok, err := n.svc.People().FindByClaim("email", "quantri@TUYENQUANG.gov.vn"); err != nil || !ok || p.Login != "quantri" {
		t.Fatalf("account by e-mail claim: %+v %v %v", p, ok, err)
	}
	if _, ok, err := n.svc.People().FindByClaim("personal_id", "001099012345"); err != nil || ok {
		t.Fatalf("unknown personal id found: %v %v", ok, err)
	}
}
