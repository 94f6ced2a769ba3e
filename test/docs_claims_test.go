package test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/tuyenquang/lgsp/adapters/rest"
)

// TestAuthDocForwardedHeaders: docs/auth.md names exactly the headers the
// bus signs on forwarded calls, which a destination must find signed.
func TestAuthDocForwardedHeaders(t *testing.T) {
	b, err := os.ReadFile("../docs/auth.md")
	if err != nil {
		t.Fatal(err)
	}
	want := "SignedHeaders=" + strings.Join(rest.ForwardSignedHeaders, ";")
	if !strings.Contains(string(b), want) {
		t.Fatalf("docs/auth.md does not give the signed headers of forwarded calls: %s", want)
	}
}

var adminRoute = regexp.MustCompile(`"(?:GET|POST|PUT|DELETE) (/admin/v1/[^"]+)"`)

// TestReadmeListsAdminEndpoints: every admin API route the code mounts is
// in README's admin table, and the table names no route that is not mounted.
func TestReadmeListsAdminEndpoints(t *testing.T) {
	mounted := map[string]bool{}
	for _, root := range []string{"../bus", "../adapters"} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return err
			}
			b, err := os.ReadFile(p)
			for _, m := range adminRoute.FindAllStringSubmatch(string(b), -1) {
				mounted[m[1]] = true
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(mounted) < 15 {
		t.Fatalf("found only %d admin routes: %v", len(mounted), mounted)
	}
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("`(?:GET|POST|PUT|DELETE) (/admin/v1/[^`?\\s]+)`").FindAllStringSubmatch(readme, -1) {
		documented[m[1]] = true
	}
	var missing, extra []string
	for p := range mounted {
		if !documented[p] {
			missing = append(missing, p)
		}
	}
	for p := range documented {
		if !mounted[p] {
			extra = append(extra, p)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("README admin table: missing %v; not mounted %v", missing, extra)
	}
}
