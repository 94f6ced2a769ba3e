package alert

import (
	"fmt"
	"slices"
	"sync"
	"time"
)

// traffic counts authenticated requests per system in fixed windows
// (window start = time truncated to the window), keeping the current one
// and the Baseline before it: a few ints per registered system.
type traffic struct {
	mu    sync.Mutex
	since time.Time                // first time seen: no baseline before Baseline windows
	m     map[string]map[int64]int // system → window index → requests
}

func (t *traffic) add(system string, now time.Time, window time.Duration, keep int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m, t.since = map[string]map[int64]int{}, now
	}
	w, ok := t.m[system]
	if !ok {
		if len(t.m) >= maxSubjects {
			return
		}
		w = map[int64]int{}
		t.m[system] = w
	}
	cur := now.UnixNano() / int64(window)
	w[cur]++
	for i := range w {
		if i < cur-int64(keep) {
			delete(w, i)
		}
	}
}

// anomalies returns the systems whose requests in the current window
// reach minCount and exceed factor × the median of the previous n windows
// (windows without requests count as 0), with the count and the median.
// Until n windows have passed since the first request counted nothing is
// reported (no baseline yet).
func (t *traffic) anomalies(now time.Time, window time.Duration, n int, factor float64, minCount int) map[string][2]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil || now.Sub(t.since) < time.Duration(n)*window {
		return nil
	}
	cur := now.UnixNano() / int64(window)
	out := map[string][2]int{}
	prev := make([]int, n)
	for s, w := range t.m {
		for i := range prev {
			prev[i] = w[cur-1-int64(i)]
		}
		slices.Sort(prev)
		med := prev[n/2]
		if c := w[cur]; c >= minCount && float64(c) > factor*float64(med) {
			out[s] = [2]int{c, med}
		}
		if len(w) == 0 || (w[cur] == 0 && prev[n-1] == 0) {
			delete(t.m, s) // idle for the whole baseline
		}
	}
	return out
}

// Request counts one authenticated request of system for the traffic
// rule.
func (e *Engine) Request(system string) {
	if e == nil || e.Cfg.Rules.TrafficWindow <= 0 {
		return
	}
	e.traffic.add(system, e.now(), e.Cfg.Rules.TrafficWindow, e.Cfg.Rules.TrafficBaseline)
}

func (e *Engine) trafficAnomalies(now time.Time) []cond {
	r := e.Cfg.Rules
	var out []cond
	for s, v := range e.traffic.anomalies(now, r.TrafficWindow, r.TrafficBaseline, r.TrafficFactor, r.TrafficMin) {
		out = append(out, cond{Rule: RuleTrafficAnomaly, Subject: e.Node + "/" + s,
			VI: fmt.Sprintf("Hệ thống %s gửi %d yêu cầu trong %s, vượt %g lần trung vị %d của %d khoảng trước (nút %s)", s, v[0], r.TrafficWindow, r.TrafficFactor, v[1], r.TrafficBaseline, e.Node),
			EN: fmt.Sprintf("System %s sent %d requests within %s, over %g× the median %d of the previous %d windows (node %s)", s, v[0], r.TrafficWindow, r.TrafficFactor, v[1], r.TrafficBaseline, e.Node)})
	}
	return out
}
