package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/store"
)

// Problem is an RFC 9457 problem+json body with LGSP's code and both languages.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Code      string `json:"code"`
	Detail    string `json:"detail,omitempty"`
	MessageVI string `json:"message_vi"`
	MessageEN string `json:"message_en"`
	RequestID string `json:"request_id,omitempty"`
}

// ProblemOf turns any error into the problem a client sees; causes that are
// not catalogue details are never shown.
func ProblemOf(err error, requestID string) Problem {
	e := bus.AsError(err)
	return Problem{
		Type: "https://lgsp.tuyenquang.gov.vn/errors/" + string(e.Def.Code), Title: e.Def.EN, Status: e.Def.Status,
		Code: string(e.Def.Code), Detail: e.Detail, MessageVI: e.Def.VI, MessageEN: e.Def.EN, RequestID: requestID,
	}
}

// busyLog: refusals for lack of capacity (system.busy, 503 + Retry-After)
// come by thousands a second when the node is overloaded. Each is counted in
// the request metrics (status 503); the log says it at warning level at most
// once per busyLogEvery, with how many there were, instead of one error line
// each — those serialised every refused request on the logger's mutex and
// took CPU from the requests being served (issue #13).
var busyLog busyLogger

const busyLogEvery = 10 * time.Second

type busyLogger struct {
	n    atomic.Int64
	next atomic.Int64 // unix nanoseconds before which nothing is logged
}

func (b *busyLogger) refused(l logrus.FieldLogger, detail string) {
	n := b.n.Add(1)
	now := time.Now().UnixNano()
	next := b.next.Load()
	if now < next || !b.next.CompareAndSwap(next, now+int64(busyLogEvery)) {
		return
	}
	b.n.Add(-n)
	l.WithFields(logrus.Fields{"detail": detail, "refused": n}).Warn("requests refused: the node is busy (this one and the others refused since the last such line)")
}

// WriteProblem writes err as application/problem+json and logs it: client
// errors at info level, platform faults at error level with their cause.
func WriteProblem(w http.ResponseWriter, r *http.Request, err error) {
	p := ProblemOf(err, RequestID(r.Context()))
	e := bus.AsError(err)
	l := Log(r.Context()).WithField("code", p.Code)
	if store.IsOutage(err) {
		// The circuit logs the outage once with counts (outage.go); one
		// line per refused request would flood the log.
		l.Debug("request refused: store unreachable")
	} else if store.IsFault(err) {
		// A fault of the database, not of the request: when many come
		// together the circuit opens and says so once at error level.
		l.WithError(err).Warn("request failed: store fault")
	} else if e.Def == bus.ErrBusy {
		busyLog.refused(l, p.Detail)
	} else if p.Status >= 500 {
		l.WithError(err).Error("request failed")
	} else {
		l.WithField("detail", p.Detail).Info("request refused")
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-LGSP-Error-Code", p.Code)
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// DecodeJSON reads a bounded JSON body strictly into v; unknown fields and
// trailing data are errors.
func DecodeJSON(r *http.Request, limit int64, v any) error {
	body := http.MaxBytesReader(nil, r.Body, limit)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return bus.ErrBodyTooLarge.New("JSON bodies are limited to %d bytes", limit)
		}
		var be *bus.Error
		if errors.As(err, &be) {
			return be
		}
		if errors.Is(err, io.EOF) {
			return bus.ErrBadJSON.New("empty body")
		}
		return bus.ErrBadJSON.New("%v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var be *bus.Error
		if errors.As(err, &be) {
			return be
		}
		return bus.ErrBadJSON.New("unexpected data after the JSON value")
	}
	return nil
}

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyLog
	keyAdmission
)

// RequestID returns the request id of ctx.
func RequestID(ctx context.Context) string { s, _ := ctx.Value(keyRequestID).(string); return s }

var fallbackLog = logrus.NewEntry(logrus.StandardLogger())

// Log returns the request-scoped logger of ctx (it carries request_id).
func Log(ctx context.Context) *logrus.Entry {
	if l, ok := ctx.Value(keyLog).(*logrus.Entry); ok {
		return l
	}
	return fallbackLog
}

// WithLog returns ctx carrying l.
func WithLog(ctx context.Context, l *logrus.Entry) context.Context {
	return context.WithValue(ctx, keyLog, l)
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	body   *bodyGuard // nil: no body
}

