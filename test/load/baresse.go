package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// bareSSEArg, as the generator's only argument, makes it serve a bare SSE
// broadcaster instead (a child of the fanout mode; see bareFanout).
const bareSSEArg = "-serve-bare-sse"

// serveBareSSE is the child process of the fanout mode's second phase: a
// net/http server that does nothing but hold event streams, one goroutine
// each as the node does, and write every published frame — encoded once —
// to all of them. No authentication, no store, no ledger: what fanning
// out alone costs on this box. It prints its address on stdout and serves
// until stdin closes.
func serveBareSSE() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	var mu sync.RWMutex
	subs := map[chan []byte]struct{}{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		ch := make(chan []byte, 16)
		mu.Lock()
		subs[ch] = struct{}{}
		mu.Unlock()
		defer func() {
			mu.Lock()
			delete(subs, ch)
			mu.Unlock()
		}()
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		if err := rc.Flush(); err != nil {
			return
		}
		for {
			select {
			case f := <-ch:
				if _, err := w.Write(f); err != nil {
					return
				}
				if err := rc.Flush(); err != nil {
					return
				}
			case <-r.Context().Done():
				return
			}
		}
	})
	mux.HandleFunc("POST /publish", func(w http.ResponseWriter, r *http.Request) {
		f := []byte(fmt.Sprintf("event: notified\ndata: {\"exchange_id\":%q,\"kind\":\"notified\"}\n\n", r.URL.Query().Get("id")))
		mu.RLock()
		for ch := range subs {
			select {
			case ch <- f:
			default: // a subscriber 16 frames behind misses this one
			}
		}
		mu.RUnlock()
		w.WriteHeader(http.StatusNoContent)
	})
	return serveChild(ln, mux)
}

// bareFanoutResult is what the bare broadcaster's phase measured.
type bareFanoutResult struct {
	Subscribers   int64     `json:"subscribers_open"`
	Notifications int       `json:"notifications"`
	Missing       int       `json:"missing"`
	Delay         stepStats `json:"delay"`
	// CPU per delivery (µs) of the broadcaster over the notifications.
	USPerDelivery float64 `json:"us_per_delivery"`
}

// bareFanout opens n streams to a bare broadcaster (serveBareSSE, in a
// process of its own), publishes notifications one after the other and
// measures, as the node's phase does, the delay from the publish call to
// the arrival of the frame at every stream. The streams are read line by
// line, as cheaply as the node's phase reads its own.
func bareFanout(ctx context.Context, n, notifications int) (*bareFanoutResult, error) {
	bs, err := startChild(ctx, bareSSEArg)
	if err != nil {
		return nil, err
	}
	defer bs.stop()
	base := "http://" + bs.addr
	subCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	tr := sharedTransport(16)
	hc := &http.Client{Transport: tr}
	var cur atomic.Pointer[fanRound]
	var open atomic.Int64
	ready := make(chan struct{}, n)
	gate := make(chan struct{}, 64)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for i := range n {
		gate <- struct{}{}
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(subCtx, http.MethodGet, base+"/events", nil)
			resp, err := hc.Do(req)
			<-gate
			if err != nil {
				ready <- struct{}{}
				return
			}
			defer resp.Body.Close()
			open.Add(1)
			ready <- struct{}{}
			br := bufio.NewReaderSize(resp.Body, 4096)
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					return
				}
				if !bytes.HasPrefix(line, []byte("data: ")) {
					continue
				}
				if r := cur.Load(); r != nil && r.id == string(jsonField(line[6:], "exchange_id")) && r.arr[i].CompareAndSwap(0, int64(time.Since(r.t0))+1) {
					if r.got.Add(1) == int64(len(r.arr)) {
						close(r.done)
					}
				}
			}
		})
	}
	for range n {
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	res := &bareFanoutResult{Subscribers: open.Load()}
	pub := &http.Client{Transport: sharedTransport(2), Timeout: requestTimeout}
	c0, _ := readProc(bs.cmd.Process.Pid)
	var all []time.Duration
	arrivals := 0
	for k := range notifications {
		r := &fanRound{id: fmt.Sprintf("bare-%d", k), arr: make([]atomic.Int64, n), done: make(chan struct{})}
		cur.Store(r)
		r.t0 = time.Now()
		resp, err := pub.Post(base+"/publish?id="+r.id, "text/plain", nil)
		if err != nil {
			return nil, fmt.Errorf("publishing to the bare broadcaster: %w", err)
		}
		resp.Body.Close()
		select {
		case <-r.done:
		case <-time.After(fanoutWait):
		case <-ctx.Done():
		}
		cur.Store(nil)
		for i := range r.arr {
			v := r.arr[i].Load()
			if v == 0 {
				res.Missing++
				continue
			}
			all = append(all, time.Duration(v-1))
			arrivals++
		}
		res.Notifications++
	}
	c1, _ := readProc(bs.cmd.Process.Pid)
	res.Delay = summarize("bare delay", all)
	if arrivals > 0 {
		res.USPerDelivery = round2(float64((c1.cpu-c0.cpu)/time.Nanosecond) / 1e3 / float64(arrivals))
	}
	return res, nil
}
