package route

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tuyenquang/lgsp/bus"
)

func TestIntersect(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"000.00.00.H60", "000.00.00.H60", true},
		{"000.00.00.H60", "000.00.01.H60", false},
		{"000.00.*.H60", "000.00.01.H60", true},
		{"000.00.*.H60", "000.01.*.H60", false},
		{"*", "000.00.00.H60", true},
		{"*.H60", "*.G01", false},
		{"*.H60", "000.*", true},
		{"???.00.00.H60", "000.00.00.H6?", true},
		{"??", "???", false},
		{"*a*", "*b*", true},
		{"a*", "*b", true},
		{"a*", "b*", false},
		{"0?.*", "*.?1", true},
		{"000.00.0?.H60", "000.00.*.H60", true},
		{"H60.*", "*.H60", true},
	}
	for _, tt := range tests {
		for _, pair := range [][2]string{{tt.a, tt.b}, {tt.b, tt.a}} {
			w, ok := intersect(pair[0], pair[1])
			if ok != tt.want {
				t.Errorf("intersect(%q, %q) = %v, want %v", pair[0], pair[1], ok, tt.want)
				continue
			}
			if !ok {
				continue
			}
			for _, p := range pair {
				if m, _ := path.Match(p, w); !m {
					t.Errorf("intersect(%q, %q): witness %q does not match %q", pair[0], pair[1], w, p)
				}
			}
		}
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"name", "description", "match", "max_bytes", "delivery", "schedule", "expect"}
	for in, want := range map[string]string{
		"descripton": "description", "maxbytes": "max_bytes", "Name": "name", "schedual": "schedule",
		"expcet": "expect", "colour": "", "x": "", "delivry": "delivery",
	} {
		if got := suggest(in, known); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestProblemString(t *testing.T) {
	for _, tt := range []struct {
		p    Problem
		want string
	}{
		{Problem{"routes/x.yaml", 12, 5, `unknown field "endpont"`}, `routes/x.yaml:12:5: unknown field "endpont"`},
		{Problem{"routes/x.yaml", 3, 0, "invalid YAML: oops"}, "routes/x.yaml:3: invalid YAML: oops"},
		{Problem{"routes/x.yaml", 0, 0, "file declares no routes"}, "routes/x.yaml: file declares no routes"},
	} {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestProblemsError(t *testing.T) {
	var err error = Problems{{"a.yaml", 1, 2, "one"}, {"b.yaml", 3, 4, "two"}}
	if got, want := err.Error(), "a.yaml:1:2: one\nb.yaml:3:4: two"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 2 {
		t.Fatal("errors.As does not find Problems")
	}
	if code := bus.CodeOf(err); code != bus.ErrRouteInvalid.Code {
		t.Fatalf("CodeOf = %q, want %q", code, bus.ErrRouteInvalid.Code)
	}
	if !strings.Contains(bus.AsError(err).Detail, "2 problem(s); first: a.yaml:1:2: one") {
		t.Fatalf("detail = %q", bus.AsError(err).Detail)
	}
}

// config exercises the strict decoder: nesting, inline structs and maps,
// defaults, durations and lists of structs.
type config struct {
	Common   `yaml:",inline"`
	Timeout  time.Duration     `yaml:"timeout"`
	Headers  map[string]string `yaml:"headers"`
	Targets  []target          `yaml:"targets"`
	Ptr      *target           `yaml:"ptr"`
	Untagged int
	Ignored  string `yaml:"-"`
}

type Common struct {
	Enabled bool `yaml:"enabled"`
}

type target struct {
	URL  string `yaml:"url"`
	Port int    `yaml:"port"`
}

func decodeText(t *testing.T, text string, into any) []string {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range decodeStrict(doc.Content[0], into) {
		out = append(out, fmt.Sprintf("%d:%d: %s", p.n.Line, p.n.Column, p.msg))
	}
	return out
}

func TestDecodeStrict(t *testing.T) {
	c := config{Timeout: time.Minute, Untagged: 7}
	probs := decodeText(t, "enabled: true\nheaders: {a: b}\ntargets:\n  - {url: x, port: 80}\nptr: {url: y}\n", &c)
	if len(probs) != 0 {
		t.Fatalf("problems: %v", probs)
	}
	if !c.Enabled || c.Timeout != time.Minute || c.Headers["a"] != "b" || len(c.Targets) != 1 || c.Targets[0].Port != 80 || c.Ptr == nil || c.Ptr.URL != "y" || c.Untagged != 7 {
		t.Fatalf("decoded %+v", c)
	}

	c = config{}
	got := decodeText(t, strings.Join([]string{
		"enabled: sometimes",
		"timeout: 5",
		"targets:",
		"  - {url: x, prot: 80}",
		"  - {port: eighty}",
		"headers: {a: [b]}",
		"ignored: x",
		"untagged: 1",
		"timeout: 1s",
		"ptr: []",
	}, "\n"), &c)
	want := []string{
		`1:10: enabled: expected true or false, found string "sometimes"`,
		`2:10: timeout: expected a duration like 90s, 30m or 72h, found integer 5`,
		`4:14: targets[0]: unknown field "prot" (did you mean "port"?)`,
		`5:12: targets[1].port: expected an integer, found string "eighty"`,
		`6:14: headers.a: expected a string, found a list`,
		`7:1: unknown field "ignored" (known: enabled, headers, ptr, targets, timeout, untagged)`,
		`9:1: field "timeout" repeated (first at line 2)`,
		`10:6: ptr: expected a mapping, found a list`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

type stepFunc = bus.StepFunc

func testRoute(steps ...Step) *Route {
	for i := range steps {
		steps[i].Index = i + 1
		steps[i].File = "r.yaml"
		steps[i].Line = i + 10
	}
	return &Route{Name: "r", Steps: steps}
}

func TestRunSteps(t *testing.T) {
	ctx := context.Background()
	var order []string
	mark := func(s string) Step {
		return Step{Kind: s, Step: stepFunc(func(context.Context, *bus.Message) error { order = append(order, s); return nil })}
	}
	if err := testRoute(mark("a"), mark("b")).Run(ctx, &bus.Message{}); err != nil || strings.Join(order, "") != "ab" {
		t.Fatalf("Run = %v, order %v", err, order)
	}

	stepErr := bus.ErrStepFailed.New("bad content")
	failing := Step{Kind: "check", Step: stepFunc(func(context.Context, *bus.Message) error { return stepErr })}
	order = nil
	err := testRoute(mark("a"), failing, mark("c")).Run(ctx, &bus.Message{})
	if err != stepErr || strings.Join(order, "") != "a" {
		t.Fatalf("catalogue error not passed through unchanged: %v, order %v", err, order)
	}

	fault := errors.New("disk full")
	faulty := Step{Kind: "store", Step: stepFunc(func(context.Context, *bus.Message) error { return fault })}
	err = testRoute(mark("a"), faulty).Run(ctx, &bus.Message{})
	if !errors.Is(err, fault) || err.Error() != "step 2 (store, r.yaml:11): disk full" {
		t.Fatalf("platform error = %v", err)
	}
	if bus.CodeOf(err) != bus.ErrInternal.Code {
		t.Fatalf("platform error code = %s", bus.CodeOf(err))
	}

	panicky := Step{Kind: "boom", Step: stepFunc(func(context.Context, *bus.Message) error { panic("oops") })}
	err = testRoute(panicky).Run(ctx, &bus.Message{})
	if bus.CodeOf(err) != bus.ErrInternal.Code || !strings.Contains(err.Error(), "panic in step: oops") {
		t.Fatalf("panic = %v", err)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	order = nil
	err = testRoute(mark("a")).Run(cctx, &bus.Message{})
	if !errors.Is(err, context.Canceled) || len(order) != 0 {
		t.Fatalf("cancelled = %v, order %v", err, order)
	}
}

func mustParse(t *testing.T, text string) *Set {
	t.Helper()
	routes, ps := Parse("t.yaml", []byte(text), bus.NewStepRegistry())
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	set, ps := Build(routes)
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	return set
}

func TestMatchPlanRecipients(t *testing.T) {
	set := mustParse(t, `
routes:
  - name: ngay
    match: {sources: ["000.00.*.H60"], data_types: [edoc, edxml]}
    recipients: ["*.H60"]
  - name: dinh-ky
    match: {sources: ["*"], data_types: [bao-cao]}
    delivery: {mode: cron, schedule: "0 7,13 * * 1-5"}
`)
	for _, tt := range []struct{ source, dataType, want string }{
		{"000.00.01.H60", "edoc", "ngay"},
		{"000.00.01.H60", "edxml", "ngay"},
		{"000.01.01.H60", "edoc", ""},
		{"000.00.01.H60", "EDOC", ""},
		{"anything", "bao-cao", "dinh-ky"},
	} {
		got := ""
		if r, ok := set.Match(tt.source, tt.dataType); ok {
			got = r.Name
		}
		if got != tt.want {
			t.Errorf("Match(%s, %s) = %q, want %q", tt.source, tt.dataType, got, tt.want)
		}
	}
	ngay, _ := set.Lookup("ngay")
	if !ngay.AllowsRecipient("000.00.01.H60") || ngay.AllowsRecipient("000.00.01.G01") {
		t.Error("AllowsRecipient does not follow recipients")
	}
	dinhKy, ok := set.Lookup("dinh-ky")
	if !ok || !dinhKy.AllowsRecipient("any") {
		t.Error("a route without recipients must allow any")
	}
	now := time.Date(2026, 11, 27, 14, 0, 0, 0, time.FixedZone("ICT", 7*3600)) // a Friday afternoon
	if got := ngay.Plan(now); !got.Equal(now) {
		t.Errorf("immediate Plan = %v, want now", got)
	}
	if got, want := dinhKy.Plan(now), time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("cron Plan = %v, want Monday 07:00 ICT (%v)", got, want)
	}
	if ngay.Delivery.Expiry != DefaultExpiry || ngay.MaxBytes != DefaultMaxBytes || ngay.Delivery.Retry != bus.DefaultRetry {
		t.Errorf("defaults not applied: %+v", ngay)
	}
	if names := len(set.Routes()); names != 2 {
		t.Errorf("Routes() has %d routes", names)
	}
}

// TestUnknownStepKindWithEmptyRegistry checks the message when nothing is
// registered (a test registry).
func TestUnknownStepKindWithEmptyRegistry(t *testing.T) {
	_, ps := Parse("t.yaml", []byte("routes:\n  - name: a\n    match: {sources: [x], data_types: [y]}\n    steps: [{validate: {}}]\n"), bus.NewStepRegistry())
	if len(ps) != 1 || ps[0].String() != `t.yaml:4:14: unknown step kind "validate"; no step kinds are registered` {
		t.Fatalf("problems: %v", ps)
	}
}

// TestFactoryMisbehaviour checks that a factory that panics, returns no
// step, or swallows decode errors is still reported properly.
func TestFactoryMisbehaviour(t *testing.T) {
	reg := bus.NewStepRegistry()
	reg.Register(bus.StepSpec{Name: "panics", New: func(func(any) error) (bus.Step, error) { panic("bad factory") }})
	reg.Register(bus.StepSpec{Name: "nil", New: func(func(any) error) (bus.Step, error) { return nil, nil }})
	reg.Register(bus.StepSpec{Name: "swallow", New: func(decode func(any) error) (bus.Step, error) {
		var c struct {
			A int `yaml:"a"`
		}
		_ = decode(&c)
		return stepFunc(func(context.Context, *bus.Message) error { return nil }), nil
	}})
	reg.Register(bus.StepSpec{Name: "multi", New: func(func(any) error) (bus.Step, error) {
		return nil, errors.Join(errors.New("first"), errors.New("second"))
	}})
	_, ps := Parse("t.yaml", []byte(`routes:
  - name: a
    match: {sources: [x], data_types: [y]}
    steps:
      - panics: {}
      - nil: {}
      - swallow: {b: 1}
      - multi: {}
`), reg)
	want := []string{
		"t.yaml:5:17: panics: the step factory panicked: bad factory",
		"t.yaml:6:14: nil: the step factory returned no step",
		`t.yaml:7:19: swallow: unknown field "b" (known: a)`,
		"t.yaml:8:16: multi: first",
		"t.yaml:8:16: multi: second",
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.String())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
