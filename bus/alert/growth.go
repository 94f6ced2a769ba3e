package alert

import (
	"sync"
	"time"
)

// maxSamples bounds the backlog samples kept (the window over the interval
// is far below it with valid settings).
const maxSamples = 10000

type sample struct {
	at time.Time
	n  int64
}

// backlogSamples keeps the backlog counted at each round, for the
// backlog_growing rule: a few hundred pairs at most.
type backlogSamples struct {
	mu sync.Mutex
	s  []sample
}

// add records n at now and forgets samples older than keep.
func (b *backlogSamples) add(now time.Time, n int64, keep time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.s = append(b.s, sample{now, n})
	i := 0
	for i < len(b.s) && (b.s[i].at.Before(now.Add(-keep)) || len(b.s)-i > maxSamples) {
		i++
	}
	b.s = b.s[i:]
}

// growing reports whether the backlog grew by at least min over the
// window ending now and is still within min/2 of its peak in the window
// (it has not started to drain), with the first and last counts. The
// samples must cover the window: the first one in it is at most two
// intervals after its start (a node that has just started, or missed
// rounds, does not judge a trend it has not seen).
func (b *backlogSamples) growing(now time.Time, window, interval time.Duration, min int64) ([2]int64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	start := now.Add(-window)
	i := 0
	for i < len(b.s) && b.s[i].at.Before(start) {
		i++
	}
	in := b.s[i:]
	if len(in) < 3 || in[0].at.After(start.Add(2*interval)) {
		return [2]int64{}, false
	}
	first, last, peak := in[0].n, in[len(in)-1].n, int64(0)
	for _, s := range in {
		peak = max(peak, s.n)
	}
	if last-first < min || peak-last > min/2 {
		return [2]int64{}, false
	}
	return [2]int64{first, last}, true
}
