package main

import (
	"context"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tuyenquang/lgsp/bus/notify"
)

// sseHub keeps one live event subscription (GET /v1/events) per system and
// wakes the worker waiting for a "notified" event of its exchange.
type sseHub struct {
	mu         sync.Mutex
	waiting    map[string]chan struct{} // exchange id → closed when notified
	open       atomic.Int64             // subscriptions whose answer has begun
	reconnects atomic.Int64
}

// startSSE subscribes every system (system i at node i mod len(bases)) until ctx ends and waits (up to 5 s) for
// the subscriptions to be answered.
func startSSE(ctx context.Context, bases []string, systems []system, rt http.RoundTripper) *sseHub {
	h := &sseHub{waiting: map[string]chan struct{}{}}
	var answered sync.WaitGroup
	for i, s := range systems {
		answered.Add(1)
		c := apiClient(nodeOf(bases, i), s, rt, 0) // a stream has no deadline
		go h.follow(ctx, c.Events, s.Code, answered.Done)
	}
	done := make(chan struct{})
	go func() { answered.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	case <-ctx.Done():
	}
	return h
}

// eventsFunc is rest.Client.Events.
type eventsFunc func(ctx context.Context, after int64, fn func(notify.Event) error) error

// follow reads code's stream, resuming after the last event seen when the
// stream ends (the node drops slow subscribers).
func (h *sseHub) follow(ctx context.Context, events eventsFunc, code string, answered func()) {
	var once sync.Once
	var last int64
	for ctx.Err() == nil {
		trace := &httptrace.ClientTrace{GotFirstResponseByte: func() {
			h.open.Add(1)
			once.Do(answered)
		}}
		_ = events(httptrace.WithClientTrace(ctx, trace), last, func(e notify.Event) error {
			last = e.ID
			if e.Kind == "notified" && e.Recipient == code {
				h.deliver(e.ExchangeID)
			}
			return nil
		})
		if ctx.Err() != nil {
			return
		}
		h.reconnects.Add(1)
		time.Sleep(100 * time.Millisecond)
	}
}

func (h *sseHub) subscribed() int64 { return h.open.Load() }

// expect returns a channel closed when id is notified (nil for a nil hub).
func (h *sseHub) expect(id string) <-chan struct{} {
	if h == nil {
		return nil
	}
	ch := make(chan struct{})
	h.mu.Lock()
	h.waiting[id] = ch
	h.mu.Unlock()
	return ch
}

func (h *sseHub) forget(id string) {
	if h == nil || id == "" {
		return
	}
	h.mu.Lock()
	delete(h.waiting, id)
	h.mu.Unlock()
}

func (h *sseHub) deliver(id string) {
	h.mu.Lock()
	if ch, ok := h.waiting[id]; ok {
		close(ch)
		delete(h.waiting, id)
	}
	h.mu.Unlock()
}
