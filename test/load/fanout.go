package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http/httptrace"
	"os"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tuyenquang/lgsp/adapters/rest"
	"github.com/tuyenquang/lgsp/bus/exchange"
)

// fanoutWait bounds how long one notification may take to reach every
// subscriber before the missing ones are counted.
const fanoutWait = 10 * time.Second

// fanRound is one notification in flight: the exchange whose "notified"
// events the subscribers wait for, when it was triggered, and when each
// subscriber saw its event (nanoseconds after t0, plus one; 0: not yet).
type fanRound struct {
	id   string
	t0   time.Time
	arr  []atomic.Int64
	got  atomic.Int64
	done chan struct{}
}

// fanoutResult is the RESULT line of a fanout run.
type fanoutResult struct {
	Mode             string         `json:"mode"`
	Label            string         `json:"label,omitempty"`
	Subscribers      int            `json:"subscribers"`
	Open             int64          `json:"subscribers_open"`
	Systems          int            `json:"systems"`
	ConnectS         float64        `json:"connect_s"`
	Notifications    int            `json:"notifications"`
	Arrivals         int            `json:"arrivals"`
	Missing          int            `json:"missing"`
	Reconnects       int64          `json:"reconnects"`
	Delay            stepStats      `json:"delay"`     // trigger → arrival, every subscriber of every notification
	RoundMax         stepStats      `json:"round_max"` // the slowest subscriber of each notification
	ServerRSSBefore  float64        `json:"server_rss_before_mib"`
	ServerRSSAfter   float64        `json:"server_rss_after_mib"`
	KiBPerSubscriber float64        `json:"server_kib_per_subscriber"`
	LoadgenRSSAfter  float64        `json:"loadgen_rss_after_mib"`
	Errors           int            `json:"errors"`
	ErrorsByCode     map[string]int `json:"errors_by_code"`
	Server           *procUsage     `json:"server,omitempty"`
	Loadgen          *procUsage     `json:"loadgen,omitempty"`
	Host             *hostUsage     `json:"host,omitempty"`
	Pass             bool           `json:"pass"`
	// Bare is the same fanout from a bare broadcaster (bareFanout).
	Bare *bareFanoutResult `json:"bare,omitempty"`
	// CPU time per delivery (µs) over the notifications, node and generator.
	ServerUSPerDelivery  float64 `json:"server_us_per_delivery,omitempty"`
	LoadgenUSPerDelivery float64 `json:"loadgen_us_per_delivery,omitempty"`
}

