package main

import (
	"context"
	"fmt"
	"io"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// holdResult is the RESULT line of a hold run.
type holdResult struct {
	Mode            string         `json:"mode"`
	Label           string         `json:"label,omitempty"`
	Conns           int            `json:"conns"`
	Rate            float64        `json:"offered_rate_per_s,omitempty"` // -rate: fixed offered rate
	Offered         int64          `json:"offered,omitempty"`            // requests scheduled within the run (-rate)
	ServedPct       float64        `json:"served_pct,omitempty"`         // good answers / offered (-rate)
	Late            int64          `json:"late,omitempty"`               // requests sent more than 10 ms after their scheduled time (-rate)
	Systems         int            `json:"systems"`
	WallS           float64        `json:"wall_s"`
	Requests        int64          `json:"requests"`
	RequestsPerS    float64        `json:"requests_per_s"`
	Errors          int            `json:"errors"`
	ErrorsByCode    map[string]int `json:"errors_by_code"`
	Dials           int64          `json:"dials"`            // TCP connections opened (= conns when none was lost)
	Served          int            `json:"conns_served"`     // connections with at least one good answer
	EstablishedPeak int            `json:"established_peak"` // from /proc/net/tcp, client ends
	Steps           []stepStats    `json:"steps"`
	Server          *procUsage     `json:"server,omitempty"`
	DB              *procUsage     `json:"db,omitempty"`
	Loadgen         *procUsage     `json:"loadgen,omitempty"`
	Host            *hostUsage     `json:"host,omitempty"`
	Pass            bool           `json:"pass"`
}

func runHold(ctx context.Context, cfg config, systems []system, out io.Writer) error {
	port, err := urlPort(cfg.URL)
	if err != nil {
		return err
	}
	if cfg.Rate > 0 {
		fmt.Fprintf(out, "hold: %d keep-alive connections (one transport each), each polling GET /v1/inbox every %s: %.0f requests/s offered for %s (open loop; latency from the scheduled time)\n",
			cfg.Conns, ratePeriod(cfg), cfg.Rate, cfg.Duration)
	} else {
		fmt.Fprintf(out, "hold: %d keep-alive connections (one transport each) looping GET /v1/inbox and POST /v1/connect for %s\n", cfg.Conns, cfg.Duration)
	}
	meters, err := startMeters(cfg)
	if err != nil {
		return err
	}
	var reqs, dials, offered, late atomic.Int64
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	peak := make(chan int, 1)
	go func() { peak <- sampleEstablished(runCtx, port) }()

	start := time.Now()
	tallies := make([]*tally, cfg.Conns)
	var wg sync.WaitGroup
	for i := range tallies {
		t := newTally()
		tallies[i] = t
		if cfg.Rate > 0 {
			sched := schedule{start: start.Add(ratePeriod(cfg) * time.Duration(i) / time.Duration(cfg.Conns)), period: ratePeriod(cfg), end: start.Add(cfg.Duration)}
			wg.Go(func() { pollConn(ctx, cfg, systems[i%len(systems)], sched, t, &reqs, &dials, &offered, &late) })
			continue
		}
		wg.Go(func() { holdConn(ctx, runCtx, cfg, systems[i%len(systems)], t, &reqs, &dials) })
	}
	wg.Wait()
	wall := time.Since(start)
	usage := meters.finish()

	total, served := newTally(), 0
	for _, t := range tallies {
		total.merge(t)
		if t.done > 0 {
			served++
		}
	}
	res := holdResult{
		Mode: "hold", Label: cfg.Label, Conns: cfg.Conns, Systems: len(systems), WallS: round2(wall.Seconds()),
		Requests: reqs.Load(), RequestsPerS: round1(float64(reqs.Load()) / wall.Seconds()),
		Errors: total.errorCount(), ErrorsByCode: total.errs, Dials: dials.Load(), Served: served, EstablishedPeak: <-peak,
		Steps:  summarizeAll(total, []string{"inbox", "connect", "all"}),
		Server: usage.server, DB: usage.db, Loadgen: usage.self, Host: usage.host,
	}
	res.Pass = res.Errors == 0 && served == cfg.Conns && maxLatency(res.Steps) < float64(requestTimeout/time.Millisecond)
	if cfg.Rate > 0 {
		res.Rate, res.Offered, res.Late = cfg.Rate, offered.Load(), late.Load()
		res.ServedPct = round2(100 * float64(total.done) / float64(max(res.Offered, 1)))
		// Issue #13: every poll served, p99 < 1 s, node RSS < 1 GB.
		p99 := 0.0
		if len(res.Steps) > 0 {
			p99 = res.Steps[len(res.Steps)-1].P99
		}
		res.Pass = res.Pass && int64(total.done) == res.Offered && p99 < 1000 && (usage.server == nil || usage.server.RSSMax*1024*1024 < 1e9)
		fmt.Fprintf(out, "\noffered %d requests at %.0f/s · served %d (%.2f %%) · sent late (> 10 ms after schedule) %d\n", res.Offered, cfg.Rate, total.done, res.ServedPct, res.Late)
	}
	fmt.Fprintf(out, "\nwall %.2f s · %d connections served (%d dialled; peak ESTABLISHED to :%d seen in /proc/net/tcp: %d) · %d requests (%.1f/s) · %d errors\n\n",
		wall.Seconds(), served, res.Dials, port, res.EstablishedPeak, res.Requests, res.RequestsPerS, res.Errors)
	printSteps(out, res.Steps)
	fmt.Fprintln(out)
	printErrors(out, total)
	usage.print(out)
	return verdict(out, res.Pass, res)
}

// holdConn loops signed requests over a transport of its own (so one TCP
// connection of its own) until runCtx ends; a request under way is finished
// under ctx.
func holdConn(ctx, runCtx context.Context, cfg config, sys system, t *tally, reqs, dials *atomic.Int64) {
	tr := singleConnTransport()
	defer tr.CloseIdleConnections()
	c := apiClient(cfg.URL, sys, counting{base: tr, n: reqs}, requestTimeout)
	traced := httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		if !i.Reused {
			dials.Add(1)
		}
	}})
	for k := 0; runCtx.Err() == nil; k++ {
		name, call := "inbox", func() error { _, err := c.Inbox(traced); return err }
		if k%2 == 1 {
			name, call = "connect", func() error { _, err := c.Connect(traced); return err }
		}
		t0 := time.Now()
		if err := call(); err != nil {
			t.fail(name, err)
			continue
		}
		d := time.Since(t0)
		t.add(name, d)
		t.add("all", d)
		t.done++
	}
}

