package activity

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/bus/vault"
)

// Store is what the log needs of the store.
type Store interface {
	store.ActivityStore
	store.PlatformKeyStore
	GetSystem(ctx context.Context, code string) (store.System, error)
	EventsAfter(ctx context.Context, after int64, limit int) ([]store.Event, error)
}

// Options configure a Log.
type Options struct {
	Store Store
	Vault *vault.Vault
	Node  string
	// CheckpointEvery entries and CheckpointInterval bound how much of the
	// chain is not yet covered by a signed checkpoint.
	CheckpointEvery    int
	CheckpointInterval time.Duration
	// Buffer bounds the entries Record leaves for the writer. When it is
	// full (the database is down) Record counts the entries it cannot
	// keep, and the writer records that count as an "activity.dropped"
	// entry: the gap is itself in the log, and Record never waits. Commit
	// refuses once twice as many entries wait.
	Buffer int
	// Settle is how old a ledger event must be before the writer copies it:
	// on MariaDB a transaction that commits late may make a lower event id
	// visible after a higher one.
	Settle time.Duration
	// OnError reports failures of the writer (logged by the service).
	OnError func(error)
	Now     func() time.Time
	// CommitWait bounds how long Commit waits for its entry to be written
	// (default 10s).
	CommitWait time.Duration
}

// Log is one node's activity log writer. Record is safe for concurrent
// use; Run is the one writer.
type Log struct {
	o       Options
	mu      sync.Mutex
	buf     []store.ActivityEntry
	waiters []chan error // Commit callers whose entries are in buf
	dropped int64
	wake    chan struct{}

	// Writer state, owned by flush (wmu).
	wmu     sync.Mutex
	started bool
	seq     int64
	prev    string
	since   int
	lastCP  time.Time
	cursor  int64 // last ledger event id recorded
	key     *nodeKey
	units   map[string]string
}

// New returns a log for o.Node; nothing is read until the first flush.
func New(o Options) *Log {
	if o.CheckpointEvery <= 0 {
		o.CheckpointEvery = 1000
	}
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = time.Minute
	}
	if o.Buffer <= 0 {
		o.Buffer = 10000
	}
	if o.Settle <= 0 {
		o.Settle = 2 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.OnError == nil {
		o.OnError = func(error) {}
	}
	if o.CommitWait <= 0 {
		o.CommitWait = 10 * time.Second
	}
	return &Log{o: o, wake: make(chan struct{}, 1), units: map[string]string{}}
}

// Entry is what a caller records; the log fills Node, Seq, At (if zero),
// Unit (from SystemCode) and the hashes.
type Entry = store.ActivityEntry

// Outcome codes.
const OK = "ok"

// Record adds an entry without waiting: the writer appends it within a
// flush, and it is lost if the node dies before (a bounded buffer; when it
// is full the entry is counted as dropped). It is for what is not
// acknowledged to anyone (refused requests). A nil Log records nothing
// (the log is off).
func (l *Log) Record(_ context.Context, e Entry) {
	if l == nil {
		return
	}
	l.prepare(&e)
	l.mu.Lock()
	if len(l.buf) >= l.o.Buffer {
		l.dropped++
	} else {
		l.buf = append(l.buf, e)
	}
	l.mu.Unlock()
	l.poke()
}

// Commit adds an entry and returns once it is in the database (nil), or
// with the error of the write, or when ctx ends or Options.CommitWait
// passes. Callers commit before they acknowledge what the entry records
// (an admin action, a service call, a gateway transfer), so that a node
// killed at any moment never loses an acknowledged entry. Concurrent
// commits share one transaction (the writer appends whatever waits), so
// the cost is one commit per batch, not per entry. An entry whose write
// failed stays buffered and is written later; its caller was told it is
// not. Commit entries may exceed Options.Buffer (each holds up its
// caller), up to twice it, past which Commit refuses at once. A nil Log
// commits nothing and returns nil.
func (l *Log) Commit(ctx context.Context, e Entry) error {
	if l == nil {
		return nil
	}
	l.prepare(&e)
	done := make(chan error, 1)
	l.mu.Lock()
	if len(l.buf) >= 2*l.o.Buffer {
		// The database has been refusing for long: do not grow further.
		l.mu.Unlock()
		return fmt.Errorf("the activity log has %d entries waiting for the database", 2*l.o.Buffer)
	}
	l.buf = append(l.buf, e)
	l.waiters = append(l.waiters, done)
	l.mu.Unlock()
	l.poke()
	ctx, cancel := context.WithTimeout(ctx, l.o.CommitWait)
	defer cancel()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("the activity log did not write the entry in time: %w", ctx.Err())
	}
}

