package notify

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tuyenquang/lgsp/bus/store"
)

// ledger is a LedgerStore whose events become visible when committed, in
// any order of their ids (as on MySQL); it records the queries' sizes.
type ledger struct {
	mu       sync.Mutex
	visible  map[int64]store.Event
	returned int // events returned by every read together
	reads    chan struct{}
}

func (l *ledger) commit(ids ...int64) {
	l.mu.Lock()
	for _, id := range ids {
		l.visible[id] = store.Event{ID: id, ExchangeID: "x", Kind: "k", Recipient: "R"}
	}
	l.mu.Unlock()
}

func (l *ledger) AddEvents(context.Context, ...store.Event) error       { return nil }
func (l *ledger) Events(context.Context, string) ([]store.Event, error) { return nil, nil }
func (l *ledger) LastEventID(context.Context) (int64, error)            { return 0, nil }
func (l *ledger) EventsAfter(ctx context.Context, after int64, limit int) ([]store.Event, error) {
	return l.EventsAfterOrIn(ctx, after, nil, limit)
}

func (l *ledger) EventsAfterOrIn(_ context.Context, after int64, ids []int64, limit int) ([]store.Event, error) {
	l.mu.Lock()
	var out []store.Event
	for id, e := range l.visible {
		if id > after || slices.Contains(ids, id) {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b store.Event) int { return int(a.ID - b.ID) })
	if len(out) > limit {
		out = out[:limit]
	}
	l.returned += len(out)
	l.mu.Unlock()
	l.reads <- struct{}{}
	return out, nil
}

// TestFeedSkippedIDs: an id committed after a larger one reached the feed
// is still published, once, and the feed does not read again the events it
// has published (it asks for the skipped ids only).
func TestFeedSkippedIDs(t *testing.T) {
	l := &ledger{visible: map[int64]store.Event{}, reads: make(chan struct{})}
	hub := NewHub(64, 10, logrus.New())
	sub, _ := hub.Subscribe("R")
	f := NewFeed(l, hub, logrus.New())
	f.Poll = time.Hour
	f.Lookback = 512
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.Run(ctx)
	read := func() {
		f.Wake()
		<-l.reads
	}
	got := func(want ...int64) {
		t.Helper()
		for _, w := range want {
			select {
			case e := <-sub.C:
				if e.ID != w {
					t.Fatalf("published %d, want %d", e.ID, w)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("event %d not published", w)
			}
		}
		select {
		case e := <-sub.C:
			t.Fatalf("published %d more", e.ID)
		default:
		}
	}
	l.commit(1, 2, 4, 6) // 3 and 5 not committed yet
	read()
	got(1, 2, 4, 6)
	l.commit(5)
	read()
	got(5)
	before := l.returned
	read() // 3 still missing: nothing comes back
	got()
	if l.returned != before {
		t.Fatalf("a read with nothing new returned %d events", l.returned-before)
	}
	l.commit(3, 7)
	read()
	got(3, 7)
}

// TestUpdateGaps: skipped ids are given up only when both older than the
// wait and more than lookback ids behind; their number is bounded.
func TestUpdateGaps(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ev := func(ids ...int64) []store.Event {
		var out []store.Event
		for _, id := range ids {
			out = append(out, store.Event{ID: id})
		}
		return out
	}
	g := updateGaps(nil, ev(1, 3, 6), 0, 6, 6, 2, time.Second, t0)
	if len(g) != 3 || g[0].id != 2 || g[1].id != 4 || g[2].id != 5 {
		t.Fatalf("gaps = %+v, want 2, 4, 5", g)
	}
	g = updateGaps(g, ev(4, 7), 6, 7, 7, 2, time.Second, t0.Add(2*time.Second))
	// 2 is old and 5 behind: given up; 5 is old but only 2 behind: kept.
	if len(g) != 1 || g[0].id != 5 {
		t.Fatalf("gaps = %+v, want 5", g)
	}
	g = updateGaps(g, ev(100000), 7, 100000, 100000, 2, time.Hour, t0)
	if len(g) != maxGaps || g[len(g)-1].id != 99999 {
		t.Fatalf("%d gaps, last %+v; want %d ending at 99999", len(g), g[len(g)-1], maxGaps)
	}
}
