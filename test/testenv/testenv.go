package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Hint is the advice that ends every message: the one command that
// provides every component.
const Hint = "or run ./test/run.sh, which installs and starts it"

// DefaultMySQLDSN is the server the tests use when LGSP_TEST_MYSQL_DSN is
// unset (go-sql-driver form, no database).
const DefaultMySQLDSN = "root@tcp(127.0.0.1:3306)/"

// tools maps a command the tests run to the Debian package that provides it.
var tools = map[string]string{
	"chromium":        "chromium",
	"xmllint":         "libxml2-utils",
	"xmlsec1":         "xmlsec1",
	"node":            "nodejs (>= 20.19)",
	"npm":             "npm",
	"openssl":         "openssl",
	"python3":         "python3",
	"systemd-analyze": "systemd",
}

// Missing is the one line printed for a missing component: what is
// missing, what to do about it, then Hint.
func Missing(component, todo string) string {
	return fmt.Sprintf("missing test prerequisite: %s — %s, %s", component, todo, Hint)
}

// RequireTool returns the path of the command name, or fails the test with
// one line naming the package to install.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		pkg := tools[name]
		if pkg == "" {
			pkg = name
		}
		t.Fatal(Missing(name+" (not on PATH)", "install the Debian package "+pkg))
	}
	return p
}

// SystemPython is the interpreter the zeep interop tests run: Debian's own,
// where apt installs python3-zeep (a pyenv python3 on PATH would not see it).
const SystemPython = "/usr/bin/python3"

var zeepOnce = sync.OnceValue(func() error {
	return exec.Command(SystemPython, "-c", "import zeep").Run()
})

// RequireZeep returns SystemPython after checking it can import zeep, or
// fails the test with one line.
func RequireZeep(t testing.TB) string {
	t.Helper()
	if err := zeepOnce(); err != nil {
		t.Fatal(Missing("python3-zeep for "+SystemPython, "install the Debian package python3-zeep"))
	}
	return SystemPython
}

// RequireNodeModules returns the node command after checking that dir (the
// test/interop folder) has its npm packages, or fails with one line.
func RequireNodeModules(t testing.TB, dir string) string {
	t.Helper()
	node := RequireTool(t, "node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "soap")); err != nil {
		t.Fatal(Missing("node-soap in test/interop/node_modules", "run `npm ci` in test/interop"))
	}
	return node
}

var aiosmtpdOnce = sync.OnceValue(func() error {
	return exec.Command(SystemPython, "-c", "import aiosmtpd.smtp").Run()
})

// RequireAiosmtpd returns SystemPython after checking it can import
// aiosmtpd (the SMTP server of the alert e-mail tests), or fails the test
// with one line.
func RequireAiosmtpd(t testing.TB) string {
	t.Helper()
	if err := aiosmtpdOnce(); err != nil {
		t.Fatal(Missing("python3-aiosmtpd for "+SystemPython, "install the Debian package python3-aiosmtpd"))
	}
	return SystemPython
}

// MySQLDSN is LGSP_TEST_MYSQL_DSN, or DefaultMySQLDSN when it is unset.
func MySQLDSN() string {
	if d := os.Getenv("LGSP_TEST_MYSQL_DSN"); d != "" {
		return d
	}
	return DefaultMySQLDSN
}

// pingMySQL is remembered per process: when the server is missing, every
// test of the package fails at once instead of each waiting on a dial.
var pingMySQL = sync.OnceValues(func() (string, error) {
	dsn := MySQLDSN()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return dsn, fmt.Errorf("LGSP_TEST_MYSQL_DSN cannot be read: %v", err)
	}
	cfg.Timeout = 3 * time.Second
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return dsn, err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return dsn, db.PingContext(ctx)
})

// RequireMariaDB returns the DSN of a reachable MariaDB server, or fails the
// test with one line saying what to do. The password is not shown.
func RequireMariaDB(t testing.TB) string {
	t.Helper()
	dsn, err := pingMySQL()
	if err != nil {
		shown := dsn
		if cfg, perr := mysql.ParseDSN(dsn); perr == nil {
			shown = cfg.User + "@" + cfg.Net + "(" + cfg.Addr + ")"
		}
		t.Fatal(Missing(fmt.Sprintf("MariaDB at %s (LGSP_TEST_MYSQL_DSN) does not answer", shown),
			"install and start mariadb-server, or point LGSP_TEST_MYSQL_DSN at a server whose user may CREATE DATABASE"))
	}
	return dsn
}

// ExternalSamplesEnv names the folder of the official edXML sample packets.
const ExternalSamplesEnv = "LGSP_EXTERNAL_EDXML_SAMPLES"

// ExternalEdXMLSamples returns the sorted *.edxml files of the external
// corpus. It skips the test when ExternalSamplesEnv is unset (the corpus is
// not ours to ship) and fails it when the variable names a folder without
// packets, so that CI, which sets it, can never pass on an empty corpus.
func ExternalEdXMLSamples(t testing.TB) []string {
	t.Helper()
	dir := os.Getenv(ExternalSamplesEnv)
	if dir == "" {
		t.Skip("external edXML corpus not run: " + ExternalSamplesEnv + " is unset")
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.edxml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("%s=%s holds no *.edxml packets (%v)", ExternalSamplesEnv, dir, err)
	}
	return files // Glob returns them sorted
}
