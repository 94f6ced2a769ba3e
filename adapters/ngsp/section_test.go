package ngsp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/route"
	"github.com/tuyenquang/lgsp/bus/store"
)

const sectionServices = "services:\n  - name: vbdt\n    owner: 000.00.01.H60\n    endpoint: https://api.ngsp.gov.vn/vbdt/1.0\n    scopes: [send]\n    gateway: ngsp\n" +
	"  - name: plain\n    owner: 000.00.01.H60\n    endpoint: https://x.gov.vn\n    scopes: [send]\n"

func sectionRegistry() *route.Sections {
	secs := route.NewSections()
	secs.RegisterGateway(GatewayName)
	secs.Register(Section())
	return secs
}

// TestSectionDecodes: an ngsp_deliveries: entry maps a system to a
// service with its path and retry: (the one schema of route files).
func TestSectionDecodes(t *testing.T) {
	dir := t.TempDir()
	src := sectionServices + "ngsp_deliveries:\n  - {system: 000.00.98.H60, service: vbdt, path: /receive, retry: {max_attempts: 7, initial: 2s}}\n  - {system: 000.00.97.H60, service: vbdt}\n"
	if err := os.WriteFile(filepath.Join(dir, "n.yaml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := route.LoadDirWith(dir, bus.DefaultSteps, sectionRegistry())
	if err != nil {
		t.Fatal(err)
	}
	m := RouteDeliveries(set)
	a, b := m["000.00.98.H60"], m["000.00.97.H60"]
	if len(m) != 2 || a == nil || b == nil || a.Service != "vbdt" || a.Path != "/receive" || a.Retry == nil || a.Retry.MaxAttempts != 7 || a.Retry.Initial != 2*time.Second || b.Retry != nil || b.Path != "" {
		t.Fatalf("deliveries %+v", m)
	}
	c := &Caller{Routes: func() *route.Set { return set }, Deliveries: map[string]Delivery{"000.00.98.H60": {Service: "old"}, "000.00.96.H60": {Service: "cfg"}},
		Retry: bus.RetryPolicy{MaxAttempts: 3}}
	if d, _, ok := c.lookup("000.00.98.H60"); !ok || d.Service != "vbdt" {
		t.Fatalf("the route file does not win over the configuration: %+v", d)
	}
	if d, _, ok := c.lookup("000.00.96.H60"); !ok || d.Service != "cfg" {
		t.Fatalf("the configuration's entry is lost: %+v", d)
	}
	if _, _, ok := c.lookup("000.00.95.H60"); ok {
		t.Fatal("an unmapped system has a delivery")
	}
	if p := c.RetryPolicy(itemFor("000.00.98.H60")); p.MaxAttempts != 7 {
		t.Fatalf("retry of the entry %+v", p)
	}
	if p := c.RetryPolicy(itemFor("000.00.97.H60")); p.MaxAttempts != 3 {
		t.Fatalf("retry without retry: %+v", p)
	}
}

// TestSectionLint: every mistake is a problem at its file, line and
// column, and the set is refused.
func TestSectionLint(t *testing.T) {
	for _, tc := range []struct{ name, section, want string }{
		{"unknown field", "ngsp_deliveries:\n  - {system: 000.00.98.H60, service: vbdt, pth: /x}\n",
			`:12:44: unknown field "pth" (did you mean "path"?)`},
		{"bad system", "ngsp_deliveries:\n  - {system: not-a-code, service: vbdt}\n",
			`:12:14: system: "not-a-code" is not an identifier code`},
		{"missing service", "ngsp_deliveries:\n  - {system: 000.00.98.H60}\n",
			`:12:5: delivery: missing field "service"`},
		{"relative path", "ngsp_deliveries:\n  - {system: 000.00.98.H60, service: vbdt, path: receive}\n",
			`:12:50: path: must start with /, got "receive"`},
		{"bad retry", "ngsp_deliveries:\n  - {system: 000.00.98.H60, service: vbdt, retry: {max_attempts: -1}}\n",
			`:12:`},
		{"empty", "ngsp_deliveries: []\n", `:11:1: ngsp_deliveries: list at least one delivery`},
		{"twice", "ngsp_deliveries:\n  - {system: 000.00.98.H60, service: vbdt}\n  - {system: 000.00.98.H60, service: vbdt}\n",
			`:13:14: system 000.00.98.H60 already has an NGSP delivery (at `},
		{"service without the gateway", "ngsp_deliveries:\n  - {system: 000.00.98.H60, service: plain}\n",
			`:12:38: service: "plain" is not declared in the route files with gateway: ngsp`},
		{"unknown service", "ngsp_deliveries:\n  - {system: 000.00.98.H60, service: nope}\n",
			`:12:38: service: "nope" is not declared in the route files with gateway: ngsp`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "n.yaml")
			if err := os.WriteFile(file, []byte(sectionServices+tc.section), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := route.LoadDirWith(dir, bus.DefaultSteps, sectionRegistry())
			if err == nil || !strings.Contains(err.Error(), file+tc.want) || bus.CodeOf(err) != bus.ErrRouteInvalid.Code {
				t.Fatalf("LoadDirWith = %v, want %s%s", err, file, tc.want)
			}
		})
	}
	// Without the section registered, the key is an unknown field.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "n.yaml"), []byte(sectionServices+"ngsp_deliveries:\n  - {system: 000.00.98.H60, service: vbdt}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	secs := route.NewSections()
	secs.RegisterGateway(GatewayName)
	if _, err := route.LoadDirWith(dir, bus.DefaultSteps, secs); err == nil || !strings.Contains(err.Error(), `unknown field "ngsp_deliveries"`) {
		t.Fatalf("unregistered section: %v", err)
	}
}

func itemFor(system string) store.OutboxItem { return store.OutboxItem{Kind: KindCall, Target: system} }

// FuzzDeliveriesSection: any route file either yields problems with a
// file and message, or entries that are complete.
func FuzzDeliveriesSection(f *testing.F) {
	f.Add([]byte(sectionServices + "ngsp_deliveries:\n  - {system: 000.00.98.H60, service: vbdt, path: /receive, retry: {max_attempts: 3, jitter: 0.1}}\n"))
	f.Add([]byte("ngsp_deliveries: &a [*a]\n"))
	f.Add([]byte("ngsp_deliveries:\n  - {system: 1, service: [x], path: {}}\n"))
	f.Add([]byte("ngsp_deliveries:\n  - system: 000.00.98.H60\n    service: ''\n"))
	secs := sectionRegistry()
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, parts, ps := route.ParseFileWith("f.yaml", data, bus.DefaultSteps, secs)
		for _, p := range ps {
			if p.File != "f.yaml" || p.Msg == "" {
				t.Fatalf("malformed problem %#v", p)
			}
		}
		if len(ps) > 0 {
			return
		}
		list, _ := parts[SectionName].([]*RouteDelivery)
		for _, rd := range list {
			if _, err := bus.ParseSystemCode(rd.System); err != nil || rd.Service == "" || rd.Path != "" && !strings.HasPrefix(rd.Path, "/") {
				t.Fatalf("delivery accepted incomplete: %+v", rd)
			}
		}
	})
}
