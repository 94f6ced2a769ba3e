package service

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/auth"
)

// What a request may hold while it runs (R3, R4). Work whose pace the
// client sets — above all reading a body — must not tie up the slots that
// authenticated traffic needs, so a request is in one of three pools:
//
//   - gate: it carries HTTP credentials (an LGSP signature, a bearer or
//     legacy token) that are being checked from its headers; the check does
//     not wait on the client, so a gate slot is held only briefly;
//   - unauth: it has no HTTP credentials (POST /token, SOAP with a
//     UsernameToken, probes of unknown paths), or it reads its body before it
//     is authenticated; small, and its bodies share a memory budget;
//   - main: it is authenticated (Admit);
//   - ops: it is an operator's look at the node itself (profiles under
//     /admin/v1/debug/pprof/, GET /metrics) with the admin token: a small
//     lane of its own, so that an overloaded node, whose main pool and queue
//     are full, can still be profiled and scraped (issue #13).
//
// Every body read also has a deadline and a minimum rate (bodyGuard).

type pool int

const (
	poolNone pool = iota
	poolGate
	poolUnauth
	poolMain
	poolOps
)

// The ops lane: at most opsInFlight operator requests at once (a CPU
// profile holds its slot for its seconds), opsQueued more waiting; small
// and fixed, it gives no throughput to anyone who has the admin token.
const (
	opsInFlight = 4
	opsQueued   = 8
)

// budgetChunk is how much of the unauthenticated-body budget a request
// takes at a time: its reads before authentication are cut to what it holds.
const budgetChunk = 32 << 10

// budget bounds the bytes of bodies read before authentication, over all
// requests.
type budget struct {
	used atomic.Int64
	max  int64
}

func (b *budget) take(n int64) bool {
	for {
		u := b.used.Load()
		if u+n > b.max {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

func (b *budget) give(n int64) { b.used.Add(-n) }

// errBudget is the refusal when unauthenticated bodies hold the whole budget.
func errBudget() error {
	return &bus.Error{Def: bus.ErrBusy, Detail: "too much unauthenticated request data in progress", RetryAfter: 1}
}

// admission is one request's place in the pools and its share of the budget.
// It is used by the handler's goroutine and, for streamed bodies, by the
// goroutine that reads them, hence the mutex.
type admission struct {
	s        *Service
	mu       sync.Mutex
	held     pool
	admitted bool
	reserved int64 // budget bytes taken
	read     int64 // of which already read
}

func (s *Service) limiterOf(p pool) *limiter {
	switch p {
	case poolGate:
		return s.gate
	case poolUnauth:
		return s.unauth
	case poolMain:
		return s.limit
	case poolOps:
		return s.ops
	}
	return nil
}

// enterOps takes a slot of the ops lane for an operator request (opsRequest)
// instead of the gate and the main pool; Admit is then a no-op.
func (a *admission) enterOps(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.move(ctx, poolOps); err != nil {
		return err
	}
	a.admitted = true
	return nil
}

// opsRequest reports whether r goes to the ops lane: a GET of a profile or
// of the metrics carrying the admin token (checked here in constant time, and
// again by the handler). Anything else, a wrong token included, takes the
// ordinary pools.
func (s *Service) opsRequest(r *http.Request) bool {
	if r.Method != http.MethodGet || !(strings.HasPrefix(r.URL.Path, "/admin/v1/debug/pprof/") || r.URL.Path == "/metrics") {
		return false
	}
	got, ok := strings.CutPrefix(r.Header.Get(auth.HeaderAuthorization), "Bearer ")
	return ok && s.adminTok != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.adminTok)) == 1
}

// enter takes the request's first pool: the gate when it carries HTTP
// credentials, else the unauthenticated pool with a first chunk of the
// budget when it has a body.
func (a *admission) enter(ctx context.Context, r *http.Request) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if hasCredentials(r) {
		return a.move(ctx, poolGate)
	}
	if err := a.move(ctx, poolUnauth); err != nil {
		return err
	}
	if hasBody(r) && !a.reserve() {
		return errBudget()
	}
	return nil
}

