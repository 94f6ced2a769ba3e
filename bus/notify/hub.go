package notify

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tuyenquang/lgsp/bus/store"
)

// Event is a notification as subscribers receive it.
type Event struct {
	ID         int64     `json:"id"`
	ExchangeID string    `json:"exchange_id"`
	Kind       string    `json:"kind"`
	At         time.Time `json:"at"`
	Actor      string    `json:"actor,omitempty"`
	Recipient  string    `json:"recipient,omitempty"`
	Source     string    `json:"source,omitempty"`

	// The event's wire forms, encoded once when it is published and shared
	// by every stream it reaches (issue #13: one JSON encoding per publish,
	// not one per subscriber). Nil for an event not built by Publish.
	js  []byte
	sse []byte
}

// JSON returns the event's JSON encoding (a WebSocket message). Do not
// change the bytes: they are shared.
func (e *Event) JSON() []byte {
	if e.js != nil {
		return e.js
	}
	b, _ := json.Marshal(e)
	return b
}

// SSE returns the event as one Server-Sent Events frame: "id: <ledger id>",
// "event: <kind>", "data: <json>" and the blank line that ends it. Do not
// change the bytes: they are shared.
func (e *Event) SSE() []byte {
	if e.sse != nil {
		return e.sse
	}
	return sseFrame(e, e.JSON())
}

func sseFrame(e *Event, js []byte) []byte {
	b := make([]byte, 0, len(js)+len(e.Kind)+40)
	b = append(b, "id: "...)
	b = strconv.AppendInt(b, e.ID, 10)
	b = append(b, "\nevent: "...)
	b = append(b, e.Kind...)
	b = append(b, "\ndata: "...)
	b = append(b, js...)
	return append(b, "\n\n"...)
}

// encode fills the wire forms of an event about to be shared.
func (e *Event) encode() {
	e.js, _ = json.Marshal(e)
	e.sse = sseFrame(e, e.js)
}

// Audience returns the systems an event concerns: the recipient it names
// and the exchange's source (carried in the event detail).
func Audience(e store.Event) (recipient, source string) {
	var d struct {
		Source string `json:"source"`
	}
	if e.Detail != "" && e.Detail[0] == '{' {
		_ = json.Unmarshal([]byte(e.Detail), &d)
	}
	return e.Recipient, d.Source
}

// FromStore converts a ledger event to a notification.
func FromStore(e store.Event) Event {
	_, src := Audience(e)
	return Event{ID: e.ID, ExchangeID: e.ExchangeID, Kind: e.Kind, At: e.At, Actor: e.Actor, Recipient: e.Recipient, Source: src}
}

// Subscription receives the events of one system. The events are shared by
// every subscriber they reach: read them, never change them. (Pointers keep
// an idle subscription small: its buffer of 256 slots is 2 KiB, not the
// 28 KiB of 256 Event values — issue #13, 10,000 live subscribers.)
type Subscription struct {
	C       <-chan *Event
	c       chan *Event
	code    string
	hub     *Hub
	once    sync.Once
	Dropped chan struct{} // closed when the hub dropped a slow subscriber
}

// Close unsubscribes.
func (s *Subscription) Close() { s.hub.remove(s) }

// Hub fans events out to live subscribers, by system code.
type Hub struct {
	mu     sync.RWMutex
	subs   map[string]map[*Subscription]struct{}
	buffer int
	max    int
	n      int
	log    logrus.FieldLogger
}

// NewHub returns a hub whose subscribers buffer up to buffer events and
// that holds at most max subscribers.
func NewHub(buffer, max int, log logrus.FieldLogger) *Hub {
	if buffer <= 0 {
		buffer = 256
	}
	if max <= 0 {
		max = 10000
	}
	return &Hub{subs: map[string]map[*Subscription]struct{}{}, buffer: buffer, max: max, log: log}
}

// Subscribe registers a subscriber for system code; ok is false when the
// hub is full.
func (h *Hub) Subscribe(code string) (*Subscription, bool) {
	c := make(chan *Event, h.buffer)
	s := &Subscription{C: c, c: c, code: code, hub: h, Dropped: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n >= h.max {
		return nil, false
	}
	m := h.subs[code]
	if m == nil {
		m = map[*Subscription]struct{}{}
		h.subs[code] = m
	}
	m[s] = struct{}{}
	h.n++
	return s, true
}

func (h *Hub) remove(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if m := h.subs[s.code]; m != nil {
		if _, ok := m[s]; ok {
			delete(m, s)
			h.n--
			if len(m) == 0 {
				delete(h.subs, s.code)
			}
		}
	}
}

// Count returns the number of live subscribers.
func (h *Hub) Count() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.n
}

// Publish delivers a ledger event to the subscribers it concerns. It never
// blocks: a subscriber whose buffer is full is dropped.
func (h *Hub) Publish(e store.Event) {
	rc, src := Audience(e)
	n := FromStore(e)
	n.encode()
	h.send(rc, &n)
	if src != rc {
		h.send(src, &n)
	}
}

func (h *Hub) send(code string, e *Event) {
	if code == "" {
		return
	}
	h.mu.RLock()
	var slow []*Subscription
	for s := range h.subs[code] {
		select {
		case s.c <- e:
		default:
			slow = append(slow, s)
		}
	}
	h.mu.RUnlock()
	for _, s := range slow {
		s.once.Do(func() { close(s.Dropped) })
		s.Close()
	}
}

