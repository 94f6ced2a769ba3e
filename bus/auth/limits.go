package auth

import (
	"context"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
)

// Defaults of Limits (auth.rate_per_key, auth.burst_per_key,
// auth.lock_failures, auth.lock_window, auth.lock_for).
const (
	DefaultRatePerKey   = 200
	DefaultBurstPerKey  = 400
	DefaultLockFailures = 10
	DefaultLockWindow   = time.Minute
	DefaultLockFor      = 5 * time.Minute
)

// Limits guards access keys (M3): a token bucket per key bounds the
// requests it may make, and a burst of bad signatures locks the key for a
// while, logs an alert and records a "locked" key event.
//
// The state lives in the memory of one node: with several nodes each
// enforces its own bucket (a client may reach n×rate in total) and counts
// the failures it sees; a lock is recorded in the shared audit but not
// shared. Only access keys that exist reach Limits, so its memory is
// bounded by the number of keys; idle entries are dropped.
type Limits struct {
	// Rate is the sustained requests per second of one key and Burst the
	// bucket size; Rate ≤ 0 turns rate limiting off.
	Rate  float64
	Burst int
	// MaxFailures bad signatures within Window lock the key for LockFor;
	// MaxFailures ≤ 0 turns lockout off.
	MaxFailures int
	Window      time.Duration
	LockFor     time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives the alert of a lock (error level).
	Log logrus.FieldLogger
	// Audit records the lock; nil: not recorded.
	Audit interface {
		AddKeyEvents(ctx context.Context, events ...store.KeyEvent) error
	}

	mu        sync.Mutex
	keys      map[string]*keyState
	lastSweep time.Time
}

type keyState struct {
	tokens      float64
	filled      time.Time   // when tokens was last brought up to date
	failures    []time.Time // bad signatures within the window, oldest first
	lockedUntil time.Time
}

// NewLimits returns Limits with the defaults for zero values.
func NewLimits(rate float64, burst, maxFailures int, window, lockFor time.Duration) *Limits {
	if rate == 0 {
		rate = DefaultRatePerKey
	}
	if burst <= 0 {
		burst = max(DefaultBurstPerKey, int(math.Ceil(rate)))
	}
	if maxFailures == 0 {
		maxFailures = DefaultLockFailures
	}
	if window <= 0 {
		window = DefaultLockWindow
	}
	if lockFor <= 0 {
		lockFor = DefaultLockFor
	}
	return &Limits{Rate: rate, Burst: burst, MaxFailures: maxFailures, Window: window, LockFor: lockFor}
}

func (l *Limits) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func (l *Limits) log() logrus.FieldLogger {
	if l.Log != nil {
		return l.Log
	}
	lg := logrus.New()
	lg.SetOutput(io.Discard)
	return lg
}

// state returns the entry of a key, creating it; l.mu is held.
func (l *Limits) state(ak string, now time.Time) *keyState {
	if l.keys == nil {
		l.keys = map[string]*keyState{}
	}
	if now.Sub(l.lastSweep) > time.Minute {
		l.sweep(now)
	}
	st, ok := l.keys[ak]
	if !ok {
		st = &keyState{tokens: float64(l.Burst), filled: now}
		l.keys[ak] = st
	}
	return st
}

// sweep drops entries that hold nothing: a full bucket, no recent failure,
// no lock.
func (l *Limits) sweep(now time.Time) {
	l.lastSweep = now
	for ak, st := range l.keys {
		l.refill(st, now)
		if st.tokens >= float64(l.Burst) && now.After(st.lockedUntil) && (len(st.failures) == 0 || now.Sub(st.failures[len(st.failures)-1]) > l.Window) {
			delete(l.keys, ak)
		}
	}
}

func (l *Limits) refill(st *keyState, now time.Time) {
	if d := now.Sub(st.filled); d > 0 {
		st.tokens = math.Min(float64(l.Burst), st.tokens+d.Seconds()*l.Rate)
		st.filled = now
	}
}

// CheckLocked refuses a locked key with auth.locked and a Retry-After of
// the time left.
func (l *Limits) CheckLocked(accessKey string) error {
	if l == nil || l.MaxFailures <= 0 {
		return nil
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	st, ok := l.keys[accessKey]
	if !ok || !now.Before(st.lockedUntil) {
		return nil
	}
	e := bus.ErrAuthLocked.New("access key %s is locked until %s after %d bad signatures within %s", accessKey, st.lockedUntil.UTC().Format(time.RFC3339), l.MaxFailures, l.Window)
	e.RetryAfter = int(math.Ceil(st.lockedUntil.Sub(now).Seconds()))
	return e
}

// Allow takes a token of accessKey's bucket, or refuses with
// auth.rate_limited and a Retry-After of when the next token comes.
func (l *Limits) Allow(accessKey string) error {
	if l == nil || l.Rate <= 0 {
		return nil
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.state(accessKey, now)
	l.refill(st, now)
	if st.tokens >= 1 {
		st.tokens--
		return nil
	}
	wait := time.Duration((1 - st.tokens) / l.Rate * float64(time.Second))
	e := bus.ErrAuthRateLimited.New("access key %s may send %g requests per second (bursts of %d)", accessKey, l.Rate, l.Burst)
	e.RetryAfter = max(1, int(math.Ceil(wait.Seconds())))
	return e
}

// Failure counts a bad signature of an existing access key. The failure
// that reaches MaxFailures within Window locks the key for LockFor, logs an
// alert at error level (access_key, system, failures, remote) and records
// a "locked" key event. It reports whether it locked the key.
func (l *Limits) Failure(ctx context.Context, accessKey, system, remote string) bool {
	if l == nil || l.MaxFailures <= 0 {
		return false
	}
	now := l.now()
	l.mu.Lock()
	st := l.state(accessKey, now)
	cut := 0
	for cut < len(st.failures) && now.Sub(st.failures[cut]) >= l.Window {
		cut++
	}
	st.failures = append(st.failures[cut:], now)
	n := len(st.failures)
	locked := n >= l.MaxFailures && !now.Before(st.lockedUntil)
	if locked {
		st.lockedUntil = now.Add(l.LockFor)
		st.failures = nil
	} else if n > l.MaxFailures {
		st.failures = st.failures[n-l.MaxFailures:] // keep the slice bounded while locked
	}
	until := st.lockedUntil
	l.mu.Unlock()
	if !locked {
		return false
	}
	l.log().WithFields(logrus.Fields{
		"alert": "auth.locked", "access_key": accessKey, "system": system, "failures": n, "remote": remote,
		"window": l.Window.String(), "locked_until": until.UTC().Format(time.RFC3339),
	}).Error("access key locked after a burst of bad signatures")
	if l.Audit != nil {
		// The request's context ends with its answer; the record must not.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		ev := store.KeyEvent{At: now.UTC(), AccessKey: accessKey, System: system, Action: store.KeyEventLocked, Actor: "lgsp",
			Detail: fmt.Sprintf("%d bad signatures within %s from %s; locked until %s", n, l.Window, remote, until.UTC().Format(time.RFC3339))}
		if err := l.Audit.AddKeyEvents(actx, ev); err != nil {
			l.log().WithError(err).WithField("access_key", accessKey).Error("recording the lock of an access key")
		}
	}
	return true
}
