package store

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tuyenquang/lgsp/bus"
)

//go:generate go test -run TestGuardMethodsGenerated -update .

// GuardOptions configures Guard. Zero fields take the defaults named.
type GuardOptions struct {
	// CallTimeout bounds one store call of a request (default 10 s).
	CallTimeout time.Duration
	// BackgroundTimeout bounds one store call of background work, whose
	// calls may be long (purges, pruning) and are not waited on by a client
	// (default 10 × CallTimeout).
	BackgroundTimeout time.Duration
	// Reserve is the time a request keeps after a store call gave up, to
	// answer its coded error before the request's own deadline (default 2 s).
	Reserve time.Duration
	// Failures is the number of consecutive faults that open the circuit
	// (default 3).
	Failures int
	// ProbeEvery is how often the database is probed while the circuit is
	// open (default 1 s).
	ProbeEvery time.Duration
	// MaxRetryAfter caps the Retry-After of refusals, in seconds (default 30).
	MaxRetryAfter int
	// ReportEvery is how often OnStill is called while the circuit is open
	// (default 30 s).
	ReportEvery time.Duration
	// OnDown is called once when the circuit opens, with the fault that
	// opened it; OnStill periodically while it stays open; OnBack once when
	// a probe found the database again. Each may be nil.
	OnDown  func(cause error)
	OnStill func(o Outage)
	OnBack  func(o Outage)
	// Observe, when set, is told the duration of every call that reached
	// the store, by kind ("read" or "write", see OpKind): the node feeds
	// it to metrics.StoreOp.
	Observe func(op string, d time.Duration)
	// OnEvents, when set, is told the ledger events of every call that
	// wrote them successfully (metrics count them).
	OnEvents func(ctx context.Context, evs []Event)
}

func (o *GuardOptions) defaults() {
	if o.CallTimeout <= 0 {
		o.CallTimeout = 10 * time.Second
	}
	if o.BackgroundTimeout <= 0 {
		o.BackgroundTimeout = 10 * o.CallTimeout
	}
	if o.Reserve <= 0 {
		o.Reserve = 2 * time.Second
	}
	if o.Failures <= 0 {
		o.Failures = 3
	}
	if o.ProbeEvery <= 0 {
		o.ProbeEvery = time.Second
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = 30
	}
	if o.ReportEvery <= 0 {
		o.ReportEvery = 30 * time.Second
	}
}

// Outage describes the time the circuit has been open.
type Outage struct {
	Since   time.Time     // when the circuit opened
	For     time.Duration // how long it has been (or was) open
	Refused int64         // calls refused at once meanwhile
	Waited  int64         // background calls that waited for the database
	Probes  int64         // probes that failed
	Cause   string        // the fault that opened it (no payload: a database error)
}

type failFastKey struct{}

// FailFast marks ctx as the context of a request: while the circuit is open
// its store calls are refused at once, and each call's deadline leaves the
// request time to answer. Calls of unmarked contexts (background work) wait
// for the database to come back instead.
func FailFast(ctx context.Context) context.Context {
	return context.WithValue(ctx, failFastKey{}, true)
}

func isFailFast(ctx context.Context) bool { v, _ := ctx.Value(failFastKey{}).(bool); return v }

// Guarded is a Store behind a circuit breaker: every call gets a deadline,
// faults of the database (not the catalogue errors a store returns for
// domain reasons) are counted, and after Failures consecutive ones the
// circuit opens. While it is open, requests get system.unavailable with a
// Retry-After at once, background work waits, and a prober pings the
// database until it answers, which closes the circuit.
type Guarded struct {
	Store
	o GuardOptions

	mu       sync.Mutex
	fails    int
	open     bool
	since    time.Time
	cause    string
	back     chan struct{} // closed when the circuit closes again
	stop     chan struct{}
	stopOnce sync.Once
	probing  sync.WaitGroup

	refused, waited, probes atomic.Int64
}

// Guard wraps s.
func Guard(s Store, o GuardOptions) *Guarded {
	o.defaults()
	return &Guarded{Store: s, o: o, stop: make(chan struct{})}
}

