package service

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/metrics"
	"github.com/tuyenquang/lgsp/bus/store"
)

// guardStore puts the circuit of bus/store in front of raw: every store
// call gets a deadline, and while the database is unreachable requests are
// refused at once with 503 system.unavailable and a growing Retry-After.
// The log says once "store down" and once "store back", with counts, and
// "store still down" every 30 s in between — not one line per request.
// When the store is back the sweeper runs at once to finish what the
// outage cut (completions, stray chunks).
func (s *Service) guardStore(raw store.Store) {
	d := s.cfg.Database
	s.sweepNow = make(chan struct{}, 1)
	s.guard = store.Guard(raw, store.GuardOptions{
		CallTimeout: d.CallTimeout, Failures: d.Failures, ProbeEvery: d.ProbeEvery, MaxRetryAfter: d.MaxRetryAfter,
		Observe: metrics.StoreDuration, OnEvents: s.countEvents(raw),
		OnDown: func(cause error) {
			s.log.WithError(cause).WithField("store", raw.Dialect()).Error("store down: requests are refused with 503 system.unavailable and Retry-After until the database answers again")
		},
		OnStill: func(o store.Outage) {
			s.log.WithFields(outageFields(o)).Warn("store still down")
		},
		OnBack: func(o store.Outage) {
			s.log.WithFields(outageFields(o)).Warn("store back: the circuit is closed, requests are served again")
			select {
			case s.sweepNow <- struct{}{}:
			default:
			}
		},
	})
	s.store = s.guard
}

func outageFields(o store.Outage) logrus.Fields {
	return logrus.Fields{"down_for": o.For.Round(time.Millisecond).String(), "since": o.Since.UTC().Format(time.RFC3339), "refused": o.Refused, "background_waits": o.Waited, "failed_probes": o.Probes}
}

// outageProblem is the readiness answer while the circuit is open.
func (s *Service) outageProblem(o store.Outage) error {
	return &bus.Error{Def: bus.ErrUnavailable, RetryAfter: s.guard.RetryAfter(o.For),
		Detail: fmt.Sprintf("store unreachable for %s (since %s); %d requests refused, probing every %s", o.For.Round(time.Second), o.Since.UTC().Format(time.RFC3339), o.Refused, s.cfg.Database.ProbeEvery)}
}

// sweepOnDemand runs the sweeper when the store comes back.
func (s *Service) sweepOnDemand(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.sweepNow:
			s.sweep(ctx)
		}
	}
}

// countEvents feeds lgsp_exchange_events_total from the events the guard
// saw written. The route label is the exchange's route, remembered from
// AcceptExchange's events or read once per exchange from raw (bounded
// cache; an unknown exchange counts as route "none").
func (s *Service) countEvents(raw store.Store) func(ctx context.Context, evs []store.Event) {
	var mu sync.Mutex
	routes := map[string]string{}
	return func(ctx context.Context, evs []store.Event) {
		for _, ev := range evs {
			mu.Lock()
			r, ok := routes[ev.ExchangeID]
			mu.Unlock()
			if !ok && ev.ExchangeID != "" {
				if ex, err := raw.GetExchange(ctx, ev.ExchangeID); err == nil {
					r = ex.Route
					mu.Lock()
					if len(routes) >= 10000 {
						clear(routes)
					}
					if r != "" { // the route is set at F4: ask again until then
						routes[ev.ExchangeID] = r
					}
					mu.Unlock()
				}
			}
			metrics.ExchangeEvent(ev.Kind, r)
		}
	}
}
