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
	fmt.Fprintf(out, "hold: %d keep-alive connections (one transport each) looping GET /v1/inbox and POST /v1/connect for %s\n", cfg.Conns, cfg.Duration)
	meters, err := startMeters(cfg)
	if err != nil {
		return err
	}
	var reqs, dials atomic.Int64
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
