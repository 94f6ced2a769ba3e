package test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The repository must stand on its own: a fresh clone, with nothing beside
// it, builds, tests and documents itself. So no tracked file may name a path
// outside the repository: an absolute path of a development machine, or the
// shared reference folder that CI lays beside the clone (and the documents in
// it). What an integrator needs from those is in docs/, in our own words.
//
// The patterns are split ("/wo"+"rk/") so that this file does not match them.
var outsidePathRules = []struct {
	re  *regexp.Regexp
	why string
}{
	{regexp.MustCompile(`(^|[^A-Za-z0-9_.])/` + `work/`), "an absolute path of a development machine"},
	{regexp.MustCompile(`/` + `home/[a-z_][a-z0-9_-]*/`), "a home directory"},
	{regexp.MustCompile(`/` + `Users/[A-Za-z]`), "a home directory"},
	{regexp.MustCompile(`(?i)[a-z]:\\` + `Users\\`), "a home directory"},
	{regexp.MustCompile(`\.\./` + `shared\b`), "the shared folder beside the clone"},
	{regexp.MustCompile(`"\.\."\s*,\s*"` + `shared"`), "the shared folder beside the clone"},
	{regexp.MustCompile(`sha` + `red/` + `ref/`), "the shared reference folder"},
	{regexp.MustCompile(`\bSPEC(\.md| §)`), "the reconstructed specification of the shared folder (docs/edxml.md has what is needed)"},
	{regexp.MustCompile(`\blibs` + `\.md\b`), "the library notes of the shared folder (docs/ has what is needed)"},
}

// ciSamplesRule is the one allowed reference: .ci/run names the external
// edXML corpus in the shared folder beside the clone, because CI lays it
// there (docs/edxml.md, "Sources and test corpora").
var ciSamplesRule = regexp.MustCompile(`"\$\(cd \.\. && pwd\)/` + `sha` + `red/ref/edxml/samples/[a-z0-9-]+"`)

// outsidePaths returns "file:line: why" for every line of content that names
// a path outside the repository.
func outsidePaths(name string, content []byte) []string {
	var found []string
	for i, line := range strings.Split(string(content), "\n") {
		if name == ".ci/run" {
			line = ciSamplesRule.ReplaceAllString(line, `"CORPUS"`)
		}
		for _, r := range outsidePathRules {
			if r.re.MatchString(line) {
				found = append(found, name+":"+strconv.Itoa(i+1)+": "+r.why+": "+strings.TrimSpace(line))
				break
			}
		}
	}
	return found
}

// TestNoPathOutsideRepository checks every tracked file.
func TestNoPathOutsideRepository(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	git := exec.Command("git", "ls-files", "-z")
	git.Dir = root
	out, err := git.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v (the test lists the tracked files with git)", err)
	}
	files := strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
	if len(files) < 100 {
		t.Fatalf("git ls-files listed %d files; want the whole repository", len(files))
	}
	var bad []string
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			if os.IsNotExist(err) {
				continue // deleted in the work tree, not yet committed
			}
			t.Fatal(err)
		}
		if bytes.IndexByte(b, 0) >= 0 {
			continue // binary
		}
		bad = append(bad, outsidePaths(f, b)...)
	}
	if len(bad) > 0 {
		t.Errorf("%d line(s) name a path outside the repository:\n%s", len(bad), strings.Join(bad, "\n"))
	}
}

// TestOutsidePathsRules shows the checker is not a rubber stamp: each kind of
// outside path is caught, and the .ci/run exception is that line only.
func TestOutsidePathsRules(t *testing.T) {
	caught := []struct{ name, line string }{
		{"docs/load.md", "cd /" + "work/main   # the repository"},
		{"adapters/vxp/doc.go", "// documented in /" + "work/sha" + "red/ref/edxml/SPEC" + ".md §8.1"},
		{"bus/edxml/parse_test.go", `root = filepath.Join("..", "..", "..", "shar` + `ed")`},
		{"bus/edxml/parse_test.go", `os.ReadFile("../../../` + `sha` + `red/ref/edxml/samples/x.edxml")`},
		{"docs/soap.md", "Read the notes in `" + "sha" + "red/ref/" + "li" + "bs.md` §1"},
		{"bus/ids.go", "// Identifier codes (edXML SPEC" + " §4)"},
		{"README.md", "see /" + "home/tuyen/lgsp/configs"},
		{"README.md", `C:\` + `Users\tuyen\lgsp`},
		{"test/run.sh", `samples="$(cd .. && pwd)/` + `sha` + `red/ref/edxml/samples/vpcp-sdkvxp-example"`},
		{".ci/run", `cd /` + `work/main`},
	}
	for _, c := range caught {
		if got := outsidePaths(c.name, []byte("ok\n"+c.line+"\n")); len(got) != 1 || !strings.HasPrefix(got[0], c.name+":2: ") {
			t.Errorf("%s: %q not caught (got %q)", c.name, c.line, got)
		}
	}
	allowed := []struct{ name, line string }{
		{".ci/run", `samples="$(cd .. && pwd)/` + `sha` + `red/ref/edxml/samples/vpcp-sdkvxp-example"`},
		{"docs/load.md", "go build -o /tmp/lgsp ./cmd/lgsp"},
		{"docs/edxml.md", "LGSP_EXTERNAL_EDXML_SAMPLES=/path/to/vpcp-sdkvxp-example go test ./bus/edxml"},
		{"bus/route/route.go", "// a shared bus.RetryPolicy; see docs/wo" + "rk/flow.md"},
	}
	for _, c := range allowed {
		if got := outsidePaths(c.name, []byte(c.line)); len(got) != 0 {
			t.Errorf("%s: %q flagged: %q", c.name, c.line, got)
		}
	}
}
