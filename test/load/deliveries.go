package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tuyenquang/lgsp/adapters/rest"
	"github.com/tuyenquang/lgsp/bus/exchange"
)

// deliveriesResult is the RESULT line of a deliveries run.
type deliveriesResult struct {
	Mode         string         `json:"mode"`
	Label        string         `json:"label,omitempty"`
	Destinations int            `json:"destinations"`
	Exchanges    int            `json:"exchanges"`
	Deliveries   int            `json:"deliveries"`
	DeliveriesPS float64        `json:"deliveries_per_s"`
	DueToArrival stepStats      `json:"due_to_arrival"`
	Missing      int            `json:"missing"`
	Repeated     int            `json:"repeated"` // arrivals again under a key seen before
	Errors       int            `json:"errors"`
	ErrorsByCode map[string]int `json:"errors_by_code"`
	Server       *procUsage     `json:"server,omitempty"`
	DB           *procUsage     `json:"db,omitempty"`
	Loadgen      *procUsage     `json:"loadgen,omitempty"`
	Host         *hostUsage     `json:"host,omitempty"`
	Pass         bool           `json:"pass"`
}

// webhookSink is the destinations this tool serves: every system but the
// first gets a webhook URL on it (/<code>). It records the first arrival of
// each Idempotency-Key and counts repeats.
type webhookSink struct {
	mu       sync.Mutex
	first    map[string]time.Time // idempotency key → first arrival
	exchange map[string]string    // idempotency key → exchange id
	repeated atomic.Int64
}

func (s *webhookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	var ev struct {
		ExchangeID string `json:"exchange_id"`
	}
	_ = json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&ev)
	key := r.Header.Get("Idempotency-Key")
	s.mu.Lock()
	if _, seen := s.first[key]; seen {
		s.repeated.Add(1)
	} else {
		s.first[key], s.exchange[key] = now, ev.ExchangeID
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// runDeliveries measures the delivery engine (issue 10): the tool serves
// the webhook destinations itself (one loopback server, a path per system),
// sets the webhook URL of systems 2…N to it, and -c workers send small
// exchanges (Request, Upload, Complete) from system 1 to the others
// round-robin for -duration. Completing an exchange makes its webhook due;
// due→arrival is the time from the Complete answer to the webhook's first
// arrival. After the sending stops it waits up to 30 s for the webhooks
// still due. The node must allow webhooks to loopback
// (webhooks.allow_cidrs: ["127.0.0.0/8"]).
func runDeliveries(ctx context.Context, cfg config, a *admin, systems []system, out io.Writer) error {
	sink := &webhookSink{first: map[string]time.Time{}, exchange: map[string]string{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: sink, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	dests := systems[1:]
	for _, d := range dests {
		status, body, err := a.put(ctx, "/admin/v1/systems/"+d.Code+"/webhook", map[string]string{"webhook_url": "http://" + ln.Addr().String() + "/" + d.Code})
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("setting the webhook of %s: HTTP %d: %s (does the node allow webhooks.allow_cidrs 127.0.0.0/8?)", d.Code, status, body)
		}
	}
	fmt.Fprintf(out, "deliveries: %d destinations served on %s, %d senders for %v\n", len(dests), ln.Addr(), cfg.Concurrency, cfg.Duration)
	m, err := startMeters(cfg)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	completed := map[string]time.Time{} // exchange id → Complete answered
	all := newTally()
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var wg sync.WaitGroup
	var next atomic.Int64
	start := time.Now()
	tallies := make([]*tally, cfg.Concurrency)
	for w := range cfg.Concurrency {
		tallies[w] = newTally()
		wg.Add(1)
		go func(t *tally) {
			defer wg.Done()
			src := apiClient(cfg.URL, systems[0], sharedTransport(cfg.Concurrency), requestTimeout)
			content := make([]byte, cfg.Size)
			for runCtx.Err() == nil {
				i := next.Add(1)
				id, at, err := sendOne(runCtx, src, dests[int(i)%len(dests)].Code, content, uint64(i)+cfg.Seed)
				if err != nil {
					if runCtx.Err() == nil {
						t.fail("send", err)
						backOff(runCtx, err)
					}
					continue
				}
				mu.Lock()
				completed[id] = at
				mu.Unlock()
			}
		}(tallies[w])
	}
	wg.Wait()
	for _, t := range tallies {
		all.merge(t)
	}
	arrived := func() int {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		return len(sink.first)
	}
	deadline := time.Now().Add(30 * time.Second)
	for arrived() < len(completed) && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond) // polling interval
	}
	usage := m.finish()
	sink.mu.Lock()
	var lat []time.Duration
	var last time.Time
	got := map[string]bool{}
	for key, at := range sink.first {
		ex := sink.exchange[key]
		due, ok := completed[ex]
		if !ok {
			continue // a webhook of an exchange this run did not send, or did not see completed
		}
		got[ex] = true
		lat = append(lat, at.Sub(due))
		if at.After(last) {
			last = at
		}
	}
	sink.mu.Unlock()
	res := deliveriesResult{Mode: "deliveries", Label: cfg.Label, Destinations: len(dests), Exchanges: len(completed), Deliveries: len(lat),
		DueToArrival: summarize("due→arrival", lat), Missing: len(completed) - len(got), Repeated: int(sink.repeated.Load()),
		Errors: all.errorCount(), ErrorsByCode: all.errs, Server: usage.server, DB: usage.db, Loadgen: usage.self, Host: usage.host}
	if span := last.Sub(start); span > 0 {
		res.DeliveriesPS = round2(float64(len(lat)) / span.Seconds())
	}
	fmt.Fprintf(out, "%d exchanges sent, %d webhooks arrived (%.1f/s), %d missing after 30 s, %d repeated\n", res.Exchanges, res.Deliveries, res.DeliveriesPS, res.Missing, res.Repeated)
	printSteps(out, []stepStats{res.DueToArrival})
	printErrors(out, all)
	usage.print(out)
	res.Pass = res.Missing == 0 && res.Errors == 0 && res.Exchanges > 0
	return verdict(out, res.Pass, res)
}

// sendOne sends one small exchange to dst and returns its id and when the
// Complete answer came (its webhook is due from then).
func sendOne(ctx context.Context, src *rest.Client, dst string, content []byte, seed uint64) (string, time.Time, error) {
	if _, err := io.ReadFull(newGen(seed, int64(len(content))), content); err != nil {
		return "", time.Time{}, err
	}
	sum := sha256.Sum256(content)
	sumHex := hex.EncodeToString(sum[:])
	sp, err := src.Request(ctx, exchange.Request{Recipients: []string{dst}, Title: "Thông báo thử tải giao nhận", DataType: "edoc", MediaType: "application/xml", Size: int64(len(content)), SHA256: sumHex})
	if err != nil {
		return "", time.Time{}, err
	}
	if _, err := src.UploadBytes(ctx, sp.ExchangeID, content); err != nil {
		return "", time.Time{}, err
	}
	if _, err := src.Complete(ctx, sp.ExchangeID, exchange.CompleteRequest{SHA256: sumHex, MediaType: "application/xml"}); err != nil {
		return "", time.Time{}, err
	}
	return sp.ExchangeID, time.Now(), nil
}

func (a *admin) put(ctx context.Context, path string, in any) (int, string, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return 0, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, a.base+path, bytes.NewReader(b))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("admin API %s: %w", path, err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(rb), nil
}
