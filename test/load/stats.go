package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"slices"
	"sort"
	"time"

	"github.com/tuyenquang/lgsp/adapters/rest"
)

// tally is what one worker measured: every latency sample of every step (the
// runs are bounded by -duration, so keeping them all is cheap and gives exact
// percentiles), and its errors by code. Workers own their tally; they are
// merged once all have stopped.
type tally struct {
	lat      map[string][]time.Duration
	errs     map[string]int
	examples map[string]string // one error message per code
	done     int               // completed units: cycles, or requests in hold mode
}

func newTally() *tally {
	return &tally{lat: map[string][]time.Duration{}, errs: map[string]int{}, examples: map[string]string{}}
}

func (t *tally) add(step string, d time.Duration) { t.lat[step] = append(t.lat[step], d) }

// fail counts err under "code [step]".
func (t *tally) fail(step string, err error) {
	k := errCode(err) + " [" + step + "]"
	t.errs[k]++
	if _, ok := t.examples[k]; !ok {
		t.examples[k] = err.Error()
	}
}

func (t *tally) merge(o *tally) {
	for k, v := range o.lat {
		t.lat[k] = append(t.lat[k], v...)
	}
	for k, v := range o.errs {
		t.errs[k] += v
	}
	for k, v := range o.examples {
		if _, ok := t.examples[k]; !ok {
			t.examples[k] = v
		}
	}
	t.done += o.done
}

func (t *tally) errorCount() int {
	n := 0
	for _, v := range t.errs {
		n += v
	}
	return n
}

// Errors of the load generator itself (not answers of the server).
var (
	errNotifyTimeout = errors.New("the exchange did not reach the recipient's inbox in time")
	errMismatch      = errors.New("downloaded content differs from what was uploaded")
)

// errCode names an error: the problem code of an API answer, else a
// client-side class.
func errCode(err error) string {
	var api *rest.APIError
	var nerr net.Error
	var uerr *url.Error
	switch {
	case errors.As(err, &api):
		return api.Code
	case errors.Is(err, errNotifyTimeout):
		return "load.notify_timeout"
	case errors.Is(err, errMismatch):
		return "load.content_mismatch"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &nerr) && nerr.Timeout():
		return "client.timeout"
	case errors.Is(err, context.Canceled):
		return "client.canceled"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "client.eof"
	case errors.As(err, &uerr), errors.As(err, &nerr):
		return "client.net"
	default:
		return "client.other"
	}
}

// percentile returns the p-th percentile (0 < p ≤ 100) of sorted samples by
// the nearest-rank method: the smallest sample with at least p % of the
// samples at or below it. It returns 0 for no samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	return sorted[min(max(rank, 1), n)-1]
}

// stepStats summarises one step's latencies, in milliseconds.
type stepStats struct {
	Step  string  `json:"step"`
	Count int     `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

func summarize(step string, samples []time.Duration) stepStats {
	s := slices.Clone(samples)
	slices.Sort(s)
	st := stepStats{Step: step, Count: len(s)}
	if len(s) == 0 {
		return st
	}
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	st.Mean = ms(sum / time.Duration(len(s)))
	st.P50, st.P95, st.P99, st.Max = ms(percentile(s, 50)), ms(percentile(s, 95)), ms(percentile(s, 99)), ms(s[len(s)-1])
	return st
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }

// summarizeAll returns the stats of the steps in order (steps without samples
// are left out).
func summarizeAll(t *tally, order []string) []stepStats {
	var out []stepStats
	for _, step := range order {
		if len(t.lat[step]) > 0 {
			out = append(out, summarize(step, t.lat[step]))
		}
	}
	return out
}

func printSteps(w io.Writer, steps []stepStats) {
	fmt.Fprintf(w, "%-12s %8s %9s %9s %9s %9s %9s\n", "step", "count", "mean ms", "p50 ms", "p95 ms", "p99 ms", "max ms")
	for _, s := range steps {
		fmt.Fprintf(w, "%-12s %8d %9.2f %9.2f %9.2f %9.2f %9.2f\n", s.Step, s.Count, s.Mean, s.P50, s.P95, s.P99, s.Max)
	}
}

func printErrors(w io.Writer, t *tally) {
	if len(t.errs) == 0 {
		fmt.Fprintln(w, "errors by code: none")
		return
	}
	fmt.Fprintln(w, "errors by code [step]:")
	keys := make([]string, 0, len(t.errs))
	for k := range t.errs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return t.errs[keys[i]] > t.errs[keys[j]] })
	for _, k := range keys {
		fmt.Fprintf(w, "  %6d  %s  e.g. %s\n", t.errs[k], k, truncate(t.examples[k], 160))
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// maxLatency is the largest sample of any step.
func maxLatency(steps []stepStats) float64 {
	m := 0.0
	for _, s := range steps {
		m = max(m, s.Max)
	}
	return m
}