// move gives back the slot held, then takes one of p. Giving back first
// matters: an authenticated request waiting for a main slot must not keep a
// slot of the unauthenticated pool (nor of the gate) while it waits.
func (a *admission) move(ctx context.Context, p pool) error {
	if l := a.s.limiterOf(a.held); l != nil {
		l.release()
	}
	a.held = poolNone
	if err := a.s.limiterOf(p).acquire(ctx); err != nil {
		return err
	}
	a.held = p
	return nil
}

func (a *admission) reserve() bool {
	if !a.s.budget.take(budgetChunk) {
		return false
	}
	a.reserved += budgetChunk
	return true
}

func (a *admission) giveBudget() {
	a.s.budget.give(a.reserved)
	a.reserved, a.read = 0, 0
}

// admit moves an authenticated request to the main pool; its body, if read
// before, no longer counts against the unauthenticated budget.
func (a *admission) admit(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.admitted {
		return nil
	}
	a.admitted = true
	a.giveBudget()
	return a.move(ctx, poolMain)
}

// allow is called before a body read of up to want bytes and says how many
// may be read. Before authentication the read moves the request to the
// unauthenticated pool and is cut to the budget it holds.
func (a *admission) allow(ctx context.Context, want int) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.admitted {
		return want, nil
	}
	if a.held != poolUnauth {
		if err := a.move(ctx, poolUnauth); err != nil {
			return 0, err
		}
	}
	if a.reserved-a.read <= 0 && !a.reserve() {
		return 0, errBudget()
	}
	return int(min(int64(want), a.reserved-a.read)), nil
}

func (a *admission) got(n int) {
	a.mu.Lock()
	if !a.admitted {
		a.read += int64(n)
	}
	a.mu.Unlock()
}

// done gives back everything the request holds.
func (a *admission) done() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if l := a.s.limiterOf(a.held); l != nil {
		l.release()
	}
	a.held = poolNone
	a.giveBudget()
}

// Admit tells the service that the request of ctx is authenticated: it
// leaves the unauthenticated pools for the main one, waiting for a slot as
// requests do (system.busy with Retry-After when none frees in time).
// Adapters call it as soon as the caller is known, before reading a body
// they can check afterwards. It is a no-op outside the service's handler
// and when called again.
func Admit(ctx context.Context) error {
	a, _ := ctx.Value(keyAdmission).(*admission)
	if a == nil {
		return nil
	}
	return a.admit(ctx)
}

// hasCredentials reports whether r carries HTTP credentials that are
// checked from its headers alone (HTTP Basic, which some SOAP stacks add and
// POST /token uses with a body, does not count). The national axis SDK's
// HMAC (XroadVnpt-hash-header, served at /vxp/) is one: without it, slow
// unauthenticated clients filling that pool would starve SDK-based systems.
// Faking the header buys nothing: a body read before Admit still moves the
// request to the unauthenticated pool.
func hasCredentials(r *http.Request) bool {
	h := strings.TrimSpace(r.Header.Get(auth.HeaderAuthorization))
	return strings.HasPrefix(h, "LGSP-") || len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") || r.Header.Get(auth.HeaderLegacyToken) != "" ||
		r.Header.Get("XroadVnpt-hash-header") != ""
}

func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
}

// bodyGuard wraps a request body: the first read must see bytes within
// grace, then every byte buys 1/rate s of time, with at most stall banked
// ahead (so the average stays above the floor and no pause is longer than
// stall once the grace is used); hard, when set, is the latest any byte may
// come. The deadline is the connection's read deadline, so a stalled read
// ends even though no byte arrives. Before authentication each read also
// asks the admission (pool, budget).
type bodyGuard struct {
	src   io.ReadCloser
	ctx   context.Context
	rc    *http.ResponseController
	adm   *admission
	grace time.Duration
	stall time.Duration
	rate  float64
	hard  time.Time

	mu       sync.Mutex
	started  bool
	eof      bool
	failed   error
	deadline time.Time // when the body is too late
	applied  time.Time // the read deadline last given to the connection
}

