package service_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/route"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
)

// stampFile is a route file that names a step kind (stamp) and a section
// (targets) that an empty environment does not know.
const stampFile = `routes:
  - name: van-ban
    match: {sources: ["*"], data_types: [edoc]}
    steps:
      - stamp: {label: da-dong-dau}
targets:
  - {system: 000.00.01.H60, url: "https://vp.example.gov.vn/nhan"}
`

// TestEnvironmentEmpty: a test builds an environment with nothing in it;
// a route file naming a step kind and a section that are not registered
// is refused, each at its position, and registering the kind and the
// section (as an adapter's init does in the default environment) makes
// the same file valid, its section's value in the set. The default
// environment is not touched.
func TestEnvironmentEmpty(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "r.yaml"), []byte(stampFile), 0o644); err != nil {
		t.Fatal(err)
	}
	env := service.NewEnvironment()
	if len(env.Modules()) != 0 || len(env.Sections().Names()) != 0 || len(env.Steps().Specs()) != 0 || len(env.Algorithms().Names()) != 0 {
		t.Fatal("a new environment is not empty")
	}
	_, err := env.LoadRoutes(dir)
	var ps route.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("LoadRoutes = %v, want problems", err)
	}
	file := filepath.Join(dir, "r.yaml")
	want := []string{
		file + `:5:9: unknown step kind "stamp"; no step kinds are registered`,
		file + `:6:1: unknown field "targets" (known: routes, services)`,
	}
	if got := ps.Error(); got != strings.Join(want, "\n") {
		t.Fatalf("problems:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if bus.CodeOf(err) != bus.ErrRouteInvalid.Code {
		t.Fatalf("code %s", bus.CodeOf(err))
	}

	type target struct {
		System string `yaml:"system"`
		URL    string `yaml:"url"`
	}
	env.RegisterStep(bus.StepSpec{Name: "stamp", New: func(decode func(any) error) (bus.Step, error) {
		var c struct {
			Label string `yaml:"label"`
		}
		if err := decode(&c); err != nil {
			return nil, err
		}
		return bus.StepFunc(func(context.Context, *bus.Message) error { return nil }), nil
	}})
	env.RegisterSection(route.Section{
		Name: "targets",
		Decode: func(d *route.Decoder, key, val *yaml.Node) any {
			var list []target
			if !d.Strict(val, "targets", &list) {
				return nil
			}
			return list
		},
	})
	set, err := env.LoadRoutes(dir)
	if err != nil {
		t.Fatalf("with the kind and section registered: %v", err)
	}
	parts, _ := set.Section("targets").([]any)
	if len(parts) != 1 || len(parts[0].([]target)) != 1 || parts[0].([]target)[0].System != "000.00.01.H60" {
		t.Fatalf("section value %#v", set.Section("targets"))
	}

	// The section's schema is strict, with positions.
	bad := strings.Replace(stampFile, "url:", "ulr:", 1)
	if err := os.WriteFile(filepath.Join(dir, "r.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = env.LoadRoutes(dir)
	if err == nil || !strings.Contains(err.Error(), file+`:7:29: targets: [0]: unknown field "ulr" (did you mean "url"?)`) {
		t.Fatalf("LoadRoutes = %v", err)
	}
	if _, ok := service.DefaultEnvironment().Sections().Lookup("targets"); ok {
		t.Fatal("registering in a test environment changed the default one")
	}
}

// lifecycle records what the modules of a test node saw, in order.
type lifecycle struct {
	mu     sync.Mutex
	events []string
}

func (l *lifecycle) add(e string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *lifecycle) get() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.events, " ")
}

// newNode builds a node on SQLite in temporary directories with env.
func newNode(t *testing.T, env *service.Environment) (*service.Service, error) {
	t.Helper()
	cfg := service.Defaults()
	cfg.Node = "lifecycle"
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.RoutesDir = t.TempDir()
	cfg.Log.File = filepath.Join(cfg.DataDir, "lgsp.log")
	cfg.ShutdownTimeout = 2 * time.Second
	route := "routes:\n  - name: r\n    match: {sources: [\"*\"], data_types: [edoc]}\n"
	if err := os.WriteFile(filepath.Join(cfg.RoutesDir, "r.yaml"), []byte(route), 0o644); err != nil {
		t.Fatal(err)
	}
	return service.NewWith(context.Background(), env, cfg)
}

// run starts s and returns its address and a function that shuts it down
// and returns how long that took.
func run(t *testing.T, s *service.Service) (string, func() (time.Duration, error)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx, func(a net.Addr) { addrc <- a }) }()
	select {
	case a := <-addrc:
		return a.String(), func() (time.Duration, error) {
			start := time.Now()
			cancel()
			err := <-errc
			return time.Since(start), err
		}
	case err := <-errc:
		cancel()
		t.Fatalf("node did not start: %v", err)
	}
	return "", nil
}