func (l *Log) prepare(e *Entry) {
	if e.At.IsZero() {
		e.At = l.o.Now()
	}
	if e.Outcome == "" {
		e.Outcome = OK
	}
}

func (l *Log) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Run writes buffered entries and copies the node's ledger events until
// ctx ends, then flushes what is left and signs a last checkpoint.
func (l *Log) Run(ctx context.Context) {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			// The node stops: requests have drained, so every event it
			// wrote is committed and can be copied without settling.
			if err := l.tailLedger(fctx, 0); err != nil {
				l.o.OnError(err)
			}
			if err := l.Flush(fctx); err != nil {
				l.o.OnError(err)
			}
			if err := l.Checkpoint(fctx); err != nil {
				l.o.OnError(err)
			}
			cancel()
			return
		case <-l.wake:
		case <-tick.C:
			if err := l.tailLedger(ctx, l.o.Settle); err != nil && ctx.Err() == nil {
				l.o.OnError(err)
			}
		}
		if err := l.Flush(ctx); err != nil && ctx.Err() == nil {
			l.o.OnError(err)
		}
	}
}

// start reads the head of the node's chain and its key once.
func (l *Log) start(ctx context.Context) error {
	if l.started {
		return nil
	}
	last, found, maxEv, err := l.o.Store.ActivityHead(ctx, l.o.Node)
	if err != nil {
		return err
	}
	if found {
		l.seq, l.prev = last.Seq, last.Hash
	}
	l.cursor = maxEv
	if l.key, err = loadKey(ctx, l.o.Store, l.o.Vault, l.o.Node); err != nil {
		return err
	}
	l.lastCP = l.o.Now()
	l.started = true
	return nil
}

// Flush appends every buffered entry now, chained, in one transaction,
// tells the Commit callers of those entries how it went, and signs a
// checkpoint when one is due.
func (l *Log) Flush(ctx context.Context) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.start(ctx); err != nil {
		l.mu.Lock()
		waiters := l.waiters
		l.waiters = nil
		l.mu.Unlock()
		// The entries stay buffered; their callers are told now.
		tell(waiters, err)
		return err
	}
	l.mu.Lock()
	batch, waiters := l.buf, l.waiters
	l.buf, l.waiters = nil, nil
	if l.dropped > 0 {
		batch = append(batch, Entry{At: l.o.Now(), Kind: "activity.dropped", Actor: "lgsp", Outcome: "dropped", Detail: fmt.Sprintf("count=%d", l.dropped)})
		l.dropped = 0
	}
	l.mu.Unlock()
	if len(batch) > 0 {
		if err := l.append(ctx, batch); err != nil {
			// Put them back: the chain state did not move.
			l.mu.Lock()
			l.buf = append(batch, l.buf...)
			l.mu.Unlock()
			tell(waiters, err)
			return err
		}
	}
	tell(waiters, nil)
	if l.since >= l.o.CheckpointEvery || (l.since > 0 && l.o.Now().Sub(l.lastCP) >= l.o.CheckpointInterval) {
		return l.checkpoint(ctx)
	}
	return nil
}

func tell(waiters []chan error, err error) {
	for _, w := range waiters {
		w <- err
	}
}