// Unwrap returns the guarded store.
func (g *Guarded) Unwrap() Store { return g.Store }

// State reports whether the circuit is open and, if so, the outage so far.
func (g *Guarded) State() (bool, Outage) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.open {
		return false, Outage{}
	}
	return true, g.outageLocked(time.Now())
}

func (g *Guarded) outageLocked(now time.Time) Outage {
	return Outage{Since: g.since, For: now.Sub(g.since), Refused: g.refused.Load(), Waited: g.waited.Load(), Probes: g.probes.Load(), Cause: g.cause}
}

// RetryAfter is the wait, in seconds, a refused client is told: 1 s in the
// first 10 s of an outage, then doubling every 10 s up to MaxRetryAfter, so
// that clients come back quickly after a blip and thin out in a long outage.
func (g *Guarded) RetryAfter(open time.Duration) int {
	ra := 1
	for d := open; d >= 10*time.Second && ra < g.o.MaxRetryAfter; d -= 10 * time.Second {
		ra *= 2
	}
	return min(ra, g.o.MaxRetryAfter)
}

// IsOutage reports whether err is a refusal of an open circuit (expected
// during an outage: callers need not log it one line per request).
func IsOutage(err error) bool { return errors.Is(err, errCircuitOpen) }

// IsFault reports whether err is a fault of the database the guard turned
// into a coded error (system.unavailable): the request failed, the
// database is to blame, not the request.
func IsFault(err error) bool {
	var f *storeFault
	return errors.As(err, &f)
}

// The markers are the Cause of the catalogue error, so that they survive
// code that passes the *bus.Error on by itself.
var errCircuitOpen = errors.New("store circuit open")

type storeFault struct{ err error }

func (f *storeFault) Error() string { return f.err.Error() }
func (f *storeFault) Unwrap() error { return f.err }

// reads are the Store methods that change nothing; every other is a write.
var reads = map[string]bool{
	"ActivityChain": true, "ActivityHead": true, "ActivityNodes": true, "Backlog": true, "Checkpoints": true,
	"ChunkIndex": true, "ConnDays": true, "Events": true, "EventsAfter": true, "EventsAfterOrIn": true, "Expired": true, "GetChunk": true,
	"GetExchange": true, "GetGatewayDoc": true, "GetKey": true, "GetMeta": true, "GetSession": true, "GetSystem": true,
	"Inbox": true, "KeyEvents": true, "LastEventID": true, "LastRun": true, "LegacyToken": true, "ListActivity": true,
	"ListAlerts": true, "ListDeliveries": true, "ListGrants": true, "ListKeys": true, "ListSent": true,
	"ListSystemOrgans": true, "ListSystems": true, "PlatformKey": true, "SealedSamples": true, "SessionByHash": true,
	"SearchExchanges": true, "Settled": true, "Stats": true, "TokenByHash": true,
	"GetPerson": true, "PersonByLogin": true, "PeopleByClaim": true, "ListPeople": true, "ConsoleSessionByHash": true,
	"GetLoginLock": true,
}

// OpKind is the kind of a Store method for latency metrics: "read" or
// "write" (a bounded label, not the method name).
func OpKind(method string) string {
	if reads[method] {
		return "read"
	}
	return "write"
}

// observe reports the duration of one call of method to GuardOptions.Observe.
func (g *Guarded) observe(method string, start time.Time) {
	if g.o.Observe != nil {
		g.o.Observe(OpKind(method), time.Since(start))
	}
}

// written reports ledger events a call wrote to GuardOptions.OnEvents.
func (g *Guarded) written(ctx context.Context, evs []Event) {
	if g.o.OnEvents != nil && len(evs) > 0 {
		g.o.OnEvents(ctx, evs)
	}
}