// TestModuleLifecycle: modules are provisioned, then validated, before the
// node takes traffic; at shutdown they are stopped in reverse order after
// the HTTP server stopped (nothing answers on the address any more) and
// while the store is still open (a read succeeds).
func TestModuleLifecycle(t *testing.T) {
	env := service.NewEnvironment()
	var l lifecycle
	var addr string
	for _, name := range []string{"a", "b"} {
		env.RegisterModule(service.Module{
			Name:      name,
			Provision: func(h *service.Host) error { l.add("provision-" + name); return nil },
			Validate: func(h *service.Host) error {
				if h.Routes() == nil {
					return errors.New("no routes")
				}
				l.add("validate-" + name)
				return nil
			},
			Stop: func(ctx context.Context, h *service.Host) error {
				if _, dl := ctx.Deadline(); !dl {
					return errors.New("stop without a deadline")
				}
				if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
					resp.Body.Close()
					l.add("server-still-up")
				}
				if _, _, err := h.Store.GetMeta(ctx, store.MetaKeyCheck); err != nil {
					l.add("store-closed")
				}
				l.add("stop-" + name)
				return nil
			},
		})
	}
	s, err := newNode(t, env)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.get(); got != "provision-a provision-b validate-a validate-b" {
		t.Fatalf("start-up: %s", got)
	}
	var stop func() (time.Duration, error)
	addr, stop = run(t, s)
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := l.get(); got != "provision-a provision-b validate-a validate-b stop-b stop-a" {
		t.Fatalf("lifecycle: %s", got)
	}
}

// TestModuleValidateStopsStartup: a module whose Validate fails stops
// start-up with a message naming it, and the modules already provisioned
// are stopped (cleanup) before NewWith returns.
func TestModuleValidateStopsStartup(t *testing.T) {
	env := service.NewEnvironment()
	var l lifecycle
	env.RegisterModule(service.Module{
		Name:      "gateway",
		Provision: func(*service.Host) error { l.add("provision"); return nil },
		Validate:  func(*service.Host) error { return errors.New("gateways.x.url is empty") },
		Stop:      func(context.Context, *service.Host) error { l.add("stop"); return nil },
	})
	_, err := newNode(t, env)
	if err == nil || err.Error() != "validating module gateway: gateways.x.url is empty" {
		t.Fatalf("NewWith = %v", err)
	}
	if got := l.get(); got != "provision stop" {
		t.Fatalf("lifecycle: %s", got)
	}
}

// TestModuleStopOverrunsDeadline: a Stop that ignores its deadline does
// not hang shutdown: the node is down within the shutdown timeout, the
// store is closed, and the module stopped before it got its Stop.
func TestModuleStopOverrunsDeadline(t *testing.T) {
	env := service.NewEnvironment()
	var l lifecycle
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	env.RegisterModule(service.Module{Name: "a", Stop: func(context.Context, *service.Host) error { l.add("stop-a"); return nil }})
	env.RegisterModule(service.Module{Name: "b", Stop: func(context.Context, *service.Host) error {
		l.add("stop-b")
		<-release // ignores ctx: overruns any deadline
		return nil
	}})
	s, err := newNode(t, env)
	if err != nil {
		t.Fatal(err)
	}
	_, stop := run(t, s)
	took, err := stop()
	if err != nil {
		t.Fatal(err)
	}
	// ShutdownTimeout is 2 s; modules get a quarter of it, at least 1 s.
	if took > 2*time.Second {
		t.Fatalf("shutdown took %s with a hanging module", took)
	}
	if got := l.get(); got != "stop-b" {
		t.Fatalf("lifecycle: %s (a module after the one that overran is not stopped)", got)
	}
	if _, _, err := s.Store().GetMeta(context.Background(), store.MetaKeyCheck); err == nil {
		t.Fatal("the store is still open after shutdown")
	}
}

// TestEnvironmentGateway: the gateways services may call through are
// registered through the environment (adapters/ngsp registers "ngsp" in
// the default one); in an empty environment a service naming one is
// refused at the gateway's position, and valid once it is registered.
func TestEnvironmentGateway(t *testing.T) {
	dir := t.TempDir()
	src := "services:\n  - name: dmdc\n    owner: 000.00.01.H60\n    endpoint: https://api.ngsp.gov.vn/dmdc/1.0\n    scopes: [read]\n    gateway: ngsp\n"
	file := filepath.Join(dir, "s.yaml")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	env := service.NewEnvironment()
	_, err := env.LoadRoutes(dir)
	want := file + `:6:14: gateway: "ngsp" is not a gateway services can call through; no gateways are registered`
	if err == nil || err.Error() != want || bus.CodeOf(err) != bus.ErrRouteInvalid.Code {
		t.Fatalf("LoadRoutes = %v (code %s), want %s", err, bus.CodeOf(err), want)
	}
	env.RegisterGateway("ngsp")
	set, err := env.LoadRoutes(dir)
	if err != nil {
		t.Fatalf("with the gateway registered: %v", err)
	}
	if s, ok := set.Service("dmdc"); !ok || s.Gateway != "ngsp" {
		t.Fatalf("service %+v", s)
	}
	if got := env.Sections().Gateways(); len(got) != 1 || got[0] != "ngsp" {
		t.Fatalf("gateways %v", got)
	}
	if service.DefaultEnvironment().Sections().Gateway("x-test") {
		t.Fatal("the default environment knows a gateway nobody registered")
	}
}