func (s *statusWriter) WriteHeader(c int) {
	if s.status == 0 {
		s.status = c
		s.closeIfUnread()
	}
	s.ResponseWriter.WriteHeader(c)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = 200
		s.closeIfUnread()
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// closeIfUnread asks for the connection to be closed after an answer to a
// request whose body was not read to its end (a refusal, a body too slow):
// otherwise the server would first wait for the rest of it, at the
// client's pace.
func (s *statusWriter) closeIfUnread() {
	if s.body != nil && !s.body.ended() {
		s.Header().Set("Connection", "close")
	}
}

// Flush lets streaming handlers (SSE) flush through the wrapper.
func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// limiter admits at most n requests at once and lets up to q more wait for
// at most wait; the rest are refused at once (503 + Retry-After).
type limiter struct {
	slots   chan struct{}
	waiting atomic.Int64
	maxWait int64
	wait    time.Duration
}

func newLimiter(n, q int, wait time.Duration) *limiter {
	return &limiter{slots: make(chan struct{}, n), maxWait: int64(q), wait: wait}
}

func (l *limiter) acquire(ctx context.Context) error {
	select {
	case l.slots <- struct{}{}:
		return nil
	default:
	}
	if l.waiting.Add(1) > l.maxWait {
		l.waiting.Add(-1)
		return &bus.Error{Def: bus.ErrBusy, Detail: "too many requests in progress", RetryAfter: 1}
	}
	defer l.waiting.Add(-1)
	t := time.NewTimer(l.wait)
	defer t.Stop()
	select {
	case l.slots <- struct{}{}:
		return nil
	case <-t.C:
		return &bus.Error{Def: bus.ErrBusy, Detail: fmt.Sprintf("no capacity within %s", l.wait), RetryAfter: 2}
	case <-ctx.Done():
		return bus.ErrBusy.New("client went away while queued")
	}
}

func (l *limiter) release() { <-l.slots }

// MaxRequestIDLen bounds a client's X-Request-Id.
const MaxRequestIDLen = 128

// ValidRequestID reports whether a client's X-Request-Id may be echoed and
// logged as is: 1 to MaxRequestIDLen characters of [A-Za-z0-9._:-]. Any
// other value (control characters, quotes, log-injection attempts, huge
// ones) is replaced by a generated id; it is not an error.
func ValidRequestID(s string) bool {
	if s == "" || len(s) > MaxRequestIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// middleware wraps every request: request id, scoped logger, access log,
// panic recovery, in-flight limit and drain refusal.
func (s *Service) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rid := r.Header.Get("X-Request-Id")
		if !ValidRequestID(rid) {
			rid = bus.NewID("rq")
		}
		w.Header().Set("X-Request-Id", rid)
		fields := logrus.Fields{"request_id": rid, "method": r.Method, "path": r.URL.Path}
		// Behind a trusted reverse proxy the client is the forwarded
		// address: lockout and logs count it, not the proxy (tls.go).
		if addr, via := ClientAddr(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), s.proxies); via {
			fields["peer"] = r.RemoteAddr
			r.RemoteAddr = addr
		}
		fields["client"] = r.RemoteAddr
		l := s.log.WithFields(fields)
		// The TLS client certificate, if any, for systems bound to one
		// (auth.CheckClientCert, called by auth.KeyStanding).
		// store.FailFast: while the database is unreachable the request's
		// store calls are refused at once instead of waiting (outage.go).
		ctx := auth.WithConnTLS(store.FailFast(r.Context()), r.TLS)
		ctx = context.WithValue(ctx, keyRequestID, rid)
		ctx = WithLog(ctx, l)
		r = r.WithContext(ctx)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				l.WithField("panic", fmt.Sprint(p)).Error("handler panicked")
				if sw.status == 0 {
					WriteProblem(sw, r, bus.ErrInternal.New("unexpected failure"))
				}
			}
			lvl := logrus.InfoLevel
			if sw.status >= 500 && sw.status != http.StatusServiceUnavailable {
				// 503 are planned refusals with Retry-After (busy,
				// draining, store outage), logged by their own cause.
				lvl = logrus.WarnLevel
			}
			l.WithFields(logrus.Fields{"status": sw.status, "bytes": sw.bytes, "ms": float64(time.Since(start).Microseconds()) / 1000}).Log(lvl, "request")
			s.observe(r, sw, time.Since(start))
		}()
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || strings.HasPrefix(r.URL.Path, "/v1/events") {
			// Health probes bypass limits; live subscriptions are bounded by
			// limits.max_subscribers instead of holding in-flight slots.
			next.ServeHTTP(sw, r)
			return
		}
		if s.draining.Load() {
			w.Header().Set("Connection", "close")
			WriteProblem(sw, r, &bus.Error{Def: bus.ErrUnavailable, Detail: "the node is shutting down", RetryAfter: 1})
			return
		}
		// Pools and body limits (admission.go): unauthenticated work
		// cannot hold the slots of authenticated requests.
		adm := &admission{s: s}
		ctx = context.WithValue(ctx, keyAdmission, adm)
		r = r.WithContext(ctx)
		if hasBody(r) {
			sw.body = s.guardBody(w, r, adm, start)
			r.Body = sw.body
			defer sw.body.finish()
		}
		defer adm.done()
		enter := adm.enter
		if s.opsRequest(r) {
			enter = func(ctx context.Context, _ *http.Request) error { return adm.enterOps(ctx) }
		}
		if err := enter(ctx, r); err != nil {
			WriteProblem(sw, r, err)
			return
		}
		if !streaming(r) {
			// R3: no answer later than 30 s. Content transfers are exempt:
			// their length depends on the size and the client's link.
			tctx, cancel := context.WithTimeout(ctx, s.cfg.Limits.RequestTimeout)
			defer cancel()
			r = r.WithContext(tctx)
		}
		next.ServeHTTP(sw, r)
	})
}

// streaming reports whether r moves content whose duration depends on its
// size (uploads, downloads): those are not bounded by request_timeout.
func streaming(r *http.Request) bool {
	return strings.HasSuffix(r.URL.Path, "/content") && (r.Method == http.MethodPut || r.Method == http.MethodGet)
}
