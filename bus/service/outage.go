package service

import (
	"context"
	"fmt"
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
		Observe: metrics.StoreDuration,
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
