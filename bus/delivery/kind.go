package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
)

// Kind delivers the outbox items of one kind. Deliver makes one attempt;
// it returns nil when the destination has the item, an error wrapped by
// Permanent when no retry can cure it (marshal, mapping, 4xx, SOAP Client
// faults, outbound policy refusals), any other error to retry later.
// Deliver must honour ctx: it ends on shutdown or when the lease is lost.
type Kind interface {
	Name() string
	Deliver(ctx context.Context, it store.OutboxItem) error
}

// Policied kinds choose the retry policy of an item (from their route
// section, say); others use the runner's.
type Policied interface {
	RetryPolicy(it store.OutboxItem) bus.RetryPolicy
}

// Slotted kinds choose how many deliveries to one target run at once.
type Slotted interface {
	Slots() int
}

// Recorder kinds are told of an outcome once the store has recorded it for
// the current lease holder (so never twice for one attempt): status is
// store.OutboxDone, store.OutboxDead or store.OutboxPending (a retry).
type Recorder interface {
	Record(ctx context.Context, it store.OutboxItem, status string, err error)
}

// Timed kinds bound one attempt; others get the runner's AttemptTimeout.
type Timed interface {
	AttemptTimeout() time.Duration
}

// Key is the idempotency key of an item: the same for every attempt of it,
// different for any other item. HTTP and SOAP kinds send it as the
// Idempotency-Key header. A kind whose destination knows the item by a
// key of its own (VXP: the document id) puts it in the payload, a JSON
// object, as "idempotency_key"; otherwise it is lgsp-<item id>.
func Key(it store.OutboxItem) string {
	if bytes.Contains(it.Payload, []byte(`"idempotency_key"`)) {
		var p struct {
			Key string `json:"idempotency_key"`
		}
		if json.Unmarshal(it.Payload, &p) == nil && p.Key != "" {
			return p.Key
		}
	}
	return fmt.Sprintf("lgsp-%d", it.ID)
}

// HeaderKey is the HTTP header that carries Key.
const HeaderKey = "Idempotency-Key"

// ErrNothing is returned by a kind whose item needs no delivery (the
// recipient is reached another way, or is final already): the item is
// done, and Recorder sees ErrNothing as its error.
var ErrNothing = errors.New("nothing to deliver")

type permanent struct{ error }

func (e permanent) Unwrap() error { return e.error }

// Permanent marks err as one no retry can cure: the item goes straight to
// the dead letters with err as its reason.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// IsPermanent reports whether err was marked by Permanent, or is an
// outbound policy refusal (always permanent).
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p) || errors.Is(err, bus.ErrOutboundRefused)
}

// Registry holds the delivery kinds of one node (part of its environment:
// tests build an empty one).
type Registry struct {
	mu    sync.RWMutex
	kinds map[string]Kind
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{kinds: map[string]Kind{}} }

// Register adds a kind; registering a name twice panics (a wiring bug).
func (r *Registry) Register(k Kind) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.kinds[k.Name()]; dup {
		panic("delivery: kind " + k.Name() + " registered twice")
	}
	r.kinds[k.Name()] = k
}

// Lookup returns the kind of that name.
func (r *Registry) Lookup(name string) (Kind, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	k, ok := r.kinds[name]
	return k, ok
}

// Names lists the registered kinds, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.kinds))
	for n := range r.kinds {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
