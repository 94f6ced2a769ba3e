// Package route owns LGSP's route files (routes/*.yaml): it parses them
// with yaml.v3 nodes so that every problem keeps its file:line:col, lints
// them (all problems of all files are collected before failing), matches an
// exchange's source and data type to exactly one route, plans its delivery
// time, runs its steps, and runs the tests that route files carry.
//
// Route files are code. The same LoadDir runs at start-up, on reload, in
// `lgsp routes lint` and in go test; a caller gets the full list of problems
// with errors.As(err, &problems) or directly from Lint. Two routes that
// could both match one source and data type are an error: there is no
// first-match order, so moving a file never changes where a message goes.
//
// The runner of a route's steps ((*Route).Run, RunSteps) lives here and
// not in bus/pipeline: docs/architecture.md orders bus/route above
// bus/pipeline (route may not import pipeline) and route tests must run
// steps. Step kinds come from a *bus.StepRegistry (bus.DefaultSteps in
// production, into which bus/pipeline registers the core steps from init).
//
// bus/route owns the routes: and services: of a file; every other
// top-level section is declared by the component it configures (a
// delivery kind's targets, like the pushes: of adapters/soapout) through a
// Section registered in a *Sections (DefaultSections in production): its
// decoder reads the section through the strict Decoder, which keeps every
// problem's position, and its check runs on the loaded set. Fields of
// services can be declared the same way (ServiceField: the soap: block of
// adapters/soap). Every retry:
// of a file is read by one decoder (RetryFields) into bus.RetryPolicy.
//
// It imports bus, bus/schedule, yaml.v3 and the standard library; never
// bus/service or adapters/.
package route
