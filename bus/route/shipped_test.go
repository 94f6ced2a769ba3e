package route_test

import (
	"errors"
	"testing"

	"github.com/tuyenquang/lgsp/bus"
	_ "github.com/tuyenquang/lgsp/bus/pipeline" // registers the core steps into bus.DefaultSteps
	"github.com/tuyenquang/lgsp/bus/route"
	_ "github.com/tuyenquang/lgsp/bus/transform" // registers the edXML steps the shipped routes use
)

// The route files shipped in /routes are code: they must load without a
// single problem and all their tests must pass.
const shippedDir = "../../routes"

func TestShippedRoutes(t *testing.T) {
	set, err := route.LoadDir(shippedDir, bus.DefaultSteps)
	if err != nil {
		var ps route.Problems
		if errors.As(err, &ps) {
			for _, p := range ps {
				t.Error(p)
			}
		}
		t.Fatalf("loading %s: %v", shippedDir, err)
	}
	results := route.RunTests(set, shippedDir)
	if len(results) == 0 {
		t.Fatal("the shipped routes carry no tests")
	}
	for _, r := range set.Routes() {
		if len(r.Tests) == 0 {
			t.Errorf("route %s (%s:%d) has no tests", r.Name, r.File, r.Line)
		}
	}
	for _, res := range results {
		t.Run(res.Route+"/"+res.Name, func(t *testing.T) {
			if !res.Pass {
				t.Error(res)
			}
		})
	}
}
