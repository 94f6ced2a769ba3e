package bus

import (
	"context"
	"fmt"
	"io"
	"sort"
	"sync"
)

// Message is what a route's steps see when an exchange has been fully
// uploaded (F4). Metadata is plain; the payload is opened on demand and
// streamed, never held whole in memory.
type Message struct {
	ExchangeID string
	Source     string   // identifier code of the sending system
	Recipients []string // identifier codes of the destinations
	Title      string
	Importance string
	DataType   string
	Protocol   string
	MediaType  string
	Size       int64
	SHA256     string            // lower-case hex of the payload
	Labels     map[string]string // set by steps, recorded in the ledger

	// Open returns the decrypted payload as a stream. It is nil in route
	// tests that declare no content.
	Open func() (io.ReadCloser, error)
	// Replace swaps the payload for the bytes read from r (a transform step's
	// output), re-encrypting it; Size, SHA256 and MediaType are updated. It is
	// nil where the payload cannot be replaced (route tests without content).
	Replace func(ctx context.Context, mediaType string, r io.Reader) error
	// SpeaksFor returns nil when Source may name organ as the sender of a
	// packet (its own code or an organ the registry lists for it), else a
	// catalogue error (edxml.sender_mismatch). Nil (route tests) allows
	// Source's own code only.
	SpeaksFor func(ctx context.Context, organ string) error
}

// CheckSender applies SpeaksFor, or when it is nil, accepts only Source's
// own code.
func (m *Message) CheckSender(ctx context.Context, organ string) error {
	if m.SpeaksFor != nil {
		return m.SpeaksFor(ctx, organ)
	}
	if organ == m.Source {
		return nil
	}
	return ErrSenderMismatch.New("the packet names %s as its sender; %s may send only as itself here", ShowCode(organ), m.Source)
}

// Label sets a label on the message.
func (m *Message) Label(k, v string) {
	if m.Labels == nil {
		m.Labels = map[string]string{}
	}
	m.Labels[k] = v
}

// Step is one processing step of a route (validate, transform, sign …). It
// returns nil to let the message go on, or an error — a catalogue *Error
// (usually ErrStepFailed) for bad content, anything else for a fault of the
// platform.
type Step interface {
	Process(ctx context.Context, m *Message) error
}

// StepFunc adapts a function to Step.
type StepFunc func(ctx context.Context, m *Message) error

// Process calls f.
func (f StepFunc) Process(ctx context.Context, m *Message) error { return f(ctx, m) }

// StepFactory builds a step from its configuration. decode strictly decodes
// the step's configuration from the route file into the value it is given
// (unknown fields are errors, reported with their file position).
type StepFactory func(decode func(into any) error) (Step, error)

// RoutesDirSetter is implemented by step configurations that name files
// (keys, certificates, CRLs). Before decoding into such a value, the route
// loader calls SetRoutesDir with the folder of the route file, so that the
// factory can resolve relative paths against it.
type RoutesDirSetter interface{ SetRoutesDir(dir string) }

// StepSpec describes a registered step kind; docs/routes.md lists them.
type StepSpec struct {
	Name    string
	Summary string // one sentence for the docs
	Example string // a YAML snippet of the step as written in a route file
	New     StepFactory
}

// StepRegistry holds the step kinds that route files may use. Production
// code uses DefaultSteps; tests may build an empty one.
type StepRegistry struct {
	mu    sync.RWMutex
	specs map[string]StepSpec
}

// NewStepRegistry returns an empty registry.
func NewStepRegistry() *StepRegistry { return &StepRegistry{specs: map[string]StepSpec{}} }

// DefaultSteps is the registry that step packages register into from init.
var DefaultSteps = NewStepRegistry()

// Register adds a step kind; registering a name twice panics (a programming error).
func (r *StepRegistry) Register(s StepSpec) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.specs[s.Name]; dup {
		panic(fmt.Sprintf("bus: step %q registered twice", s.Name))
	}
	r.specs[s.Name] = s
}

// Lookup returns the spec of a step kind.
func (r *StepRegistry) Lookup(name string) (StepSpec, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.specs[name]
	return s, ok
}

// Specs returns every registered step kind, sorted by name.
func (r *StepRegistry) Specs() []StepSpec {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]StepSpec, 0, len(r.specs))
	for _, s := range r.specs {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
