package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Process-wide collectors. They are registered once on Registry; per-node
// gauges (backlog, subscribers) are collected by the node itself
// (NodeCollector), so that several nodes in one test process do not clash.
var (
	// Registry holds the process-wide collectors and the Go runtime ones.
	Registry = prometheus.NewRegistry()

	requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lgsp_http_requests_total", Help: "HTTP requests by mux route pattern, method and status code.",
	}, []string{"route", "code"})
	requestSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "lgsp_http_request_duration_seconds", Help: "HTTP request duration by mux route pattern.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"route"})
	authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lgsp_auth_failures_total", Help: "Refused authentications (bad signature, unknown key, replay, lockout …) by error code.",
	}, []string{"reason"})
	bytesTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lgsp_http_bytes_total", Help: "HTTP body bytes by direction (in: request bodies read, out: answers written).",
	}, []string{"direction"})
	exchanges = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lgsp_exchange_events_total", Help: "Exchange ledger events written by this node, by kind and route.",
	}, []string{"kind", "route"})
	deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lgsp_delivery_attempts_total", Help: "Outbound delivery attempts by kind, target system and outcome (ok, retry, dead).",
	}, []string{"kind", "target", "outcome"})
	gatewayCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lgsp_gateway_calls_total", Help: "Calls to national gateways (VXP, NGSP) by gateway, operation and result (ok, error).",
	}, []string{"gateway", "op", "result"})
	gatewayLastOK = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "lgsp_gateway_last_success_timestamp_seconds", Help: "Unix time of the last successful call per gateway and operation.",
	}, []string{"gateway", "op"})
	storeSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "lgsp_store_duration_seconds", Help: "Store (database) operation latency by operation kind (read, write, ping).",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"op"})
	alertsSent = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lgsp_alerts_sent_total", Help: "Alert messages sent by rule, channel and kind (firing, repeat, resolved) and result.",
	}, []string{"rule", "channel", "kind", "result"})
)

func init() {
	Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		requests, requestSeconds, authFailures, bytesTotal, exchanges, deliveries, gatewayCalls, gatewayLastOK, storeSeconds, alertsSent)
}

// Request counts one answered HTTP request. route is the mux pattern that
// served it ("" when none matched, counted as "unmatched").
func Request(route string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	requests.WithLabelValues(route, statusClass(status)).Inc()
	requestSeconds.WithLabelValues(route).Observe(d.Seconds())
}

// statusClass keeps the exact code for the statuses LGSP answers and folds
// anything else into its class, so that the label set stays bounded.
func statusClass(c int) string {
	switch c {
	case 200, 201, 202, 204, 206, 301, 302, 304, 400, 401, 403, 404, 405, 408, 409, 410, 412, 413, 415, 416, 422, 429, 500, 502, 503, 504:
		return itoa(c)
	case 0:
		return "200"
	}
	return itoa(c/100) + "xx"
}

func itoa(n int) string {
	var b [8]byte
	i := len(b)
	for n > 0 || i == len(b) {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// AuthFailure counts a refused authentication; reason is a catalogue code
// ("auth.bad_signature" …).
func AuthFailure(reason string) { authFailures.WithLabelValues(reason).Inc() }

// Bytes adds n body bytes in direction "in" or "out".
func Bytes(direction string, n int64) {
	if n > 0 {
		bytesTotal.WithLabelValues(direction).Add(float64(n))
	}
}

// eventKinds are the ledger event kinds counted by name; any other is
// "other", so that the label set stays bounded.
var eventKinds = map[string]bool{"requested": true, "uploaded": true, "accepted": true, "planned": true, "notified": true,
	"ready": true, "downloaded": true, "confirmed": true, "rejected": true, "purged": true, "expired": true, "cancelled": true,
	"failed": true, "transformed": true, "webhook_sent": true, "webhook_failed": true, "delivered": true, "dead": true}

// ExchangeEvent counts a ledger event of kind written for an exchange that
// took route (a name from the route set; "" counted as "none").
func ExchangeEvent(kind, route string) {
	if !eventKinds[kind] {
		kind = "other"
	}
	if route == "" {
		route = "none"
	}
	exchanges.WithLabelValues(kind, route).Inc()
}

// Delivery counts one outbound delivery attempt: kind ("webhook", "vxp" …),
// target system code, outcome "ok", "retry" or "dead". The delivery engine
// calls it once per attempt.
func Delivery(kind, target, outcome string) { deliveries.WithLabelValues(kind, target, outcome).Inc() }

// GatewayCall counts a call to a national gateway (gateway "vxp" or
// "ngsp", op "poll", "push", "token" …) and remembers the time of the last
// success.
func GatewayCall(gateway, op string, err error) {
	if err != nil {
		gatewayCalls.WithLabelValues(gateway, op, "error").Inc()
		noteGateway(gateway, op, false)
		return
	}
	gatewayCalls.WithLabelValues(gateway, op, "ok").Inc()
	gatewayLastOK.WithLabelValues(gateway, op).SetToCurrentTime()
	noteGateway(gateway, op, true)
}

// StoreOp observes the latency of one store operation of kind op ("read",
// "write", "ping"): call it as `defer metrics.StoreOp("write", time.Now())`.
// A store wrapper (circuit breaker …) can call it around every method.
func StoreOp(op string, start time.Time) {
	storeSeconds.WithLabelValues(op).Observe(time.Since(start).Seconds())
}

// StoreDuration observes one store call of kind op ("read", "write"): the
// store guard reports every call through it.
func StoreDuration(op string, d time.Duration) { storeSeconds.WithLabelValues(op).Observe(d.Seconds()) }

// AlertSent counts one alert message.
func AlertSent(rule, channel, kind string, err error) {
	res := "ok"
	if err != nil {
		res = "error"
	}
	alertsSent.WithLabelValues(rule, channel, kind, res).Inc()
}

// Handler serves the process-wide collectors together with extra ones (a
// node's own gauges) in the Prometheus text format.
func Handler(extra ...prometheus.Collector) http.Handler {
	g := prometheus.Gatherers{Registry}
	if len(extra) > 0 {
		r := prometheus.NewRegistry()
		for _, c := range extra {
			r.MustRegister(c)
		}
		g = append(g, r)
	}
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}