// begin prepares one call: refused or waited while the circuit is open,
// else a context with the call's deadline.
func (g *Guarded) begin(ctx context.Context) (context.Context, context.CancelFunc, error) {
	fast := isFailFast(ctx)
	for {
		g.mu.Lock()
		open, back, since := g.open, g.back, g.since
		g.mu.Unlock()
		if !open {
			break
		}
		if fast {
			g.refused.Add(1)
			return nil, nil, &bus.Error{Def: bus.ErrUnavailable, Detail: "the database is unreachable; try again later", Cause: errCircuitOpen, RetryAfter: g.RetryAfter(time.Since(since))}
		}
		g.waited.Add(1)
		select {
		case <-back:
		case <-g.stop:
			return nil, nil, bus.ErrUnavailable.New("the store is closed")
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
	d := g.o.BackgroundTimeout
	if fast {
		d = g.o.CallTimeout
		if dl, ok := ctx.Deadline(); ok {
			d = min(d, max(time.Until(dl)-g.o.Reserve, 50*time.Millisecond))
		}
	}
	cctx, cancel := context.WithTimeout(ctx, d)
	return cctx, cancel, nil
}

// end classifies the result of a call made with cctx under parent.
func (g *Guarded) end(parent, cctx context.Context, err error) error {
	if err == nil {
		g.ok()
		return nil
	}
	var be *bus.Error
	if errors.As(err, &be) {
		// A domain answer: the database worked.
		g.ok()
		return err
	}
	if parent.Err() != nil {
		// The caller went away or ran out of its own time: not the
		// database's fault.
		return err
	}
	g.fault(err)
	detail := "the database did not answer in time; try again later"
	if cctx.Err() == nil {
		detail = "the database failed; try again later"
		if m := strings.ToLower(err.Error()); strings.Contains(m, "full") || strings.Contains(m, "readonly") || strings.Contains(m, "read-only") || strings.Contains(m, "read only") {
			detail = "the database cannot write (storage full or read-only); try again later"
		}
	}
	return &bus.Error{Def: bus.ErrUnavailable, Detail: detail, Cause: &storeFault{err}, RetryAfter: 1}
}

func (g *Guarded) ok() {
	g.mu.Lock()
	if !g.open {
		g.fails = 0
	}
	g.mu.Unlock()
}

func (g *Guarded) fault(err error) {
	g.mu.Lock()
	g.fails++
	if g.open || g.fails < g.o.Failures {
		g.mu.Unlock()
		return
	}
	select {
	case <-g.stop:
		g.mu.Unlock()
		return
	default:
	}
	g.open, g.since, g.cause, g.back = true, time.Now(), err.Error(), make(chan struct{})
	g.refused.Store(0)
	g.waited.Store(0)
	g.probes.Store(0)
	g.probing.Add(1)
	g.mu.Unlock()
	if g.o.OnDown != nil {
		g.o.OnDown(err)
	}
	go g.probe()
}

// probe pings the database every ProbeEvery until it answers, then closes
// the circuit.
func (g *Guarded) probe() {
	defer g.probing.Done()
	t := time.NewTicker(g.o.ProbeEvery)
	defer t.Stop()
	lastReport := time.Now()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), min(g.o.CallTimeout, max(g.o.ProbeEvery, time.Second)))
		err := g.Store.Ping(ctx)
		cancel()
		if err == nil {
			g.mu.Lock()
			o := g.outageLocked(time.Now())
			g.open, g.fails = false, 0
			close(g.back)
			g.mu.Unlock()
			if g.o.OnBack != nil {
				g.o.OnBack(o)
			}
			return
		}
		g.probes.Add(1)
		if time.Since(lastReport) >= g.o.ReportEvery && g.o.OnStill != nil {
			lastReport = time.Now()
			_, o := g.State()
			g.o.OnStill(o)
		}
	}
}

// Ping checks the database directly (readiness), counting a failure as a
// fault like any call.
func (g *Guarded) Ping(ctx context.Context) error {
	cctx, cancel, err := g.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	return g.end(ctx, cctx, g.Store.Ping(cctx))
}

// Close stops the prober and closes the store; background calls waiting
// for the database end.
func (g *Guarded) Close() error {
	g.stopOnce.Do(func() { close(g.stop) })
	g.probing.Wait()
	return g.Store.Close()
}
