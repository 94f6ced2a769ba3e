package test

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/tuyenquang/lgsp/bus"
	_ "github.com/tuyenquang/lgsp/bus/pipeline"  // core steps
	_ "github.com/tuyenquang/lgsp/bus/transform" // edXML and XML-DSig steps
)

var update = flag.Bool("update", false, "rewrite generated docs (docs/routes.md step reference)")

// TestRoutesDoc keeps the step reference in docs/routes.md generated from
// every registered step spec (this package imports all step packages):
// `go test ./test -run TestRoutesDoc -update`.
func TestRoutesDoc(t *testing.T) {
	const path = "../docs/routes.md"
	const begin, end = "<!-- steps:begin -->\n", "<!-- steps:end -->"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the steps markers", path)
	}
	var gen strings.Builder
	gen.WriteString("<!-- Generated from the registered step specs; do not edit. -->\n\n")
	for _, s := range bus.DefaultSteps.Specs() {
		fmt.Fprintf(&gen, "### `%s`\n\n%s\n\n```yaml\nsteps:\n  %s\n```\n\n", s.Name, s.Summary, s.Example)
	}
	want := doc[:i+len(begin)] + gen.String() + doc[j:]
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if doc != want {
		t.Fatal("docs/routes.md step reference is out of date: go test ./test -run TestRoutesDoc -update")
	}
}
