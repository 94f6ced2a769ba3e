package route_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/route"
)

func TestServicesParse(t *testing.T) {
	dir := t.TempDir()
	src := `services:
  - name: tra-cuu
    owner: 000.00.01.H60
    endpoint: "http://127.0.0.1:9090/api/"
    scopes: [read, write]
  - name: ghi
    owner: 000.00.02.H60
    endpoint: https://dv.example.gov.vn
    scopes: [write]
    timeout: 30s
    max_bytes: 1024
    max_inflight: 2
    retry: {max_attempts: 3}
    headers: {set: {x-api-key: k}, remove: [cookie]}
`
	if err := os.WriteFile(filepath.Join(dir, "dv.yaml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := route.LoadDir(dir, bus.DefaultSteps) // a directory of services only is fine
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Routes()) != 0 || len(set.Services()) != 2 {
		t.Fatalf("%d routes, %d services", len(set.Routes()), len(set.Services()))
	}
	a, ok := set.Service("tra-cuu")
	if !ok {
		t.Fatal("tra-cuu not found")
	}
	if a.Endpoint != "http://127.0.0.1:9090/api" || a.Timeout != route.DefaultServiceTimeout || a.MaxBytes != route.DefaultServiceMaxBytes ||
		a.MaxInFlight != route.DefaultServiceMaxInFlight || a.Attempts("GET") != 1 || !a.AllowsScope("write") || a.AllowsScope("admin") || a.Line != 2 {
		t.Fatalf("defaults: %+v", a)
	}
	b, _ := set.Service("ghi")
	if b.Timeout != 30*time.Second || b.MaxBytes != 1024 || b.MaxInFlight != 2 || b.Attempts("GET") != 3 || b.Attempts("POST") != 1 ||
		b.Headers.Set["X-Api-Key"] != "k" || len(b.Headers.Remove) != 1 || b.Headers.Remove[0] != "Cookie" {
		t.Fatalf("ghi: %+v", b)
	}
	if _, ok := set.Service("khong-co"); ok {
		t.Fatal("unknown service found")
	}
	var nilSet *route.Set
	if _, ok := nilSet.Service("x"); ok || nilSet.Services() != nil {
		t.Fatal("nil set has services")
	}
}

func TestServiceGateway(t *testing.T) {
	ok := "services:\n  - name: dmdc\n    owner: 000.00.01.H60\n    endpoint: https://api.ngsp.gov.vn/dmdc/1.0\n    scopes: [read]\n    gateway: ngsp\n"
	// The gateways are registered by the adapters that carry the calls
	// (adapters/ngsp); in an empty registry none is known.
	secs := route.NewSections()
	_, _, _, probs := route.ParseFileWith("a.yaml", []byte(ok), nil, secs)
	if len(probs) != 1 || probs[0].String() != `a.yaml:6:14: gateway: "ngsp" is not a gateway services can call through; no gateways are registered` {
		t.Fatalf("empty registry: problems %v", probs)
	}
	secs.RegisterGateway("ngsp")
	_, svcs, _, probs := route.ParseFileWith("a.yaml", []byte(ok), nil, secs)
	if len(probs) != 0 || len(svcs) != 1 || svcs[0].Gateway != "ngsp" {
		t.Fatalf("problems %v, services %+v", probs, svcs)
	}
	bad := "services:\n  - name: dmdc\n    owner: 000.00.01.H60\n    endpoint: https://x.gov.vn\n    scopes: [read]\n    gateway: vxp\n"
	_, _, _, probs = route.ParseFileWith("b.yaml", []byte(bad), nil, secs)
	if len(probs) != 1 || probs[0].String() != `b.yaml:6:14: gateway: "vxp" is not a gateway services can call through (ngsp)` {
		t.Fatalf("problems %v, want one at 6:14", probs)
	}
	if secs.Gateways()[0] != "ngsp" || len(secs.Gateways()) != 1 {
		t.Fatalf("gateways %v", secs.Gateways())
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("registering a gateway twice did not panic")
			}
		}()
		secs.RegisterGateway("ngsp")
	}()
}
