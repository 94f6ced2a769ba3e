package console

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tuyenquang/lgsp/bus/people"
)

// TestEveryTextInBothLanguages: every {{.T.key}} of the templates, every
// menu entry and every role exists in Vietnamese and English, and the two
// differ where they are words (the console is bilingual, not half
// translated).
func TestEveryTextInBothLanguages(t *testing.T) {
	keyRe := regexp.MustCompile(`\.T\.([a-z_0-9]+)`)
	used := map[string]bool{}
	err := fs.WalkDir(assets, "assets/templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assets.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range keyRe.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range menu {
		used[m.Key] = true
	}
	for _, r := range people.Roles {
		used["role_"+r] = true
	}
	if len(used) < 50 {
		t.Fatalf("only %d text keys found: the scan is broken", len(used))
	}
	for k := range used {
		v, ok := texts[k]
		if !ok || v[0] == "" || v[1] == "" {
			t.Errorf("text %q is missing in a language: %q", k, v)
		}
	}
	for k, v := range texts {
		if !used[k] && k != "done" && k != "login_title" && k != "error" { // the last three are named in Go
			t.Errorf("text %q is not used by any template", k)
		}
		if v[0] == v[1] && k != "other_lang_code" {
			t.Errorf("text %q is the same in both languages: %q", k, v[0])
		}
	}
}

// TestFormFieldsHaveLabels: every visible input and select of the
// templates has a label bound to its id (accessibility).
func TestFormFieldsHaveLabels(t *testing.T) {
	fieldRe := regexp.MustCompile(`<(input|select)\b[^>]*>`)
	idRe := regexp.MustCompile(`\bid="([^"]+)"`)
	names, _ := fs.Glob(assets, "assets/templates/*.html")
	n := 0
	for _, name := range names {
		b, _ := assets.ReadFile(name)
		s := string(b)
		for _, f := range fieldRe.FindAllString(s, -1) {
			if strings.Contains(f, `type="hidden"`) {
				continue
			}
			n++
			m := idRe.FindStringSubmatch(f)
			if m == nil {
				t.Errorf("%s: field without id: %s", name, f)
				continue
			}
			if !strings.Contains(s, `for="`+m[1]+`"`) {
				t.Errorf("%s: no label for %q", name, m[1])
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d fields found: the scan is broken", n)
	}
}

// TestVendoredChartJS: the committed Chart.js build is the one recorded in
// vendor/SHA256SUMS, at the version package.json and package-lock.json pin,
// with its licence — so `go build` alone gives a working console.
func TestVendoredChartJS(t *testing.T) {
	b, err := os.ReadFile("assets/vendor/chart.umd.min.js")
	if err != nil {
		t.Fatal(err)
	}
	sums, err := os.ReadFile("assets/vendor/SHA256SUMS")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	want := strings.Fields(string(sums))
	if len(want) != 2 || want[1] != "chart.umd.min.js" || want[0] != hex.EncodeToString(sum[:]) {
		t.Fatalf("vendor/chart.umd.min.js has sha256 %x; SHA256SUMS says %q (run assets/update.sh)", sum, sums)
	}
	if !strings.Contains(string(b), "Chart.js v4.5.1") {
		t.Fatal("the vendored file is not Chart.js 4.5.1")
	}
	var pkg struct{ Dependencies map[string]string }
	var lock struct {
		Packages map[string]struct{ Version string } `json:"packages"`
	}
	for name, v := range map[string]any{"assets/package.json": &pkg, "assets/package-lock.json": &lock} {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if pkg.Dependencies["chart.js"] != "4.5.1" || lock.Packages["node_modules/chart.js"].Version != "4.5.1" {
		t.Fatalf("package.json pins %q, package-lock.json %q; want 4.5.1 in both", pkg.Dependencies["chart.js"], lock.Packages["node_modules/chart.js"].Version)
	}
	if lic, err := os.ReadFile("assets/vendor/chart.js-LICENSE.md"); err != nil || !strings.Contains(string(lic), "MIT") {
		t.Fatalf("Chart.js licence missing: %v", err)
	}
	if _, err := assets.ReadFile("assets/vendor/chart.umd.min.js"); err != nil {
		t.Fatalf("not embedded: %v", err)
	}
}

// TestUpdateScriptRefetches runs assets/update.sh (npm ci from the npm
// registry) into a temporary directory and checks that it brings back
// exactly the committed file. It needs the registry, so it runs when
// LGSP_CONSOLE_FETCH=1:
//
//	LGSP_CONSOLE_FETCH=1 go test ./bus/console -run TestUpdateScriptRefetches
func TestUpdateScriptRefetches(t *testing.T) {
	if os.Getenv("LGSP_CONSOLE_FETCH") != "1" {
		t.Skip("set LGSP_CONSOLE_FETCH=1 to re-fetch Chart.js from the npm registry")
	}
	out := t.TempDir()
	cmd := exec.Command("sh", "assets/update.sh")
	cmd.Env = append(os.Environ(), "OUT="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("update.sh: %v\n%s", err, b)
	}
	got, err := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile("assets/vendor/SHA256SUMS")
	if string(got) != string(want) {
		t.Fatalf("update.sh fetched %q, committed %q", got, want)
	}
}

// TestTemplatesParse: New parses every page (a bad template panics).
func TestTemplatesParse(t *testing.T) {
	c := New(Options{})
	for _, p := range []string{"overview", "systems", "system", "exchanges", "exchange", "deliveries", "routes", "reports", "activity", "people", "login", "error"} {
		if c.pages[p] == nil {
			t.Errorf("page %s missing", p)
		}
	}
}
