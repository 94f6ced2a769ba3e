package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tuyenquang/lgsp/adapters/rest"
	"github.com/tuyenquang/lgsp/bus/exchange"
)

// notifyWait bounds how long a recipient waits to see an exchange (F5).
const notifyWait = 10 * time.Second

// cycleSteps are the measured steps of one F1–F7 cycle, in order.
var cycleSteps = []string{"connect", "request", "upload", "complete", "notify-wait", "ready", "download", "confirm", "cycle"}

// cycleRun is the state the workers of a cycle run share (read-only but for
// the pair counter).
type cycleRun struct {
	cfg     config
	systems []system
	clients []*rest.Client // one per system, all over one transport
	hub     *sseHub        // nil when recipients poll their inbox
	next    atomic.Uint64  // pairs are taken round-robin from this counter
}

// cycleResult is the RESULT line of a cycle run.
type cycleResult struct {
	Mode          string         `json:"mode"`
	Label         string         `json:"label,omitempty"`
	Notify        string         `json:"notify"`
	Concurrency   int            `json:"concurrency"`
	Systems       int            `json:"systems"`
	Size          int            `json:"size"`
	WallS         float64        `json:"wall_s"`
	Cycles        int            `json:"cycles"`
	ExchangesPerS float64        `json:"exchanges_per_s"`
	Requests      int64          `json:"requests"`
	RequestsPerS  float64        `json:"requests_per_s"`
	Errors        int            `json:"errors"`
	ErrorsByCode  map[string]int `json:"errors_by_code"`
	SSEReconnects int64          `json:"sse_reconnects,omitempty"`
	Steps         []stepStats    `json:"steps"`
	Server        *procUsage     `json:"server,omitempty"`
	DB            *procUsage     `json:"db,omitempty"`
	Loadgen       *procUsage     `json:"loadgen,omitempty"`
	Host          *hostUsage     `json:"host,omitempty"`
	Nodes         int            `json:"nodes"`
	MoreServers   []*procUsage   `json:"more_servers,omitempty"`
	Pass          bool           `json:"pass"`
}

// nodeOf is the node system i talks to: round-robin over urls.
func nodeOf(urls []string, i int) string { return urls[i%len(urls)] }

func runCycle(ctx context.Context, cfg config, systems []system, out io.Writer) error {
	var reqs atomic.Int64
	rt := counting{base: sharedTransport(cfg.Concurrency), n: &reqs}
	r := &cycleRun{cfg: cfg, systems: systems}
	// System i talks to node i mod n, for its calls and its SSE stream
	// alike (as a system connected to one node of several would).
	for i, s := range systems {
		r.clients = append(r.clients, apiClient(nodeOf(cfg.URLs, i), s, rt, requestTimeout))
	}
	if cfg.Notify == "sse" {
		subCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		r.hub = startSSE(subCtx, cfg.URLs, systems, rt)
		fmt.Fprintf(out, "SSE: %d subscriptions open\n", r.hub.subscribed())
	}
	fmt.Fprintf(out, "cycle: %d workers, %d systems, %d B per exchange, notify by %s, for %s, %d node(s)\n", cfg.Concurrency, len(systems), cfg.Size, cfg.Notify, cfg.Duration, len(cfg.URLs))

	meters, err := startMeters(cfg)
	if err != nil {
		return err
	}
	reqs.Store(0)
	start := time.Now()
	total := r.work(ctx)
	wall := time.Since(start)
	usage := meters.finish()

	res := cycleResult{
		Mode: "cycle", Label: cfg.Label, Notify: cfg.Notify, Concurrency: cfg.Concurrency, Systems: len(systems), Size: cfg.Size,
		WallS: round2(wall.Seconds()), Cycles: total.done, ExchangesPerS: round1(float64(total.done) / wall.Seconds()),
		Requests: reqs.Load(), RequestsPerS: round1(float64(reqs.Load()) / wall.Seconds()),
		Errors: total.errorCount(), ErrorsByCode: total.errs, Steps: summarizeAll(total, cycleSteps),
		Server: usage.server, DB: usage.db, Loadgen: usage.self, Host: usage.host,
		Nodes: len(cfg.URLs), MoreServers: usage.more,
	}
	if r.hub != nil {
		res.SSEReconnects = r.hub.reconnects.Load()
	}
	res.Pass = res.Errors == 0 && maxLatency(res.Steps) < float64(requestTimeout/time.Millisecond)
	fmt.Fprintf(out, "\nwall %.2f s · %d cycles · %.1f exchanges/s · %d requests (%.1f/s) · %d errors\n\n",
		wall.Seconds(), res.Cycles, res.ExchangesPerS, res.Requests, res.RequestsPerS, res.Errors)
	printSteps(out, res.Steps)
	fmt.Fprintln(out)
	printErrors(out, total)
	usage.print(out)
	return verdict(out, res.Pass, res)
}

