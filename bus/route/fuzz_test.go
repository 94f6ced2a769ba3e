package route_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/route"
)

// FuzzParse feeds arbitrary bytes to the route file parser, with the core
// steps registered: it must never panic, every problem must have a file
// and a message, and a file without problems must build.
func FuzzParse(f *testing.F) {
	for _, glob := range []string{"../../routes/*.yaml", "testdata/*/*.yaml", "testdata/bad/*/*.yaml"} {
		files, _ := filepath.Glob(glob)
		for _, file := range files {
			if data, err := os.ReadFile(file); err == nil {
				f.Add(data)
			}
		}
	}
	f.Add([]byte("routes:\n  - &a [*a]\n"))
	f.Add([]byte("routes:\n  - name: x\n    steps: [{validate: &c {max_bytes: *c}}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		routes, ps := route.Parse("f.yaml", data, bus.DefaultSteps)
		for _, p := range ps {
			if p.File != "f.yaml" || p.Msg == "" {
				t.Fatalf("malformed problem %#v", p)
			}
		}
		set, more := route.Build(routes)
		if len(ps) == 0 && len(more) == 0 {
			for _, r := range set.Routes() {
				if len(r.Sources) == 0 || len(r.DataTypes) == 0 {
					t.Fatalf("route %q accepted without a match", r.Name)
				}
			}
			route.RunTests(set, "testdata") // content_file cannot leave it (os.Root)
		}
	})
}
