package bus

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// RetryPolicy is the one retry policy shared by every outbound delivery
// (the delivery engine, bus/delivery, for every kind) and by the few
// synchronous calls that repeat an attempt (Retry). Zero fields take the
// defaults of DefaultRetry.
type RetryPolicy struct {
	// Initial is the wait after the first failed attempt; each next wait
	// doubles.
	Initial time.Duration `yaml:"initial" json:"initial"`
	// MaxInterval caps one wait.
	MaxInterval time.Duration `yaml:"max_interval" json:"max_interval"`
	// MaxElapsed ends the retries this long after the first attempt: the
	// item becomes a dead letter.
	MaxElapsed time.Duration `yaml:"max_elapsed" json:"max_elapsed"`
	// MaxAttempts ends the retries after this many attempts.
	MaxAttempts int `yaml:"max_attempts" json:"max_attempts"`
	// Jitter spreads each wait by ± this fraction (0.2 = ±20 %), so that
	// items that failed together do not retry together. Zero is 0.2;
	// negative is none.
	Jitter float64 `yaml:"jitter" json:"jitter"`
}

// DefaultRetry is used where a route or config says nothing: waits double
// from 2 s to 5 min, so 24 h (MaxElapsed, about 290 attempts) is the limit
// that ends an unreachable destination's retries, not MaxAttempts.
var DefaultRetry = RetryPolicy{Initial: 2 * time.Second, MaxInterval: 5 * time.Minute, MaxElapsed: 24 * time.Hour, MaxAttempts: 300, Jitter: 0.2}

// WithDefaults fills zero fields from DefaultRetry.
func (p RetryPolicy) WithDefaults() RetryPolicy {
	if p.Initial <= 0 {
		p.Initial = DefaultRetry.Initial
	}
	if p.MaxInterval <= 0 {
		p.MaxInterval = DefaultRetry.MaxInterval
	}
	if p.MaxElapsed <= 0 {
		p.MaxElapsed = DefaultRetry.MaxElapsed
	}
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultRetry.MaxAttempts
	}
	if p.Jitter == 0 {
		p.Jitter = DefaultRetry.Jitter
	}
	return p
}

// Backoff returns the wait before attempt n (1-based: the wait after the
// first failure is Backoff(1)), exponential with ±Jitter, capped at
// MaxInterval.
func (p RetryPolicy) Backoff(n int) time.Duration {
	p = p.WithDefaults()
	d := p.Initial
	for i := 1; i < n && d < p.MaxInterval; i++ {
		d *= 2
	}
	if d > p.MaxInterval {
		d = p.MaxInterval
	}
	if p.Jitter <= 0 {
		return d
	}
	j := min(p.Jitter, 1)
	return time.Duration(float64(d) * (1 - j + 2*j*rand.Float64()))
}

// GiveUp reports whether no further attempt should be made after attempts
// failed attempts, the first of which started at first.
func (p RetryPolicy) GiveUp(attempts int, first, now time.Time) bool {
	p = p.WithDefaults()
	return attempts >= p.MaxAttempts || now.Sub(first) >= p.MaxElapsed
}

// Sleep waits d or until ctx is done; it reports whether the full wait elapsed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Retry is the one retry loop of the bus (issue #10): it calls attempt
// with n = 1, 2, … until attempt returns nil, returns an error marked by
// NoRetry, the policy gives up (GiveUp), or ctx ends during a wait (the
// wait ends at once on shutdown). Between attempts it waits
// p.Backoff(n), or the wait an error carries (RetryAfter). It returns
// the last attempt's error, unwrapped from NoRetry and RetryAfter.
//
// Deliveries that must survive a restart do not use Retry: they are
// outbox items, retried by the delivery engine with the same policy.
func Retry(ctx context.Context, p RetryPolicy, attempt func(n int) error) error {
	first := time.Now()
	for n := 1; ; n++ {
		err := attempt(n)
		if err == nil {
			return nil
		}
		var stop noRetry
		if errors.As(err, &stop) {
			return stop.error
		}
		wait := p.Backoff(n)
		var ra retryAfter
		if errors.As(err, &ra) {
			wait, err = ra.d, ra.error
		}
		if p.GiveUp(n, first, time.Now()) || !Sleep(ctx, wait) {
			return err
		}
	}
}

type noRetry struct{ error }

func (e noRetry) Unwrap() error { return e.error }

// NoRetry marks err as final for Retry: no further attempt is made.
func NoRetry(err error) error {
	if err == nil {
		return nil
	}
	return noRetry{err}
}

type retryAfter struct {
	error
	d time.Duration
}

func (e retryAfter) Unwrap() error { return e.error }

// RetryAfter asks Retry to wait d (a server's Retry-After) before the
// next attempt instead of the policy's backoff.
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return retryAfter{err, d}
}
