// Package pipeline holds LGSP's core route steps: validate, label and
// reject. Each step is one file, steps_<kind>.go, with its configuration
// struct, its StepSpec (summary and example for docs/routes.md) and an
// init() that registers it in bus.DefaultSteps; adding a step means copying
// one file, never editing a switch elsewhere.
//
// Steps report bad content with bus.ErrStepFailed, naming what failed; any
// other error is a fault of the platform. A step's configuration is decoded
// strictly by the decode callback that package route passes to the factory,
// so unknown fields are errors with their file position; factories check
// the values and refuse impossible ones.
//
// The runner that applies a route's steps in order lives in package route
// ((*route.Route).Run, route.RunSteps): docs/architecture.md orders
// bus/route above bus/pipeline, so route may not import this package, and
// route tests must run steps. This package imports only bus and the
// standard library; import it for its side effect (`import _
// "github.com/tuyenquang/lgsp/bus/pipeline"`) wherever routes are loaded.
package pipeline
