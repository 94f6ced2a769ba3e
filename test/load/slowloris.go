package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// slowlorisResult is the RESULT line of a slowloris run.
type slowlorisResult struct {
	Mode         string         `json:"mode"`
	Label        string         `json:"label,omitempty"`
	Conns        int            `json:"conns"`
	Drip         string         `json:"drip"`
	Declared     int64          `json:"soap_declared_bytes"`
	WallS        float64        `json:"wall_s"`
	Signed       int64          `json:"signed_requests"`
	Errors       int            `json:"errors"`
	ErrorsByCode map[string]int `json:"errors_by_code"`
	SlowAnswers  map[string]int `json:"slow_answers"`    // "status code" → count
	SlowHeldMaxS float64        `json:"slow_held_max_s"` // longest a slow connection stayed open
	Steps        []stepStats    `json:"steps"`
	Server       *procUsage     `json:"server,omitempty"`
	Loadgen      *procUsage     `json:"loadgen,omitempty"`
	Host         *hostUsage     `json:"host,omitempty"`
	Pass         bool           `json:"pass"`
}

// runSlowloris opens -conns connections that send a request head and then
// one body byte every -drip (half POST /token with a small form, half
// /soap/edoc declaring -big-size bytes), reconnecting when the node drops
// them, while -c workers send signed requests. It passes when every signed
// request succeeds under 30 s: the slow clients must neither hold the slots
// nor the memory signed traffic needs.
func runSlowloris(ctx context.Context, cfg config, systems []system, out io.Writer) error {
	fmt.Fprintf(out, "slowloris: %d connections dripping a body byte every %s (half POST /token, half /soap/edoc declaring %d bytes), %d signed workers, for %s\n",
		cfg.Conns, cfg.Drip, cfg.BigSize, cfg.Concurrency, cfg.Duration)
	meters, err := startMeters(cfg)
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	start := time.Now()
	sl := &slowStats{answers: map[string]int{}}
	var wg sync.WaitGroup
	for i := range cfg.Conns {
		path, declared := "/token", int64(200)
		if i%2 == 1 {
			path, declared = "/soap/edoc", cfg.BigSize
		}
		wg.Go(func() { slowClient(runCtx, cfg, path, declared, sl) })
	}
	var reqs atomic.Int64
	tallies := make([]*tally, cfg.Concurrency)
	for i := range tallies {
		t := newTally()
		tallies[i] = t
		wg.Go(func() { signedWorker(ctx, runCtx, cfg, systems[i%len(systems)], t, &reqs) })
	}
	wg.Wait()
	wall := time.Since(start)
	usage := meters.finish()
	total := newTally()
	for _, t := range tallies {
		total.merge(t)
	}
	res := slowlorisResult{
		Mode: "slowloris", Label: cfg.Label, Conns: cfg.Conns, Drip: cfg.Drip.String(), Declared: cfg.BigSize, WallS: round2(wall.Seconds()),
		Signed: reqs.Load(), Errors: total.errorCount(), ErrorsByCode: total.errs, SlowAnswers: sl.answers,
		SlowHeldMaxS: round2(time.Duration(sl.heldMax.Load()).Seconds()),
		Steps:        summarizeAll(total, []string{"inbox", "connect", "all"}),
		Server:       usage.server, Loadgen: usage.self, Host: usage.host,
	}
	res.Pass = res.Errors == 0 && res.Signed > 0 && maxLatency(res.Steps) < float64(requestTimeout/time.Millisecond)
	fmt.Fprintf(out, "\nwall %.2f s · %d signed requests · %d errors · slow connections held at most %.2f s · their answers %v\n\n",
		wall.Seconds(), res.Signed, res.Errors, res.SlowHeldMaxS, res.SlowAnswers)
	printSteps(out, res.Steps)
	fmt.Fprintln(out)
	printErrors(out, total)
	usage.print(out)
	return verdict(out, res.Pass, res)
}

// slowStats counts what the slow clients saw.
type slowStats struct {
	mu      sync.Mutex
	answers map[string]int
	heldMax atomic.Int64
}

func (s *slowStats) saw(answer string, held time.Duration) {
	s.mu.Lock()
	s.answers[answer]++
	s.mu.Unlock()
	for d := int64(held); ; {
		m := s.heldMax.Load()
		if d <= m || s.heldMax.CompareAndSwap(m, d) {
			return
		}
	}
}

// slowClient drips requests on one connection at a time until runCtx ends.
func slowClient(runCtx context.Context, cfg config, path string, declared int64, s *slowStats) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return
	}
	for runCtx.Err() == nil {
		answer, held := drip(runCtx, u.Host, path, declared, cfg.Drip)
		s.saw(answer, held)
		if strings.HasPrefix(answer, "503") {
			// Retry-After says when; a real attacker would not wait, but
			// hammering a refusing node measures the load generator.
			select {
			case <-runCtx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

// drip sends the head of a POST declaring declared bytes, then a byte every
// interval, until the node answers or closes, or runCtx ends. It returns the
// answer ("408 request.too_slow", "closed", …) and how long the connection
// stayed open.
func drip(runCtx context.Context, host, path string, declared int64, interval time.Duration) (string, time.Duration) {
	c, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		return "dial error", 0
	}
	defer c.Close()
	start := time.Now()
	ctype := "application/x-www-form-urlencoded"
	if path != "/token" {
		ctype = "text/xml; charset=utf-8\r\nSOAPAction: \"\""
	}
	if _, err := fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", path, host, ctype, declared); err != nil {
		return "closed", time.Since(start)
	}
	got := make(chan string, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			got <- "closed"
			return
		}
		resp.Body.Close()
		got <- fmt.Sprintf("%d %s", resp.StatusCode, resp.Header.Get("X-LGSP-Error-Code"))
	}()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for sent := int64(0); ; {
		if sent < declared {
			if _, err := c.Write([]byte{'a'}); err != nil {
				return <-got, time.Since(start)
			}
			sent++
		}
		select {
		case a := <-got:
			return a, time.Since(start)
		case <-runCtx.Done():
			return "still open at the end", time.Since(start)
		case <-tick.C:
		}
	}
}

// signedWorker loops signed GET /v1/inbox and POST /v1/connect until runCtx
// ends.
func signedWorker(ctx, runCtx context.Context, cfg config, sys system, t *tally, reqs *atomic.Int64) {
	c := apiClient(cfg.URL, sys, counting{base: sharedTransport(4), n: reqs}, requestTimeout)
	pace := time.NewTicker(20 * time.Millisecond) // 50/s: within the key's rate limit
	defer pace.Stop()
	for k := 0; runCtx.Err() == nil; k++ {
		select {
		case <-runCtx.Done():
			return
		case <-pace.C:
		}
		name, call := "inbox", func() error { _, err := c.Inbox(ctx); return err }
		if k%2 == 1 {
			name, call = "connect", func() error { _, err := c.Connect(ctx); return err }
		}
		t0 := time.Now()
		if err := call(); err != nil {
			t.fail(name, err)
			continue
		}
		d := time.Since(t0)
		t.add(name, d)
		t.add("all", d)
	}
}
