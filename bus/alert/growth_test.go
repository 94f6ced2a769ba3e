package alert

import (
	"testing"
	"time"
)

// TestBacklogGrowing: the rule's judgement on sample series (one sample
// per 15 s interval, a 2 min window, growth threshold 10).
func TestBacklogGrowing(t *testing.T) {
	const interval, window = 15 * time.Second, 2 * time.Minute
	t0 := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	series := func(ns ...int64) (*backlogSamples, time.Time) {
		b := &backlogSamples{}
		at := t0
		for i, n := range ns {
			at = t0.Add(time.Duration(i) * interval)
			b.add(at, n, window+2*interval)
		}
		return b, at
	}
	cases := []struct {
		name string
		ns   []int64
		want bool
	}{
		{"steady growth", []int64{0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20}, true},
		{"flat high backlog", []int64{500, 500, 500, 500, 500, 500, 500, 500, 500, 500}, false},
		{"grew less than the threshold", []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, false},
		{"grew, now draining", []int64{0, 5, 10, 15, 20, 25, 30, 35, 40, 20}, false},
		{"small dip while growing", []int64{0, 5, 10, 15, 20, 25, 30, 35, 40, 37}, true},
		{"too few samples to judge", []int64{0, 50}, false},
		{"old growth, flat for a window", []int64{0, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100}, false},
	}
	for _, c := range cases {
		b, now := series(c.ns...)
		if _, got := b.growing(now, window, interval, 10); got != c.want {
			t.Errorf("%s: growing = %v, want %v", c.name, got, c.want)
		}
	}
	// A node that started sampling in the middle of the window does not judge.
	b := &backlogSamples{}
	for i := range 5 {
		b.add(t0.Add(time.Duration(i)*interval), int64(i*100), window+2*interval)
	}
	if _, got := b.growing(t0.Add(4*interval), window, interval, 10); got {
		t.Error("judged a trend over a window it has not seen")
	}
	// Memory stays bounded by the window.
	for i := range 1000 {
		b.add(t0.Add(time.Duration(i)*interval), 1, window+2*interval)
	}
	if len(b.s) > int((window+2*interval)/interval)+1 {
		t.Errorf("%d samples kept", len(b.s))
	}
}