// Feed tails the ledger and publishes new events to a hub.
type Feed struct {
	Store store.LedgerStore
	Hub   *Hub
	Log   logrus.FieldLogger
	// Poll is how often other nodes' events are looked for while events
	// come (default 100ms); after reads that find nothing new the interval
	// doubles up to IdlePoll (default 500ms), and any new event brings it
	// back to Poll.
	Poll     time.Duration
	IdlePoll time.Duration
	// Lookback turns on the tracking of skipped ids: on MariaDB/MySQL
	// transactions may commit ids out of order, so an id below the newest
	// seen can appear later; set it there (e.g. 512); SQLite commits one
	// writer at a time and needs 0. Each id the feed saw skipped is asked
	// for again (by id, with the tail) until it appears, or until it is both
	// older than GapWait and more than Lookback ids behind the newest seen
	// (a rolled-back insert leaves an id that never appears). At most
	// maxGaps ids are tracked, the oldest given up first.
	Lookback int64
	// GapWait is how long a skipped id is waited for at least (default 30s).
	GapWait time.Duration
	wake    chan struct{}
	now     func() time.Time
}

// maxGaps bounds the skipped ids a feed waits for (the query's id list).
const maxGaps = 1000

// NewFeed returns a feed; call Run.
func NewFeed(st store.LedgerStore, hub *Hub, log logrus.FieldLogger) *Feed {
	return &Feed{Store: st, Hub: hub, Log: log, Poll: 100 * time.Millisecond, IdlePoll: 500 * time.Millisecond, GapWait: 30 * time.Second, wake: make(chan struct{}, 1)}
}

// Wake tells the feed that events were just written.
func (f *Feed) Wake() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// gap is an id the feed saw skipped, and when.
type gap struct {
	id    int64
	since time.Time
}

// Run tails the ledger from its current end until ctx is done.
func (f *Feed) Run(ctx context.Context) {
	now := f.now
	if now == nil {
		now = time.Now
	}
	last, err := f.Store.LastEventID(ctx)
	if err != nil && ctx.Err() == nil {
		f.Log.WithError(err).Error("reading the ledger's last event id")
	}
	seen := newSeenSet(int(4*f.Lookback) + 64)
	// The first read goes Lookback ids back, for transactions that took
	// their ids before this node started and commit after.
	from := max(last-f.Lookback, 0)
	var gaps []gap // ascending ids, all ≤ last
	ids := make([]int64, 0, maxGaps)
	interval := f.Poll
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		case <-t.C:
		}
		found := false
		for ctx.Err() == nil {
			ids = ids[:0]
			for _, g := range gaps {
				ids = append(ids, g.id)
			}
			evs, err := f.Store.EventsAfterOrIn(ctx, from, ids, 1000)
			if err != nil {
				if ctx.Err() == nil {
					f.Log.WithError(err).Error("tailing the ledger")
				}
				break
			}
			fresh := 0
			prev := max(from, last)
			newest := prev
			for _, e := range evs {
				if e.ID > newest {
					newest = e.ID
				}
				if seen.has(e.ID) {
					continue
				}
				seen.add(e.ID)
				fresh++
				f.Hub.Publish(e)
			}
			if f.Lookback > 0 {
				gaps = updateGaps(gaps, evs, prev, newest, newest, f.Lookback, f.GapWait, now())
			}
			last, from = newest, newest
			found = found || fresh > 0
			if len(evs) < 1000 || fresh == 0 {
				break
			}
		}
		if found {
			interval = f.Poll
		} else {
			interval = min(2*interval, max(f.IdlePoll, f.Poll))
		}
		t.Reset(interval)
	}
}

// updateGaps returns the skipped ids still waited for after a read that
// returned evs (ascending): those of gaps not returned and not given up,
// then every id in (prev, newest] the read did not return.
func updateGaps(gaps []gap, evs []store.Event, prev, newest, last, lookback int64, wait time.Duration, at time.Time) []gap {
	got := make(map[int64]struct{}, len(evs))
	for _, e := range evs {
		got[e.ID] = struct{}{}
	}
	out := gaps[:0]
	for _, g := range gaps {
		if _, ok := got[g.id]; ok {
			continue
		}
		if at.Sub(g.since) > wait && last-g.id > lookback {
			continue
		}
		out = append(out, g)
	}
	// New skips: ids above prev that the read passed over. A jump larger
	// than maxGaps keeps only its top ids.
	lo := prev + 1
	if newest-lo+1 > maxGaps {
		lo = newest - maxGaps + 1
	}
	for id := lo; id < newest; id++ {
		if _, ok := got[id]; !ok {
			out = append(out, gap{id: id, since: at})
		}
	}
	if len(out) > maxGaps {
		out = append(out[:0], out[len(out)-maxGaps:]...)
	}
	return out
}

// seenSet remembers the last n event ids published.
type seenSet struct {
	ring []int64
	m    map[int64]struct{}
	i    int
}

func newSeenSet(n int) *seenSet {
	return &seenSet{ring: make([]int64, n), m: make(map[int64]struct{}, n)}
}

func (s *seenSet) has(id int64) bool { _, ok := s.m[id]; return ok }

func (s *seenSet) add(id int64) {
	if old := s.ring[s.i]; old != 0 {
		delete(s.m, old)
	}
	s.ring[s.i] = id
	s.m[id] = struct{}{}
	s.i = (s.i + 1) % len(s.ring)
}