// schedule is when one connection's requests are due: start, then every
// period, while before end.
type schedule struct {
	start, end time.Time
	period     time.Duration
}

// run calls call at each due time of s, whatever its answers (open loop),
// counting each offered and each late one (sent more than 10 ms after its
// time, the previous call having been still unanswered); it ends at s.end
// or with ctx.
func (s schedule) run(ctx context.Context, offered, late *atomic.Int64, call func(due time.Time)) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for due := s.start; due.Before(s.end) && ctx.Err() == nil; due = due.Add(s.period) {
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		}
		offered.Add(1)
		if time.Since(due) > 10*time.Millisecond {
			late.Add(1)
		}
		call(due)
	}
}

// ratePeriod is the interval at which each connection polls so that all of
// them together offer -rate requests/s.
func ratePeriod(cfg config) time.Duration {
	return time.Duration(float64(cfg.Conns) / cfg.Rate * float64(time.Second))
}

// pollConn sends signed GET /v1/inbox over a transport of its own at the
// times sched says, whatever the answers (open loop): a request whose turn
// comes while the previous one is still unanswered goes as soon as that one
// is answered (one connection, HTTP/1.1), and its latency counts from its
// scheduled time, so a slow node cannot hide its slowness by delaying the
// load (no coordinated omission).
func pollConn(ctx context.Context, cfg config, sys system, sched schedule, t *tally, reqs, dials, offered, late *atomic.Int64) {
	tr := singleConnTransport()
	defer tr.CloseIdleConnections()
	c := apiClient(cfg.URL, sys, counting{base: tr, n: reqs}, requestTimeout)
	traced := httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		if !i.Reused {
			dials.Add(1)
		}
	}})
	sched.run(ctx, offered, late, func(due time.Time) {
		if _, err := c.Inbox(traced); err != nil {
			t.fail("inbox", err)
			return
		}
		d := time.Since(due)
		t.add("inbox", d)
		t.add("all", d)
		t.done++
	})
}

// sampleEstablished counts the ESTABLISHED connections to port every 250 ms
// until ctx ends and returns the largest count.
func sampleEstablished(ctx context.Context, port int) int {
	peak := 0
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return peak
		case <-tick.C:
			peak = max(peak, establishedTo(port))
		}
	}
}

func urlPort(raw string) (int, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return 0, err
	}
	if p := u.Port(); p != "" {
		return strconv.Atoi(p)
	}
	if u.Scheme == "https" {
		return 443, nil
	}
	return 80, nil
}