// runFanout opens -conns live subscriptions (GET /v1/events, signed as the
// systems' clients sign) spread over every system but the first, then sends
// -notifications exchanges from the first system to all the others, one at
// a time, and measures for each the delay from the moment the sender's
// complete call (F3) leaves to the arrival of the recipient's "notified"
// event (F4) at every subscriber.
func runFanout(ctx context.Context, cfg config, systems []system, out io.Writer) error {
	src, dsts := systems[0], systems[1:]
	n := cfg.Conns
	fmt.Fprintf(out, "fanout: %d SSE subscribers over %d systems, %d notifications from %s to all of them\n", n, len(dsts), cfg.Notifications, src.Code)
	var before procSample
	if cfg.PID > 0 {
		var err error
		if before, err = readProc(cfg.PID); err != nil {
			return fmt.Errorf("-pid %d: %w", cfg.PID, err)
		}
	}

	var cur atomic.Pointer[fanRound]
	var open, reconnects atomic.Int64
	subCtx, cancelSubs := context.WithCancel(ctx)
	defer cancelSubs()
	tr := sharedTransport(16)
	answered := make(chan struct{}, n)
	t0 := time.Now()
	gate := make(chan struct{}, 64) // subscriptions being opened at once
	var wg sync.WaitGroup
	for i := range n {
		sys := dsts[i%len(dsts)]
		c := apiClient(cfg.URL, sys, tr, 0)
		gate <- struct{}{}
		wg.Go(func() {
			var held, counted, signalled atomic.Bool
			held.Store(true)
			release := func() {
				if held.CompareAndSwap(true, false) {
					<-gate
				}
			}
			first := func() {
				release()
				if counted.CompareAndSwap(false, true) {
					open.Add(1)
					if signalled.CompareAndSwap(false, true) {
						answered <- struct{}{}
					}
				}
			}
			var last int64
			for subCtx.Err() == nil {
				trace := &httptrace.ClientTrace{GotFirstResponseByte: first}
				// Raw frames: only the kind, the recipient and the exchange id
				// are read, without decoding the whole event (the generator
				// reads every stream on the node's cores).
				_ = c.EventFrames(httptrace.WithClientTrace(subCtx, trace), last, func(f rest.EventFrame) error {
					if f.ID > 0 {
						last = f.ID
					}
					if string(f.Event) != "notified" || string(jsonField(f.Data, "recipient")) != sys.Code {
						return nil
					}
					if r := cur.Load(); r != nil && r.id == string(jsonField(f.Data, "exchange_id")) && r.arr[i].CompareAndSwap(0, int64(time.Since(r.t0))+1) {
						if r.got.Add(1) == int64(len(r.arr)) {
							close(r.done)
						}
					}
					return nil
				})
				if subCtx.Err() != nil {
					return
				}
				release() // refused or failed before any answer: let the next one try
				if counted.CompareAndSwap(true, false) {
					open.Add(-1)
				}
				reconnects.Add(1)
				select {
				case <-subCtx.Done():
					return
				case <-time.After(time.Second):
				}
			}
		})
	}
	connectDeadline := time.After(120 * time.Second)
	for k := 0; k < n; k++ {
		select {
		case <-answered:
		case <-connectDeadline:
			k = n
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	connectS := time.Since(t0)
	fmt.Fprintf(out, "%d of %d subscriptions answered in %.1f s\n", open.Load(), n, connectS.Seconds())
	time.Sleep(2 * time.Second) // settle before reading RSS (not a synchronisation: a measurement pause)
	var after procSample
	if cfg.PID > 0 {
		after, _ = readProc(cfg.PID)
	}
	self, _ := readProc(os.Getpid())
	meters, err := startMeters(cfg)
	if err != nil {
		return err
	}
	phase := time.Now()
	if cfg.CPUProfile != "" {
		// The generator reads every stream on the node's cores: its own
		// cost per delivery is part of the measured delay.
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}

	sender := apiClient(cfg.URL, src, sharedTransport(4), requestTimeout)
	codes := make([]string, len(dsts))
	for i, s := range dsts {
		codes[i] = s.Code
	}
	content := []byte("<?xml version=\"1.0\"?><thong-bao>thử tải phát tán</thong-bao>\n")
	sum := sha256.Sum256(content)
	sumHex := hex.EncodeToString(sum[:])
	errs := newTally()
	var all, roundMax []time.Duration
	missing := 0
	var sent []string
	for k := 0; k < cfg.Notifications && ctx.Err() == nil; k++ {
		sp, err := sender.Request(ctx, exchange.Request{Recipients: codes, Title: fmt.Sprintf("Thông báo thử tải số %d", k+1),
			DataType: "edoc", MediaType: "application/xml", Size: int64(len(content)), SHA256: sumHex})
		if err != nil {
			errs.fail("request", err)
			continue
		}
		if _, err := sender.UploadBytes(ctx, sp.ExchangeID, content); err != nil {
			errs.fail("upload", err)
			continue
		}
		r := &fanRound{id: sp.ExchangeID, arr: make([]atomic.Int64, n), done: make(chan struct{})}
		r.t0 = time.Now()
		cur.Store(r)
		if _, err := sender.Complete(ctx, sp.ExchangeID, exchange.CompleteRequest{SHA256: sumHex, MediaType: "application/xml"}); err != nil {
			errs.fail("complete", err)
			continue
		}
		select {
		case <-r.done:
		case <-time.After(fanoutWait):
		case <-ctx.Done():
		}
		cur.Store(nil)
		var slowest time.Duration
		for i := range r.arr {
			v := r.arr[i].Load()
			if v == 0 {
				missing++
				continue
			}
			d := time.Duration(v - 1)
			all = append(all, d)
			slowest = max(slowest, d)
		}
		roundMax = append(roundMax, slowest)
		sent = append(sent, sp.ExchangeID)
	}
	usage := meters.finish()
	if cfg.CPUProfile != "" {
		pprof.StopCPUProfile()
	}
	phaseS := time.Since(phase).Seconds()
	// Cancelled only now: their "cancelled" events would otherwise reach the
	// subscribers while the next notification is being measured.
	for _, id := range sent {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), requestTimeout)
		if _, err := sender.Cancel(cctx, id); err != nil { // leave the inboxes empty
			errs.fail("cancel", err)
		}
		cancel()
	}
	cancelSubs()
	// The same fanout from a bare broadcaster on the same box: what
	// net/http and this generator alone give.
	bare, err := bareFanout(ctx, n, cfg.Notifications)
	if err != nil {
		return err
	}

	res := fanoutResult{
		Mode: "fanout", Label: cfg.Label, Subscribers: n, Open: open.Load(), Systems: len(dsts), ConnectS: round2(connectS.Seconds()),
		Notifications: len(roundMax), Arrivals: len(all), Missing: missing, Reconnects: reconnects.Load(),
		Delay: summarize("delay", all), RoundMax: summarize("round-max", roundMax),
		LoadgenRSSAfter: mib(self.rssKB), Errors: errs.errorCount(), ErrorsByCode: errs.errs,
		Server: usage.server, Loadgen: usage.self, Host: usage.host, Bare: bare,
	}
	if cfg.PID > 0 {
		res.ServerRSSBefore, res.ServerRSSAfter = mib(before.rssKB), mib(after.rssKB)
		res.KiBPerSubscriber = round1(float64(after.rssKB-before.rssKB) / float64(max(open.Load(), 1)))
	}
	// CPU per delivery over the notification phase (each notification costs
	// both sides a write or a read per stream): comparable between runs on a
	// busy host, where the delays are not.
	perDelivery := func(u *procUsage) float64 {
		if u == nil || res.Arrivals == 0 {
			return 0
		}
		return round2(u.CPUCorePct / 100 * phaseS / float64(res.Arrivals) * 1e6)
	}
	res.ServerUSPerDelivery, res.LoadgenUSPerDelivery = perDelivery(usage.server), perDelivery(usage.self)
	res.Pass = res.Errors == 0 && res.Open == int64(n) && missing == 0 && res.Notifications == cfg.Notifications && res.Delay.P99 < 100
	fmt.Fprintf(out, "\n%d notifications · %d arrivals · %d missing · %d reconnects · %d errors\n", res.Notifications, res.Arrivals, missing, res.Reconnects, res.Errors)
	if cfg.PID > 0 {
		fmt.Fprintf(out, "server RSS %.1f MiB before subscribing, %.1f MiB with %d subscribers: %.1f KiB per subscriber\n",
			res.ServerRSSBefore, res.ServerRSSAfter, res.Open, res.KiBPerSubscriber)
	}
	fmt.Fprintln(out, "\ntrigger (complete sent) → notified event at the subscriber:")
	printSteps(out, []stepStats{res.Delay, res.RoundMax})
	fmt.Fprintln(out)
	printErrors(out, errs)
	usage.print(out)
	fmt.Fprintf(out, "CPU per delivery over the %.1f s of notifications: server %.2f µs, loadgen %.2f µs\n", phaseS, res.ServerUSPerDelivery, res.LoadgenUSPerDelivery)
	fmt.Fprintf(out, "bare broadcaster (net/http, a goroutine per stream, nothing else; a process of its own): %d streams, %d notifications, %d missing, delay p50 %.1f ms, p99 %.1f ms, max %.1f ms; %.2f µs of its CPU per delivery\n",
		bare.Subscribers, bare.Notifications, bare.Missing, bare.Delay.P50, bare.Delay.P99, bare.Delay.Max, bare.USPerDelivery)
	return verdict(out, res.Pass, res)
}

// jsonField returns the raw value of the string field name in the node's
// event JSON (one flat object whose string values — exchange ids, system
// codes, kinds — need no escaping), or nil. Enough for the fanout mode,
// not a JSON parser.
func jsonField(js []byte, name string) []byte {
	var key [32]byte
	k := append(append(append(key[:0], '"'), name...), `":"`...)
	i := bytes.Index(js, k)
	if i < 0 {
		return nil
	}
	v := js[i+len(k):]
	j := bytes.IndexByte(v, '"')
	if j < 0 || bytes.IndexByte(v[:j], '\\') >= 0 {
		return nil
	}
	return v[:j]
}
