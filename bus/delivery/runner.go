package delivery

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/metrics"
	"github.com/tuyenquang/lgsp/bus/store"
)

// Runner defaults (zero fields of Runner take them).
const (
	DefaultLease          = 30 * time.Second
	DefaultMaxHeld        = 256
	DefaultSlots          = 4
	DefaultQueue          = 16
	DefaultBatch          = 64
	DefaultPoll           = time.Second
	DefaultGrace          = 5 * time.Second
	DefaultAttemptTimeout = 2 * time.Minute
)

// Runner moves the outbox items of every registered kind (see the package
// comment). Fill the fields, then call Run once.
type Runner struct {
	Store store.OutboxStore
	Kinds *Registry
	Node  string
	Log   logrus.FieldLogger
	// Retry is the policy of kinds that do not choose one (Policied).
	Retry bus.RetryPolicy
	// Lease is how long a claim holds an item without a heartbeat; the
	// runner renews its leases every Lease/3 while it holds them.
	Lease time.Duration
	// MaxHeld bounds the items held at once (running and waiting).
	MaxHeld int
	// Slots is the number of deliveries to one target that run at once
	// (kinds may choose theirs, Slotted); Queue bounds the items waiting
	// for a slot of one target. A target with Slots+Queue items held is
	// skipped by the next claims.
	Slots, Queue int
	// Batch bounds one claim; Poll is the wait between claims when idle.
	Batch int
	Poll  time.Duration
	// Grace is how long running deliveries may still finish after Run's
	// context ends; what is still running then is cancelled and released.
	Grace          time.Duration
	AttemptTimeout time.Duration
	Now            func() time.Time

	once    sync.Once
	wake    chan struct{}
	mu      sync.Mutex
	targets map[store.OutboxTarget]*target
	tokens  map[string]int
	held    int
	wg      sync.WaitGroup
}

type target struct {
	sem  chan struct{}
	held int
}

func (r *Runner) init() {
	r.once.Do(func() {
		r.wake = make(chan struct{}, 1)
		r.targets = map[store.OutboxTarget]*target{}
		r.tokens = map[string]int{}
		if r.Kinds == nil {
			r.Kinds = NewRegistry()
		}
		if r.Log == nil {
			l := logrus.New()
			l.SetLevel(logrus.WarnLevel)
			r.Log = l
		}
		if r.Now == nil {
			r.Now = time.Now
		}
		def := func(p *int, v int) {
			if *p <= 0 {
				*p = v
			}
		}
		defd := func(p *time.Duration, v time.Duration) {
			if *p <= 0 {
				*p = v
			}
		}
		defd(&r.Lease, DefaultLease)
		defd(&r.Poll, DefaultPoll)
		defd(&r.Grace, DefaultGrace)
		defd(&r.AttemptTimeout, DefaultAttemptTimeout)
		def(&r.MaxHeld, DefaultMaxHeld)
		def(&r.Slots, DefaultSlots)
		def(&r.Queue, DefaultQueue)
		def(&r.Batch, DefaultBatch)
	})
}

