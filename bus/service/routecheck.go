package service

import (
	"sort"
	"sync"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/route"
)

// A RouteCheck looks at a loaded route set for what only an adapter can
// know — e.g. that the SOAP operation a push names is registered — and
// reports problems with their positions. Adapters register checks from
// init(); LoadRoutes runs them at start-up, on every reload and in
// `lgsp routes lint`, so a set that fails one never replaces a running set.
type RouteCheck func(set *route.Set) route.Problems

var (
	checksMu    sync.Mutex
	routeChecks = map[string]RouteCheck{}
)

// RegisterRouteCheck adds a named check; registering a name twice panics.
func RegisterRouteCheck(name string, c RouteCheck) {
	checksMu.Lock()
	defer checksMu.Unlock()
	if _, dup := routeChecks[name]; dup {
		panic("service: route check " + name + " registered twice")
	}
	routeChecks[name] = c
}

// LoadRoutes loads and lints the route files of dir, then runs every
// registered check; the error lists every problem (route.Problems).
func LoadRoutes(dir string) (*route.Set, error) {
	set, err := route.LoadDir(dir, bus.DefaultSteps)
	if err != nil {
		return nil, err
	}
	checksMu.Lock()
	names := make([]string, 0, len(routeChecks))
	for n := range routeChecks {
		names = append(names, n)
	}
	checks := make([]RouteCheck, 0, len(names))
	sort.Strings(names)
	for _, n := range names {
		checks = append(checks, routeChecks[n])
	}
	checksMu.Unlock()
	var ps route.Problems
	for _, c := range checks {
		ps = append(ps, c(set)...)
	}
	if len(ps) > 0 {
		return nil, ps
	}
	return set, nil
}