// deadlineStep: the connection's deadline is moved only when the body's
// moved by this much (it trails by at most this, never gives more time).
const deadlineStep = 50 * time.Millisecond

func (s *Service) guardBody(w http.ResponseWriter, r *http.Request, adm *admission, start time.Time) *bodyGuard {
	lim := s.cfg.Limits
	g := &bodyGuard{src: r.Body, ctx: r.Context(), rc: http.NewResponseController(w), adm: adm,
		grace: lim.BodyGrace, stall: lim.BodyMaxStall, rate: float64(lim.BodyMinRate)}
	if !streaming(r) {
		g.hard = start.Add(lim.RequestTimeout)
	}
	return g
}

func (g *bodyGuard) Read(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.failed != nil {
		return 0, g.failed
	}
	if g.eof {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if g.adm != nil {
		n, err := g.adm.allow(g.ctx, len(p))
		if err != nil {
			g.failed = err
			return 0, err
		}
		p = p[:n]
	}
	now := time.Now()
	if !g.started {
		g.started = true
		g.deadline = g.capped(now.Add(g.grace))
		g.apply(true)
	}
	n, err := g.src.Read(p)
	if g.adm != nil {
		g.adm.got(n)
	}
	if n > 0 {
		g.extend(time.Now(), n)
	}
	switch {
	case err == io.EOF:
		g.eof = true
		// The server reads on in the background once the body ended (to
		// see the client go); that read must not hit the body's deadline.
		_ = g.rc.SetReadDeadline(time.Time{})
	case err != nil && errors.Is(err, os.ErrDeadlineExceeded):
		err = g.tooSlow()
		g.failed = err
	}
	return n, err
}

func (g *bodyGuard) tooSlow() error {
	if !g.hard.IsZero() && !g.deadline.Before(g.hard) {
		return bus.ErrBodyTooSlow.New("the body was not in within the request time limit")
	}
	return bus.ErrBodyTooSlow.New("the body must start within %s and then arrive at %d bytes/s on average", g.grace, int64(g.rate))
}

func (g *bodyGuard) capped(t time.Time) time.Time {
	if !g.hard.IsZero() && t.After(g.hard) {
		return g.hard
	}
	return t
}

// extend gives n bytes just received their time, at most stall ahead of now.
func (g *bodyGuard) extend(now time.Time, n int) {
	d := g.deadline.Add(time.Duration(float64(n) / g.rate * float64(time.Second)))
	if lim := now.Add(g.stall); d.After(lim) {
		d = lim
	}
	if d.Before(g.deadline) { // still within a grace longer than stall
		d = g.deadline
	}
	g.deadline = g.capped(d)
	g.apply(false)
}

func (g *bodyGuard) apply(force bool) {
	if !force && g.deadline.Sub(g.applied) < deadlineStep {
		return
	}
	if err := g.rc.SetReadDeadline(g.deadline); err == nil {
		g.applied = g.deadline
	}
}

// drainGrace is how long the server may go on reading (and discarding,
// at most 256 KiB) the rest of a body its handler refused without reading
// it, so that the client, still sending, reads the answer instead of a
// connection reset. A body that already missed its deadline gets none.
const drainGrace = time.Second

// finish runs after the handler: the server reads on what is left of an
// unread body (up to 256 KiB) before it closes the connection, which the
// answer said it would (Connection: close, closeIfUnread). A body that
// failed (too slow, broken) stops at once; a refused one gets drainGrace,
// enough for a client that is sending to reach the end of a small body
// and read the coded refusal, too little for a slow one to hold anything.
func (g *bodyGuard) finish() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.eof {
		return
	}
	until := time.Now()
	if g.failed == nil {
		until = until.Add(drainGrace)
	}
	g.failed = bus.ErrBodyTooSlow.New("the request ended before its body")
	_ = g.rc.SetReadDeadline(until)
}

func (g *bodyGuard) Close() error { return g.src.Close() }

// ended reports whether the body was read to its end.
func (g *bodyGuard) ended() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.eof
}
