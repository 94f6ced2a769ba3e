package auth

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
)

// Defaults of Limits (auth.rate_per_key, auth.burst_per_key,
// auth.lock_failures, auth.lock_window, auth.lock_for, auth.alert_failures).
const (
	DefaultRatePerKey    = 200
	DefaultBurstPerKey   = 400
	DefaultLockFailures  = 10
	DefaultLockWindow    = time.Minute
	DefaultLockFor       = 5 * time.Minute
	DefaultAlertFailures = 50
)

// MaxLockEntries bounds the (access key, client address) pairs whose bad
// signatures Limits remembers: an attacker with many addresses cannot grow
// it without limit. Past it, failures from new pairs still count towards
// the per-key alert but lock nothing until a sweep frees room.
const MaxLockEntries = 100_000

// Limits guards access keys (M3): a token bucket per key bounds the
// requests it may make, and a burst of bad signatures locks the key for a
// while — from the client address that sent them only — logs an alert and
// records a "locked" key event.
//
// Why per (access key, client address): the access key travels in every
// request, so anybody can send bad signatures with it. Counted per key, ten
// of them locked the real client out; counted per pair, the attacker locks
// only itself, and the real client, at its own address, keeps working.
// Bad signatures of one key from all addresses together are still watched:
// past AlertFailures within Window an alert is logged at error level
// (field alert = "auth.failure_burst"), without locking anybody.
//
// The client address is the IP of the connection (http.Request.RemoteAddr,
// port dropped); trusted proxies that forward the client's address are not
// honoured yet, so behind a reverse proxy every client shares its address.
//
// The state lives in the memory of one node: with several nodes each
// enforces its own bucket (a client may reach n×rate in total) and counts
// the failures it sees; a lock is recorded in the shared audit but not
// shared. Buckets exist only for keys that exist; lock entries are bounded
// by MaxLockEntries; idle entries of both are swept every minute.
type Limits struct {
	// Rate is the sustained requests per second of one key and Burst the
	// bucket size; Rate ≤ 0 turns rate limiting off.
	Rate  float64
	Burst int
	// MaxFailures bad signatures of one key from one client address
	// within Window lock that pair for LockFor; MaxFailures ≤ 0 turns
	// lockout (and the burst alert) off.
	MaxFailures int
	Window      time.Duration
	LockFor     time.Duration
	// AlertFailures bad signatures of one key from all addresses within
	// Window log an alert (at most one per key and Window); 0 means
	// DefaultAlertFailures.
	AlertFailures int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives the alerts (error level).
	Log logrus.FieldLogger
	// Audit records the lock; nil: not recorded.
	Audit interface {
		AddKeyEvents(ctx context.Context, events ...store.KeyEvent) error
	}

	mu        sync.Mutex
	keys      map[string]*keyState    // per access key: bucket and burst watch
	pairs     map[lockPair]*lockState // per (access key, client address)
	lastSweep time.Time
}

type keyState struct {
	tokens    float64
	filled    time.Time   // when tokens was last brought up to date
	failures  []time.Time // bad signatures from any address within the window, oldest first (≤ alert threshold)
	alertedAt time.Time   // last burst alert
}

type lockPair struct{ key, addr string }

