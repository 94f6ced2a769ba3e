package route_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/route"
)

// routeWithRetry is a route file whose delivery has the given retry: block.
func routeWithRetry(retry string) string {
	return "routes:\n  - name: r\n    match: {sources: [\"*\"], data_types: [edoc]}\n    delivery:\n      retry: " + retry + "\n"
}

// serviceWithRetry is a route file whose service has the given retry: block.
func serviceWithRetry(retry string) string {
	return "services:\n  - name: s\n    owner: 000.00.01.H60\n    endpoint: https://dv.example.gov.vn\n    scopes: [read]\n    retry: " + retry + "\n"
}

// TestRetrySchemaOne: deliveries and services read retry: through one
// decoder into bus.RetryPolicy — the same fields, the same messages at the
// same kind of position — and only services take methods:.
func TestRetrySchemaOne(t *testing.T) {
	routes, probs := route.Parse("r.yaml", []byte(routeWithRetry("{initial: 1s, max_interval: 30s, max_elapsed: 1h, max_attempts: 7, jitter: 0.5}")), nil)
	if len(probs) != 0 {
		t.Fatal(probs)
	}
	want := bus.RetryPolicy{Initial: time.Second, MaxInterval: 30 * time.Second, MaxElapsed: time.Hour, MaxAttempts: 7, Jitter: 0.5}
	if got := routes[0].Delivery.Retry; got != want {
		t.Fatalf("delivery retry = %+v, want %+v", got, want)
	}
	routes, _ = route.Parse("r.yaml", []byte(routeWithRetry("{max_attempts: 3, jitter: 0}")), nil)
	if got := routes[0].Delivery.Retry; got.Jitter >= 0 || got.Backoff(1) != bus.DefaultRetry.Initial || got.MaxAttempts != 3 || got.Initial != bus.DefaultRetry.Initial {
		t.Fatalf("jitter: 0 must mean none, absent fields the defaults: %+v", got)
	}

	_, svcs, probs := route.ParseFile("s.yaml", []byte(serviceWithRetry("{max_attempts: 3, methods: [GET], initial: 200ms, max_interval: 400ms, jitter: 0.1}")), nil)
	if len(probs) != 0 {
		t.Fatal(probs)
	}
	r := svcs[0].Retry
	if r.MaxAttempts != 3 || r.Initial != 200*time.Millisecond || r.MaxInterval != 400*time.Millisecond || r.Jitter != 0.1 || len(r.Methods) != 1 {
		t.Fatalf("service retry = %+v", r)
	}
	if svcs[0].Attempts("GET") != 3 || svcs[0].Attempts("HEAD") != 1 {
		t.Fatal("methods: only the listed methods are retried")
	}
	for n := 1; n < 6; n++ {
		if w := r.Wait(n); w < 180*time.Millisecond || w > 440*time.Millisecond {
			t.Fatalf("wait %d = %s, want 200ms…400ms ±10%%", n, w)
		}
	}
	_, svcs, _ = route.ParseFile("s.yaml", []byte(serviceWithRetry("{max_attempts: 2}")), nil)
	if w := svcs[0].Retry.Wait(1); w < 80*time.Millisecond || w > 120*time.Millisecond {
		t.Fatalf("a service without waits declared waits %s, want about %s", w, route.DefaultServiceRetryInitial)
	}

	for _, tc := range []struct {
		name, file, want string
	}{
		{"methods only on services", routeWithRetry("{max_attempts: 3, methods: [GET]}"), `r.yaml:5:32: unknown field "methods" (known: initial, jitter, max_attempts, max_elapsed, max_interval)`},
		{"jitter above 1", routeWithRetry("{jitter: 1.5}"), `r.yaml:5:23: jitter: must be between 0 and 1 (a fraction of each wait), got 1.5`},
		{"jitter not a number", routeWithRetry("{jitter: lots}"), `r.yaml:5:23: jitter: expected a number between 0 and 1, found string "lots"`},
		{"delivery attempts bound", routeWithRetry("{max_attempts: 5000}"), `r.yaml:5:29: max_attempts: must be between 1 and 1000, got 5000`},
		{"service attempts bound", serviceWithRetry("{max_attempts: 9}"), `r.yaml:6:27: max_attempts: must be between 1 and 5, got 9`},
		{"service needs attempts", serviceWithRetry("{initial: 1s}"), `r.yaml:6:12: retry: missing field "max_attempts"`},
		{"service has no max_elapsed", serviceWithRetry("{max_attempts: 2, max_elapsed: 1h}"), `r.yaml:6:30: max_elapsed: the attempts of a service call are bounded by its timeout`},
		{"service methods idempotent", serviceWithRetry("{max_attempts: 2, methods: [POST]}"), `r.yaml:6:40: methods: "POST" is not idempotent`},
		{"same durations check", serviceWithRetry("{max_attempts: 2, initial: fast}"), `r.yaml:6:39: initial: invalid duration "fast"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, probs := route.ParseFile("r.yaml", []byte(tc.file), nil)
			if !strings.Contains(probs.Error(), tc.want) {
				t.Fatalf("problems:\n%s\nwant %s", probs.Error(), tc.want)
			}
		})
	}
}