// Wake asks for a claim now (new items were enqueued).
func (r *Runner) Wake() {
	r.init()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Held reports how many items the runner holds (running and waiting).
func (r *Runner) Held() int {
	r.init()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.held
}

// Run delivers until ctx ends, then shuts down in order: no new claims,
// waiting items released at once, running ones given Grace to finish and
// then cancelled and released. It returns when nothing is held.
func (r *Runner) Run(ctx context.Context) {
	r.init()
	bg := context.WithoutCancel(ctx)
	if n, err := r.Store.ReleaseNodeLeases(bg, r.Node); err != nil {
		r.Log.WithError(err).Error("releasing this node's old delivery leases")
	} else if n > 0 {
		r.Log.WithField("items", n).Info("released the delivery leases of this node's previous run")
	}
	hard, hardCancel := context.WithCancel(bg)
	defer hardCancel()
	beatDone := make(chan struct{})
	beatStop := make(chan struct{})
	go r.heartbeat(bg, beatStop, beatDone)
	t := time.NewTicker(r.Poll)
	defer t.Stop()
	for ctx.Err() == nil {
		if r.claim(ctx, hard) {
			continue // a full batch: more may be due
		}
		select {
		case <-ctx.Done():
		case <-r.wake:
		case <-t.C:
		}
	}
	grace := time.AfterFunc(r.Grace, hardCancel)
	r.wg.Wait()
	grace.Stop()
	close(beatStop)
	<-beatDone
}

// claim takes what the free slots allow and starts it; it reports whether
// the claim was full.
func (r *Runner) claim(ctx, hard context.Context) bool {
	r.mu.Lock()
	free := min(r.MaxHeld-r.held, r.Batch)
	var skip []store.OutboxTarget
	for k, t := range r.targets {
		if t.held >= cap(t.sem)+r.Queue {
			skip = append(skip, k)
		}
	}
	r.mu.Unlock()
	if free <= 0 {
		return false
	}
	items, err := r.Store.ClaimDeliveries(ctx, store.Claim{Now: r.Now().UTC(), Limit: free, Node: r.Node, Lease: r.Lease, Skip: skip})
	if err != nil {
		if ctx.Err() == nil {
			r.Log.WithError(err).Error("claiming deliveries")
		}
		return false
	}
	for _, it := range items {
		t, ok := r.take(it)
		if !ok { // its target filled up meanwhile: back to the store
			r.release(it)
			continue
		}
		r.wg.Add(1)
		go r.run(ctx, hard, it, t)
	}
	return len(items) == free
}

func (r *Runner) slots(kind string) int {
	if k, ok := r.Kinds.Lookup(kind); ok {
		if s, ok := k.(Slotted); ok && s.Slots() > 0 {
			return s.Slots()
		}
	}
	return r.Slots
}

// take counts it against its target, unless the target is full.
func (r *Runner) take(it store.OutboxItem) (*target, bool) {
	key := store.OutboxTarget{Kind: it.Kind, Target: it.Target}
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.targets[key]
	if t == nil {
		t = &target{sem: make(chan struct{}, r.slots(it.Kind))}
		r.targets[key] = t
	}
	if t.held >= cap(t.sem)+r.Queue {
		return nil, false
	}
	t.held++
	r.held++
	r.tokens[it.LeaseToken]++
	return t, true
}

func (r *Runner) drop(it store.OutboxItem, t *target) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t.held--
	r.held--
	if t.held == 0 {
		delete(r.targets, store.OutboxTarget{Kind: it.Kind, Target: it.Target})
	}
	if r.tokens[it.LeaseToken]--; r.tokens[it.LeaseToken] <= 0 {
		delete(r.tokens, it.LeaseToken)
	}
}

// run waits for a slot of the item's target, then makes one attempt.
func (r *Runner) run(ctx, hard context.Context, it store.OutboxItem, t *target) {
	defer r.wg.Done()
	defer r.drop(it, t)
	select {
	case t.sem <- struct{}{}:
	case <-ctx.Done():
		r.release(it)
		return
	}
	defer func() { <-t.sem }()
	if ctx.Err() != nil {
		r.release(it)
		return
	}
	r.attempt(hard, it)
}

// heartbeat renews the leases of every claim still held.
func (r *Runner) heartbeat(ctx context.Context, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(r.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		r.mu.Lock()
		tokens := make([]string, 0, len(r.tokens))
		for tok := range r.tokens {
			tokens = append(tokens, tok)
		}
		r.mu.Unlock()
		until := r.Now().UTC().Add(r.Lease)
		// Renewed several at once: one at a time, a slow database makes the
		// round outlast the lease, and the items are taken by another node
		// while they are still being delivered here.
		sem := make(chan struct{}, heartbeatParallel)
		var wg sync.WaitGroup
		for _, tok := range tokens {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				if _, err := r.Store.ExtendLease(ctx, tok, until); err != nil {
					r.Log.WithError(err).Warn("renewing a delivery lease")
				}
			}()
		}
		wg.Wait()
	}
}