type lockState struct {
	failures    []time.Time // within the window, oldest first (≤ MaxFailures)
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

func (l *Limits) alertFailures() int {
	if l.AlertFailures > 0 {
		return l.AlertFailures
	}
	return DefaultAlertFailures
}

// ClientAddr is the address failures are counted under: the IP of a
// RemoteAddr ("ip:port" or "[ip]:port"), or the text itself when it has no
// port.
func ClientAddr(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}

// state returns the entry of a key, creating it; l.mu is held.
func (l *Limits) state(ak string, now time.Time) *keyState {
	if l.keys == nil {
		l.keys = map[string]*keyState{}
	}
	l.maybeSweep(now)
	st, ok := l.keys[ak]
	if !ok {
		st = &keyState{tokens: float64(l.Burst), filled: now}
		l.keys[ak] = st
	}
	return st
}

func (l *Limits) maybeSweep(now time.Time) {
	if now.Sub(l.lastSweep) > time.Minute {
		l.sweep(now)
	}
}

// sweep drops entries that hold nothing: a full bucket and no recent
// failure for keys; no lock and no recent failure for pairs.
func (l *Limits) sweep(now time.Time) {
	l.lastSweep = now
	recent := func(fs []time.Time) bool { return len(fs) > 0 && now.Sub(fs[len(fs)-1]) < l.Window }
	for ak, st := range l.keys {
		l.refill(st, now)
		if st.tokens >= float64(l.Burst) && !recent(st.failures) && now.Sub(st.alertedAt) >= l.Window {
			delete(l.keys, ak)
		}
	}
	for p, ls := range l.pairs {
		if !now.Before(ls.lockedUntil) && !recent(ls.failures) {
			delete(l.pairs, p)
		}
	}
}

func (l *Limits) refill(st *keyState, now time.Time) {
	if d := now.Sub(st.filled); d > 0 {
		st.tokens = math.Min(float64(l.Burst), st.tokens+d.Seconds()*l.Rate)
		st.filled = now
	}
}

// CheckLocked refuses, with auth.locked and a Retry-After of the time left,
// an access key locked for the client address of remote (a RemoteAddr).
// The same key from another address is not refused.
func (l *Limits) CheckLocked(accessKey, remote string) error {
	if l == nil || l.MaxFailures <= 0 {
		return nil
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	ls, ok := l.pairs[lockPair{accessKey, ClientAddr(remote)}]
	if !ok || !now.Before(ls.lockedUntil) {
		return nil
	}
	e := bus.ErrAuthLocked.New("access key %s is locked for your address until %s after %d bad signatures within %s", accessKey, ls.lockedUntil.UTC().Format(time.RFC3339), l.MaxFailures, l.Window)
	e.RetryAfter = int(math.Ceil(ls.lockedUntil.Sub(now).Seconds()))
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

// Failure counts a bad signature (or wrong secret) of an existing access
// key from remote (a RemoteAddr). The failure that reaches MaxFailures from
// one client address within Window locks the key for that address for
// LockFor, logs an alert at error level (alert, access_key, system,
// failures, remote) and records a "locked" key event. Failures of the key
// from all addresses that reach AlertFailures within Window log an alert
// (alert = "auth.failure_burst") and lock nothing. It reports whether it
// locked.
func (l *Limits) Failure(ctx context.Context, accessKey, system, remote string) bool {
	if l == nil || l.MaxFailures <= 0 {
		return false
	}
	now := l.now()
	addr := ClientAddr(remote)
	l.mu.Lock()
	st := l.state(accessKey, now)
	burst := l.countBurst(st, now)
	locked, n, until := l.countPair(lockPair{accessKey, addr}, now)
	l.mu.Unlock()
	if burst > 0 {
		l.log().WithFields(logrus.Fields{
			"alert": "auth.failure_burst", "access_key": accessKey, "system": system, "failures": burst,
			"window": l.Window.String(), "last_remote": addr,
		}).Error("burst of bad signatures for an access key from several addresses; the key is not locked")
	}
	if !locked {
		return false
	}
	l.log().WithFields(logrus.Fields{
		"alert": "auth.locked", "access_key": accessKey, "system": system, "failures": n, "remote": addr,
		"window": l.Window.String(), "locked_until": until.UTC().Format(time.RFC3339),
	}).Error("access key locked for one client address after a burst of bad signatures")
	if l.Audit != nil {
		// The request's context ends with its answer; the record must not.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		ev := store.KeyEvent{At: now.UTC(), AccessKey: accessKey, System: system, Action: store.KeyEventLocked, Actor: "lgsp",
			Detail: fmt.Sprintf("%d bad signatures within %s from %s; locked for that address until %s", n, l.Window, addr, until.UTC().Format(time.RFC3339))}
		if err := l.Audit.AddKeyEvents(actx, ev); err != nil {
			l.log().WithError(err).WithField("access_key", accessKey).Error("recording the lock of an access key")
		}
	}
	return true
}

// Bursts returns the access keys whose bad signatures from all addresses
// within Window have reached AlertFailures, with their count: the
// auth_key_failures alert rule reads it every round, so the alert holds
// while the burst does and resolves when it ages out of the window.
func (l *Limits) Bursts() map[string]int {
	if l == nil || l.MaxFailures <= 0 {
		return nil
	}
	now, limit := l.now(), l.alertFailures()
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int{}
	for ak, st := range l.keys {
		n := 0
		for _, f := range st.failures {
			if now.Sub(f) < l.Window {
				n++
			}
		}
		if n >= limit {
			out[ak] = n
		}
	}
	return out
}

// window drops the times older than Window from the front of fs and
// appends now; l.mu is held.
func (l *Limits) window(fs []time.Time, now time.Time) []time.Time {
	cut := 0
	for cut < len(fs) && now.Sub(fs[cut]) >= l.Window {
		cut++
	}
	return append(fs[cut:], now)
}

// countBurst counts a failure of the key from any address and returns the
// count when it calls for an alert (at most one per Window), else 0;
// l.mu is held.
func (l *Limits) countBurst(st *keyState, now time.Time) int {
	limit := l.alertFailures()
	st.failures = l.window(st.failures, now)
	n := len(st.failures)
	if n > limit {
		st.failures = st.failures[n-limit:] // bounded
	}
	if n >= limit && now.Sub(st.alertedAt) >= l.Window {
		st.alertedAt = now
		return n
	}
	return 0
}

// countPair counts a failure of one (key, address) pair and locks it when
// it reaches MaxFailures; l.mu is held. A new pair is not remembered while
// MaxLockEntries pairs are.
func (l *Limits) countPair(p lockPair, now time.Time) (locked bool, n int, until time.Time) {
	if l.pairs == nil {
		l.pairs = map[lockPair]*lockState{}
	}
	ls, ok := l.pairs[p]
	if !ok {
		if len(l.pairs) >= MaxLockEntries {
			l.maybeSweep(now) // at most once a minute: a full map must not cost a sweep per failure
			if len(l.pairs) >= MaxLockEntries {
				return false, 0, time.Time{}
			}
		}
		ls = &lockState{}
		l.pairs[p] = ls
	}
	ls.failures = l.window(ls.failures, now)
	n = len(ls.failures)
	locked = n >= l.MaxFailures && !now.Before(ls.lockedUntil)
	if locked {
		ls.lockedUntil = now.Add(l.LockFor)
		ls.failures = nil
	} else if n > l.MaxFailures {
		ls.failures = ls.failures[n-l.MaxFailures:] // keep the slice bounded while locked
	}
	return locked, n, ls.lockedUntil
}

// entries returns how many keys and pairs are remembered (tests).
func (l *Limits) entries() (keys, pairs int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys), len(l.pairs)
}