// work runs the workers until the duration is over (a cycle under way is
// finished) and returns their merged tally.
func (r *cycleRun) work(ctx context.Context) *tally {
	runCtx, cancel := context.WithTimeout(ctx, r.cfg.Duration)
	defer cancel()
	tallies := make([]*tally, r.cfg.Concurrency)
	var wg sync.WaitGroup
	for w := range tallies {
		t := newTally()
		tallies[w] = t
		wg.Go(func() {
			content := make([]byte, r.cfg.Size)
			var got bytes.Buffer
			for seq := uint64(0); runCtx.Err() == nil; seq++ {
				r.cycle(ctx, t, content, &got, r.cfg.Seed<<40|uint64(w)<<24|seq)
			}
		})
	}
	wg.Wait()
	total := newTally()
	for _, t := range tallies {
		total.merge(t)
	}
	return total
}

// pair returns the sender and recipient of the next cycle: every ordered
// pair of distinct systems in turn.
func (r *cycleRun) pair() (src, dst int) {
	j := int(r.next.Add(1) - 1)
	n := len(r.clients)
	src = j % n
	return src, (src + 1 + (j/n)%(n-1)) % n
}

// cycle runs F1–F7 once, recording each step in t.
func (r *cycleRun) cycle(ctx context.Context, t *tally, content []byte, got *bytes.Buffer, seed uint64) {
	si, di := r.pair()
	src, dst, dstCode := r.clients[si], r.clients[di], r.systems[di].Code
	if _, err := io.ReadFull(newGen(seed, int64(len(content))), content); err != nil {
		t.fail("generate", err)
		return
	}
	sum := sha256.Sum256(content)
	sumHex := hex.EncodeToString(sum[:])
	var lastErr error
	step := func(name string, f func() error) bool {
		t0 := time.Now()
		if err := f(); err != nil {
			lastErr = err
			t.fail(name, err)
			return false
		}
		t.add(name, time.Since(t0))
		return true
	}
	start := time.Now()
	var id string
	var seen <-chan struct{}
	ok := step("connect", func() error { _, err := src.Connect(ctx); return err }) &&
		step("request", func() error {
			sp, err := src.Request(ctx, exchange.Request{
				Recipients: []string{dstCode}, Title: fmt.Sprintf("Công văn số %d/UBND-VP về việc thử tải nền tảng LGSP", seed&0xffffff),
				DataType: "edoc", MediaType: "application/xml", Size: int64(len(content)), SHA256: sumHex,
			})
			if err == nil {
				id = sp.ExchangeID
				seen = r.hub.expect(id) // before Complete, so the event cannot be missed
			}
			return err
		}) &&
		step("upload", func() error { _, err := src.UploadBytes(ctx, id, content); return err }) &&
		step("complete", func() error {
			_, err := src.Complete(ctx, id, exchange.CompleteRequest{SHA256: sumHex, MediaType: "application/xml"})
			return err
		}) &&
		step("notify-wait", func() error { return r.awaitNotified(ctx, dst, id, seen) }) &&
		step("ready", func() error { _, err := dst.Ready(ctx, id); return err }) &&
		step("download", func() error {
			got.Reset()
			if _, err := dst.Download(ctx, id, 0, got); err != nil {
				return err
			}
			if !bytes.Equal(got.Bytes(), content) {
				return errMismatch
			}
			return nil
		}) &&
		step("confirm", func() error {
			_, err := dst.Confirm(ctx, id, "received", "đã vào sổ văn bản đến (thử tải)")
			return err
		})
	r.hub.forget(id)
	if !ok {
		if id != "" { // do not leave it in the recipient's inbox
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), requestTimeout)
			_, _ = src.Cancel(cctx, id)
			cancel()
		}
		backOff(ctx, lastErr)
		return
	}
	t.add("cycle", time.Since(start))
	t.done++
}

// awaitNotified waits until the recipient knows of id: its SSE event, or
// (polling) the exchange in its inbox. It gives up after notifyWait.
func (r *cycleRun) awaitNotified(ctx context.Context, dst *rest.Client, id string, seen <-chan struct{}) error {
	timer := time.NewTimer(notifyWait)
	defer timer.Stop()
	if r.hub != nil {
		select {
		case <-seen:
			return nil
		case <-timer.C:
			return errNotifyTimeout
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return pollInbox(ctx, dst, id, timer.C)
}

// pollInbox reads dst's inbox until it holds id, pausing 5 ms at first and
// then up to 100 ms between reads; it gives up with errNotifyTimeout when
// giveUp fires.
func pollInbox(ctx context.Context, dst *rest.Client, id string, giveUp <-chan time.Time) error {
	pause := 5 * time.Millisecond
	for {
		items, err := dst.Inbox(ctx)
		if err != nil {
			return err
		}
		for _, it := range items {
			if it.ExchangeID == id {
				return nil
			}
		}
		select {
		case <-giveUp:
			return errNotifyTimeout
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
			pause = min(2*pause, 100*time.Millisecond)
		}
	}
}

// backOff waits the Retry-After of a refusal (plus jitter) before the
// worker's next cycle: a node that says "come back in n s" during an
// outage must not be hammered by the load generator either.
func backOff(ctx context.Context, err error) {
	var ae *rest.APIError
	if !errors.As(err, &ae) || ae.RetryAfter == "" {
		return
	}
	ra, perr := strconv.Atoi(ae.RetryAfter)
	if perr != nil || ra < 0 {
		return
	}
	t := time.NewTimer(rest.RetryJitter(time.Duration(ra) * time.Second))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