func (l *Log) append(ctx context.Context, batch []store.ActivityEntry) error {
	seq, prev := l.seq, l.prev
	for i := range batch {
		e := &batch[i]
		if e.Unit == "" && e.SystemCode != "" {
			e.Unit = l.unit(ctx, e.SystemCode)
		}
		seq++
		e.Node, e.Seq, e.PrevHash = l.o.Node, seq, prev
		normalise(e)
		e.Hash = Hash(*e)
		prev = e.Hash
	}
	if err := l.o.Store.AppendActivity(ctx, batch); err != nil {
		return fmt.Errorf("writing the activity log: %w", err)
	}
	l.seq, l.prev = seq, prev
	l.since += len(batch)
	for _, e := range batch {
		l.cursor = max(l.cursor, e.EventID)
	}
	return nil
}

// unit returns the unit of a system, cached (units rarely change; an entry
// keeps the unit the system had when it was written).
func (l *Log) unit(ctx context.Context, code string) string {
	if u, ok := l.units[code]; ok {
		return u
	}
	sys, err := l.o.Store.GetSystem(ctx, code)
	if err != nil {
		return ""
	}
	l.units[code] = sys.Unit
	return sys.Unit
}

// Checkpoint flushes and signs the head of the chain now.
func (l *Log) Checkpoint(ctx context.Context) error {
	if err := l.Flush(ctx); err != nil {
		return err
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.since == 0 {
		return nil
	}
	return l.checkpoint(ctx)
}

func (l *Log) checkpoint(ctx context.Context) error {
	sig := ed25519.Sign(l.key.priv, checkpointMessage(l.o.Node, l.seq, l.prev))
	if err := l.o.Store.AddCheckpoint(ctx, store.ActivityCheckpoint{Node: l.o.Node, Seq: l.seq, Hash: l.prev, At: l.o.Now(), KeyID: l.key.id, Sig: sig}); err != nil {
		return err
	}
	l.since, l.lastCP = 0, l.o.Now()
	return nil
}

// tailLedger records the ledger events this node wrote since the last one
// recorded (exchange state changes), in order, once they have settled.
func (l *Log) tailLedger(ctx context.Context, settle time.Duration) error {
	l.wmu.Lock()
	if err := l.start(ctx); err != nil {
		l.wmu.Unlock()
		return err
	}
	cursor := l.cursor
	l.wmu.Unlock()
	settled := l.o.Now().Add(-settle)
	for {
		evs, err := l.o.Store.EventsAfter(ctx, cursor, 500)
		if err != nil {
			return err
		}
		var batch []store.ActivityEntry
		stop := false
		for _, ev := range evs {
			if ev.At.After(settled) {
				stop = true
				break
			}
			cursor = ev.ID
			if ev.Node == l.o.Node {
				batch = append(batch, FromEvent(ev))
			}
		}
		l.wmu.Lock()
		var werr error
		if len(batch) > 0 {
			werr = l.append(ctx, batch)
		}
		if werr == nil {
			l.cursor = max(l.cursor, cursor)
		}
		l.wmu.Unlock()
		if werr != nil {
			return werr
		}
		if stop || len(evs) < 500 {
			return nil
		}
	}
}

// failing are the ledger kinds that record something going wrong.
var failing = map[string]bool{"rejected": true, "failed": true, "expired": true, "webhook_failed": true, "dead": true}

// FromEvent turns a ledger event into an entry. The entry belongs to the
// system that acted, or to the recipient concerned when the platform
// acted. The event's free-text Detail is not copied: it may quote what a
// destination said.
func FromEvent(ev store.Event) Entry {
	sys := ev.Actor
	if sys == "" || sys == "lgsp" || strings.Contains(sys, " ") {
		sys = ev.Recipient
	}
	out := OK
	if failing[ev.Kind] {
		out = ev.Kind
	}
	detail := ""
	if ev.Recipient != "" {
		detail = "recipient=" + ev.Recipient
	}
	return Entry{At: ev.At, Kind: "exchange." + ev.Kind, Actor: ev.Actor, SystemCode: sys, Subject: ev.ExchangeID, Outcome: out, Detail: detail, EventID: ev.ID}
}