// heartbeatParallel bounds the lease renewals in flight at once.
const heartbeatParallel = 8

func (r *Runner) release(it store.OutboxItem) {
	err := r.Store.ReleaseOutbox(context.Background(), it.ID, it.LeaseToken)
	if err != nil && !errors.Is(err, bus.ErrLeaseLost) {
		r.Log.WithError(err).WithField("outbox", it.ID).Warn("releasing a delivery")
	}
}

// attempt delivers it once and records the outcome for the lease holder.
func (r *Runner) attempt(hard context.Context, it store.OutboxItem) {
	kind, ok := r.Kinds.Lookup(it.Kind)
	var err error
	if !ok {
		err = fmt.Errorf("no delivery kind %q is registered on node %s", it.Kind, r.Node)
	} else {
		timeout := r.AttemptTimeout
		if tk, ok := kind.(Timed); ok && tk.AttemptTimeout() > 0 {
			timeout = tk.AttemptTimeout()
		}
		dctx, cancel := context.WithTimeout(hard, timeout)
		err = safeDeliver(dctx, kind, it)
		cancel()
	}
	if err != nil && hard.Err() != nil {
		r.release(it) // shut down mid-attempt: it does not count
		return
	}
	now := r.Now().UTC()
	if it.FirstAt.IsZero() {
		it.FirstAt = now
	}
	it.Attempts++
	a := store.Attempt{At: now, Node: r.Node}
	status := store.OutboxDone
	if err != nil && !errors.Is(err, ErrNothing) {
		a.Error = short(err.Error())
		it.LastError = a.Error
		policy := r.Retry
		if p, ok := kind.(Policied); ok {
			policy = p.RetryPolicy(it)
		}
		if IsPermanent(err) || policy.GiveUp(it.Attempts, it.FirstAt, now) {
			status = store.OutboxDead
		} else {
			status = store.OutboxPending
			it.DueAt = now.Add(policy.Backoff(it.Attempts))
		}
	} else {
		it.LastError = ""
	}
	it.Status = status
	it.History = append(it.History, a)
	if ferr := r.Store.FinishOutbox(context.WithoutCancel(hard), it); ferr != nil {
		r.Log.WithError(ferr).WithFields(logrus.Fields{"outbox": it.ID, "kind": it.Kind}).Warn("delivery outcome not recorded")
		return
	}
	r.log(it, status, err)
	if !errors.Is(err, ErrNothing) {
		metrics.Delivery(it.Kind, it.Target, map[string]string{store.OutboxDone: "ok", store.OutboxDead: "dead", store.OutboxPending: "retry"}[status])
	}
	if rec, ok := kind.(Recorder); ok {
		rec.Record(context.WithoutCancel(hard), it, status, err)
	}
}

func (r *Runner) log(it store.OutboxItem, status string, err error) {
	if status == store.OutboxDone {
		return
	}
	l := r.Log.WithError(err).WithFields(logrus.Fields{"outbox": it.ID, "kind": it.Kind, "target": it.Target, "exchange": it.ExchangeID, "attempts": it.Attempts})
	if status == store.OutboxDead {
		l.Error("delivery failed for good: dead letter")
		return
	}
	l.WithField("next", it.DueAt).Warn("delivery failed; will retry")
}

// safeDeliver turns a panic of the kind into that item's (permanent)
// failure: the node stays up, the operator sees the item dead.
func safeDeliver(ctx context.Context, k Kind, it store.OutboxItem) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = Permanent(fmt.Errorf("delivery kind %s panicked: %s", k.Name(), short(fmt.Sprint(v))))
		}
	}()
	return k.Deliver(ctx, it)
}

func short(s string) string {
	if len(s) > 1000 {
		return s[:1000]
	}
	return s
}
