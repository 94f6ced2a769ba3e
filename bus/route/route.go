package route

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/tuyenquang/lgsp/bus"
)

// Delivery modes.
const (
	ModeImmediate = "immediate" // due as soon as the upload is complete
	ModeCron      = "cron"      // due at the next time of Delivery.Schedule
)

// Defaults and limits of route fields.
const (
	DefaultMaxBytes int64 = 100 << 20      // max_bytes when not given: 100 MiB
	DefaultExpiry         = 72 * time.Hour // delivery.expiry when not given
	MaxExpiry             = 30 * 24 * time.Hour
)

// Route is one route of a route file: which exchanges it accepts (by the
// source's identifier code and the data type), which recipients they may
// name, what steps check them and when they are delivered.
type Route struct {
	Name        string
	Description string
	File        string // the route file, as given to LoadDir or Parse
	Line, Col   int    // where the route starts in File

	Sources    []string // patterns on the source's identifier code
	DataTypes  []string // exact data type names, or "*"
	Recipients []string // patterns every recipient must match; empty = any
	MaxBytes   int64    // upload size limit
	Steps      []Step   // run in order by Run
	Delivery   Delivery
	Tests      []Test

	schedule cron.Schedule // parsed Delivery.Schedule for ModeCron
	namePos  pos
	matchPos pos
}

// Delivery says when and how long an accepted exchange is delivered.
type Delivery struct {
	Mode     string        // ModeImmediate or ModeCron
	Schedule string        // cron spec in Asia/Ho_Chi_Minh, for ModeCron
	Expiry   time.Duration // payload purged if not confirmed by then
	Retry    bus.RetryPolicy
}

// Step is one built step of a route with where it was declared.
type Step struct {
	Kind      string
	Index     int // 1-based position in the route's steps
	File      string
	Line, Col int
	Step      bus.Step
}

// Test is one test case carried by a route (tests: in the route file).
type Test struct {
	Name      string
	File      string
	Line, Col int
	Input     TestInput
	Now       time.Time // zero when not given
	Expect    TestExpect

	routePos pos // position of expect.route
}

// TestInput describes the exchange a test sends.
type TestInput struct {
	Source      string
	DataType    string
	Recipients  []string
	MediaType   string
	Content     string
	ContentFile string // slash-separated, relative to the routes directory
}

// TestExpect is what a test expects.
type TestExpect struct {
	Route  string            // the route that must match
	Error  bus.Code          // the catalogue code of the expected error
	Due    time.Time         // the planned delivery time, given the test's Now
	Labels map[string]string // labels that the steps must have set
}

type pos struct{ line, col int }

// AllowsRecipient reports whether an exchange of this route may be sent to
// the system with identifier code code. Whether that system is registered
// and active is checked elsewhere.
func (r *Route) AllowsRecipient(code string) bool {
	return len(r.Recipients) == 0 || matchAny(r.Recipients, code)
}

// Plan returns when an exchange accepted at now is due for delivery: now
// for ModeImmediate, the first time of the schedule strictly after now for
// ModeCron.
func (r *Route) Plan(now time.Time) time.Time {
	if r.Delivery.Mode != ModeCron || r.schedule == nil {
		return now
	}
	return r.schedule.Next(now)
}

// RequiresSHA256 reports whether a step of the route requires the sender
// to declare the payload's SHA-256 (validate: require_sha256). The exchange
// checks it at completion, before any step runs, because by then the
// platform has computed the hash itself and a step could no longer tell a
// declared hash from a computed one.
func (r *Route) RequiresSHA256() bool {
	for _, s := range r.Steps {
		if q, ok := s.Step.(interface{ RequiresSHA256() bool }); ok && q.RequiresSHA256() {
			return true
		}
	}
	return false
}

// Run runs the route's steps on m in order; see RunSteps.
func (r *Route) Run(ctx context.Context, m *bus.Message) error {
	return RunSteps(ctx, r.Steps, m)
}

// RunSteps runs steps on m in order and stops at the first error. A
// catalogue error (*bus.Error, usually bus.ErrStepFailed) is returned
// unchanged so that its code and detail reach the caller; any other error
// is wrapped with the step's index, kind and position, and a panic in a
// step becomes a bus.ErrInternal error. If ctx is done before a step, its
// error is returned wrapped.
func RunSteps(ctx context.Context, steps []Step, m *bus.Message) error {
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("before step %d (%s): %w", s.Index, s.Kind, err)
		}
		if err := runStep(ctx, s, m); err != nil {
			var be *bus.Error
			if errors.As(err, &be) {
				return err
			}
			return fmt.Errorf("step %d (%s, %s:%d): %w", s.Index, s.Kind, s.File, s.Line, err)
		}
	}
	return nil
}

func runStep(ctx context.Context, s Step, m *bus.Message) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = bus.ErrInternal.Wrap(fmt.Errorf("panic in step: %v", p), "step %d (%s) failed", s.Index, s.Kind)
		}
	}()
	return s.Step.Process(ctx, m)
}

// Set is a validated collection of routes: names are unique and no two
// routes match the same source and data type.
type Set struct {
	routes []*Route
	byName map[string]*Route
	// services are the services: of the files (services.go).
	services  []*Service
	svcByName map[string]*Service
	// sections are the values of the registered sections (section.go).
	sections map[string]any
}

// Match returns the route for an exchange from source (identifier code)
// with dataType; ok is false when no route accepts it.
func (s *Set) Match(source, dataType string) (*Route, bool) {
	if s == nil {
		return nil, false
	}
	for _, r := range s.routes {
		if r.matches(source, dataType) {
			return r, true
		}
	}
	return nil, false
}

func (r *Route) matches(source, dataType string) bool {
	okType := false
	for _, t := range r.DataTypes {
		if t == "*" || t == dataType {
			okType = true
			break
		}
	}
	return okType && matchAny(r.Sources, source)
}

// Routes returns the routes ordered by file and position in the file.
func (s *Set) Routes() []*Route {
	if s == nil {
		return nil
	}
	return append([]*Route(nil), s.routes...)
}

// Lookup returns the route called name.
func (s *Set) Lookup(name string) (*Route, bool) {
	if s == nil {
		return nil, false
	}
	r, ok := s.byName[name]
	return r, ok
}
