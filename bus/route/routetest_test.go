package route_test

import (
	"strings"
	"testing"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/route"
)

// TestRunTestsReportsFailures runs route tests written to fail and checks
// that each failure says why.
func TestRunTestsReportsFailures(t *testing.T) {
	set, err := route.LoadDir("testdata/failing", bus.DefaultSteps)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"wrong route expected":   "",
		"unexpected step error":  `unexpected error: route.step_failed: content failed a route step: validate: media type "text/plain" is not allowed (allowed: application/xml)`,
		"expected error missing": "want error route.step_failed, got none",
		"wrong due and labels":   `due 2026-11-27T07:00:00+07:00, want 2026-11-26T10:00:00+07:00; label k = "v", want "w"; label missing not set, want "x"`,
		"too large":              "unexpected error: exchange.too_large: content exceeds the upload space's size limit: 6 bytes exceed the route's limit of 4",
		"recipient outside":      "unexpected error: exchange.recipient_unknown: recipient is not registered or is suspended: 000.01.00.H60 is not a recipient of route kiem-tra",
		"no route":               "no route matched, want route kiem-tra; unexpected error: exchange.no_route: no route accepts this data type from this source: source 000.00.00.G01, data type edoc",
		"missing content file":   "reading content_file: ",
	}
	results := route.RunTests(set, "")
	if len(results) != len(want) {
		t.Fatalf("%d results, want %d", len(results), len(want))
	}
	for _, r := range results {
		w, ok := want[r.Name]
		if !ok {
			t.Errorf("unexpected test %q", r.Name)
			continue
		}
		if r.Pass {
			t.Errorf("%s passed, want a failure", r.Name)
			continue
		}
		if r.Name == "wrong route expected" {
			w = "matched route kiem-tra, want khac"
		}
		if !strings.HasPrefix(r.Msg, w) {
			t.Errorf("%s: message\n  %s\nwant prefix\n  %s", r.Name, r.Msg, w)
		}
		if r.File != "testdata/failing/failing.yaml" || r.Line == 0 || r.Route != "kiem-tra" {
			t.Errorf("%s: position %s:%d route %s", r.Name, r.File, r.Line, r.Route)
		}
		if s := r.String(); !strings.HasPrefix(s, "FAIL testdata/failing/failing.yaml:") {
			t.Errorf("String() = %q", s)
		}
	}
}
