package service

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/metrics"
	"github.com/tuyenquang/lgsp/bus/store"
)

// observe feeds the request metrics and the auth-failure alert rule from
// one answered request. The route label is the mux pattern (bounded by the
// mounted patterns), never the path.
func (s *Service) observe(r *http.Request, sw *statusWriter, d time.Duration) {
	_, pattern := s.mux.Handler(r)
	status := sw.status
	if status == 0 {
		status = http.StatusOK
	}
	metrics.Request(pattern, status, d)
	metrics.Bytes("out", int64(sw.bytes))
	if r.ContentLength > 0 && sw.body != nil {
		metrics.Bytes("in", r.ContentLength)
	}
	if code := sw.Header().Get("X-LGSP-Error-Code"); strings.HasPrefix(code, "auth.") && code != string(bus.ErrAdminUnauthorized.Code) {
		metrics.AuthFailure(code)
		s.alerts.AuthFailure("addr:" + auth.ClientAddr(r.RemoteAddr))
	}
}

// goWorker starts a background worker whose liveness /readyz reports: a
// worker that returns before shutdown makes the node not ready.
func (s *Service) goWorker(name string, fn func(ctx context.Context)) {
	if s.alive == nil {
		s.alive = map[string]*atomic.Bool{}
	}
	a := &atomic.Bool{}
	a.Store(true)
	s.alive[name] = a
	s.workers.Go(func(ctx context.Context) {
		defer a.Store(false)
		fn(ctx)
	})
}

// readiness is what /readyz checks; Failing names each check that failed.
type readiness struct {
	Status  string            `json:"status"`
	Node    string            `json:"node"`
	Checks  map[string]string `json:"checks"`
	Failing []string          `json:"failing,omitempty"`
	// Store, Routes and Subscribers describe the node (tests and operators
	// read the live subscribers here).
	Store       string `json:"store"`
	Routes      int    `json:"routes"`
	Subscribers int    `json:"subscribers"`
}

func (s *Service) readiness(ctx context.Context) readiness {
	rd := readiness{Status: "ready", Node: s.cfg.Node, Checks: map[string]string{}, Store: s.store.Dialect(), Subscribers: s.hub.Count()}
	if set := s.routes.Load(); set != nil {
		rd.Routes = len(set.Routes())
	}
	fail := func(name, why string) {
		rd.Checks[name] = why
		rd.Failing = append(rd.Failing, name)
	}
	if s.draining.Load() {
		fail("draining", "the node is shutting down")
	}
	start := time.Now()
	if open, o := s.guard.State(); open {
		fail("store", bus.AsError(s.outageProblem(o)).Detail)
	} else if err := s.store.Ping(ctx); err != nil {
		fail("store", "the store does not answer")
	} else {
		metrics.StoreOp("ping", start)
		rd.Checks["store"] = "ok (" + s.store.Dialect() + ")"
	}
	if set := s.routes.Load(); set == nil {
		fail("routes", "no routes loaded")
	} else {
		rd.Checks["routes"] = "ok"
	}
	var stopped []string
	for name, a := range s.alive {
		if !a.Load() {
			stopped = append(stopped, name)
		}
	}
	sort.Strings(stopped)
	if len(stopped) > 0 {
		fail("workers", "stopped: "+strings.Join(stopped, ", "))
	} else {
		rd.Checks["workers"] = "ok"
	}
	if max := s.cfg.Readiness.MaxBacklog; max > 0 && rd.Checks["store"] != "" && !contains(rd.Failing, "store") {
		if b, err := s.store.Backlog(ctx, time.Now()); err != nil {
			fail("backlog", "the backlog could not be counted")
		} else if n := b.OutboxPending + b.Due; n > max {
			fail("backlog", "over readiness.max_backlog")
		} else {
			rd.Checks["backlog"] = "ok"
		}
	}
	if len(rd.Failing) > 0 {
		rd.Status = "not ready"
	}
	return rd
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func (s *Service) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	rd := s.readiness(ctx)
	if len(rd.Failing) > 0 {
		w.Header().Set("X-LGSP-Error-Code", string(bus.ErrUnavailable.Code))
		if open, o := s.guard.State(); open {
			w.Header().Set("Retry-After", strconv.Itoa(s.guard.RetryAfter(o.For)))
		}
		WriteJSON(w, http.StatusServiceUnavailable, rd)
		return
	}
	WriteJSON(w, http.StatusOK, rd)
}

// metricsHandler serves the process collectors and this node's gauges.
func (s *Service) metricsHandler() http.Handler {
	return metrics.Handler(&nodeCollector{s: s})
}

// nodeCollector reports the node's gauges at scrape time; the backlog is
// counted by the database at most every 5 s.
type nodeCollector struct {
	s    *Service
	mu   sync.Mutex
	at   time.Time
	last store.Backlog
}

var (
	descPending     = prometheus.NewDesc("lgsp_outbox_pending", "Outbox items waiting to be delivered.", nil, nil)
	descDead        = prometheus.NewDesc("lgsp_outbox_dead", "Outbox items whose retries are exhausted.", nil, nil)
	descDue         = prometheus.NewDesc("lgsp_due_backlog", "Recipients planned and due, not yet notified.", nil, nil)
	descOldest      = prometheus.NewDesc("lgsp_outbox_oldest_pending_age_seconds", "Age of the oldest undelivered outbox item.", nil, nil)
	descSubscribers = prometheus.NewDesc("lgsp_notify_subscribers", "Live notification subscribers (SSE, WebSocket) on this node.", nil, nil)
	descInFlight    = prometheus.NewDesc("lgsp_inflight_requests", "Authenticated requests being processed on this node.", nil, nil)
	descReady       = prometheus.NewDesc("lgsp_ready", "1 when /readyz would answer ready.", nil, nil)
)

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPending, descDead, descDue, descOldest, descSubscribers, descInFlight, descReady} {
		ch <- d
	}
}

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c.mu.Lock()
	if time.Since(c.at) > 5*time.Second {
		start := time.Now()
		if b, err := c.s.store.Backlog(ctx, start); err == nil { // timed by the store guard
			c.last, c.at = b, start
		}
	}
	b := c.last
	c.mu.Unlock()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	gauge(descPending, float64(b.OutboxPending))
	gauge(descDead, float64(b.OutboxDead))
	gauge(descDue, float64(b.Due))
	age := 0.0
	if !b.OldestPending.IsZero() {
		age = time.Since(b.OldestPending).Seconds()
	}
	gauge(descOldest, age)
	gauge(descSubscribers, float64(c.s.hub.Count()))
	gauge(descInFlight, float64(c.s.InFlight()))
	ready := 0.0
	if len(c.s.readiness(ctx).Failing) == 0 {
		ready = 1
	}
	gauge(descReady, ready)
}
