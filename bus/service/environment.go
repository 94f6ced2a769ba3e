package service

import (
	"sort"
	"sync"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/route"
)

// Environment holds every registry a node is built from, as Benthos's
// service.Environment does: the step kinds of routes (bus.StepRegistry),
// the route-file sections that components declare (route.Sections, e.g.
// the pushes: of adapters/soapout), the modules (adapters), the signature
// algorithms (auth.AlgorithmRegistry), and registries that adapters keep
// for themselves (Extension; the SOAP bindings of adapters/soap). Delivery
// kinds are per node: modules add them in Provision (Host.RegisterDelivery)
// to the node's bus/delivery.Registry.
//
// DefaultEnvironment is the one that init functions fill (through
// bus.DefaultSteps, route.DefaultSections, RegisterModule,
// auth.RegisterAlgorithm …) and that New and LoadRoutes use; tests build
// an empty one with NewEnvironment and register only what they need.
type Environment struct {
	steps      *bus.StepRegistry
	sections   *route.Sections
	algorithms *auth.AlgorithmRegistry

	mu      sync.Mutex
	modules []Module
	ext     map[string]any
}

// NewEnvironment returns an empty environment: no step kinds, no
// sections, no modules, no signature algorithms.
func NewEnvironment() *Environment {
	return &Environment{steps: bus.NewStepRegistry(), sections: route.NewSections(), algorithms: auth.NewAlgorithmRegistry(), ext: map[string]any{}}
}

var defaultEnv = &Environment{steps: bus.DefaultSteps, sections: route.DefaultSections, algorithms: auth.DefaultAlgorithms, ext: map[string]any{}}

// DefaultEnvironment returns the environment filled by init functions.
func DefaultEnvironment() *Environment { return defaultEnv }

// Steps returns the step kinds route files may use.
func (e *Environment) Steps() *bus.StepRegistry { return e.steps }

// Sections returns the route-file sections components declared.
func (e *Environment) Sections() *route.Sections { return e.sections }

// Algorithms returns the signature algorithms requests may be signed with.
func (e *Environment) Algorithms() *auth.AlgorithmRegistry { return e.algorithms }

// RegisterStep adds a step kind (see bus.StepRegistry.Register).
func (e *Environment) RegisterStep(s bus.StepSpec) { e.steps.Register(s) }

// RegisterSection adds a route-file section (see route.Sections.Register).
func (e *Environment) RegisterSection(s route.Section) { e.sections.Register(s) }

// RegisterGateway adds an outside gateway that services of route files may
// call through (gateway: name; see route.Sections.RegisterGateway).
func (e *Environment) RegisterGateway(name string) { e.sections.RegisterGateway(name) }

// RegisterModule adds an adapter; registering a name twice panics.
func (e *Environment) RegisterModule(m Module) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, o := range e.modules {
		if o.Name == m.Name {
			panic("service: module " + m.Name + " registered twice")
		}
	}
	e.modules = append(e.modules, m)
}

// Modules returns the registered modules sorted by name: the order in
// which they are provisioned and validated (and stopped in reverse).
func (e *Environment) Modules() []Module {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := append([]Module(nil), e.modules...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Extension returns the registry an adapter keeps in the environment
// under key, made by init on first use; an adapter owns its key and the
// type behind it (adapters/soapout: the SOAP bindings).
func (e *Environment) Extension(key string, init func() any) any {
	e.mu.Lock()
	defer e.mu.Unlock()
	if v, ok := e.ext[key]; ok {
		return v
	}
	v := init()
	e.ext[key] = v
	return v
}

// LoadRoutes loads and lints the route files of dir with the step kinds
// and sections of e, sections' own checks included; the error lists every
// problem (route.Problems). It runs at start-up, on every reload and in
// `lgsp routes lint`.
func (e *Environment) LoadRoutes(dir string) (*route.Set, error) {
	return route.LoadDirWith(dir, e.steps, e.sections)
}

// RegisterModule adds an adapter to the default environment; adapters
// call it from init().
func RegisterModule(m Module) { defaultEnv.RegisterModule(m) }

// Modules returns the modules of the default environment sorted by name.
func Modules() []Module { return defaultEnv.Modules() }

// LoadRoutes loads the route files of dir in the default environment
// (Environment.LoadRoutes).
func LoadRoutes(dir string) (*route.Set, error) { return defaultEnv.LoadRoutes(dir) }
