package rest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tuyenquang/lgsp/adapters/soap"
	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/activity"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/route"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
)

// Headers the bus adds to a forwarded call so that the destination knows,
// without calling back, who is calling (they are covered by the bus's
// signature under the owner system's key, with X-LGSP-Session).
const (
	HeaderCaller    = "X-LGSP-Caller"     // identifier code of the source
	HeaderSessionID = "X-LGSP-Session-Id" // the session the call belongs to
	HeaderScope     = "X-LGSP-Scope"      // the scope of that session
)

// ForwardSignedHeaders are the headers the bus signs on a forwarded call
// (content-type only when the call has one).
var ForwardSignedHeaders = []string{"content-type", "host", "x-lgsp-caller", "x-lgsp-scope", "x-lgsp-session", "x-lgsp-session-id"}

// ownerKeyTTL is how long the signing key of an owner system is cached: a
// new or revoked key of the owner is used or dropped within this time.
const ownerKeyTTL = 5 * time.Second

// proxy forwards calls through the bus to published services (A3, A6, C2):
// it checks the caller and its session, bounds the calls in flight per
// service, streams the request (checking its body hash as it goes) and the
// answer, and signs the forwarded request for the owner system.
type proxy struct {
	a      *api
	client *http.Client

	mu   sync.Mutex
	sems map[string]chan struct{} // per service; replaced when max_inflight changes
	keys map[string]ownerKey      // per owner system
}

type ownerKey struct {
	accessKey, alg string
	secret         []byte
	until          time.Time
}

func (a *api) mountProxy() {
	// The transport carries the node's outbound TLS settings (outbound_tls).
	t := bus.NewTLSTransport(func() *http.Transport {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.Proxy = nil               // destinations are reached directly, never through an environment proxy
		t.DisableCompression = true // pass bodies and Content-Encoding through untouched
		t.MaxIdleConns = 0
		t.MaxIdleConnsPerHost = 512
		t.IdleConnTimeout = 90 * time.Second
		return t
	})
	p := &proxy{
		a: a,
		client: &http.Client{Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect is the destination's answer, passed back as is
		}},
		sems: map[string]chan struct{}{},
		keys: map[string]ownerKey{},
	}
	a.h.Handle("/svc/{name}/{path...}", p)
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := r.PathValue("name")
	who, err := p.a.h.Auth.Authenticate(r)
	if err != nil {
		service.WriteProblem(w, r, err)
		return
	}
	// Every authenticated service call goes to the activity log (M5) with
	// its outcome, never its body, committed before the answer's header
	// leaves: an answered call is in the log even after a kill -9.
	rec := service.NewActivityWriter(w, r, p.a.h.Activity, func(status int) activity.Entry {
		return activity.Entry{Kind: "svc.call", Actor: who.SystemCode, SystemCode: who.SystemCode, Subject: name, Outcome: service.Outcome(status)}
	})
	w = rec
	defer rec.Finish()
	if err := service.Admit(ctx); err != nil {
		service.WriteProblem(w, r, err)
		return
	}
	svc, ok := p.a.h.Routes().Service(name)
	if !ok {
		service.WriteProblem(w, r, bus.ErrServiceUnknown.New("service %q", name))
		return
	}
	sess, err := p.a.h.Sessions.CheckSessionFor(ctx, r.Header.Get(auth.HeaderSession), who, svc.Name)
	if err != nil {
		service.WriteProblem(w, r, err)
		return
	}
	if r.ContentLength > svc.MaxBytes {
		service.WriteProblem(w, r, bus.ErrBodyTooLarge.New("service %s accepts bodies of at most %d bytes", svc.Name, svc.MaxBytes))
		return
	}
	release, ok := p.acquire(svc)
	if !ok {
		service.WriteProblem(w, r, &bus.Error{Def: bus.ErrServiceBusy, Detail: "service " + svc.Name + " has " + strconv.Itoa(svc.MaxInFlight) + " calls in flight", RetryAfter: 1})
		return
	}
	defer release()
	if soap.BridgeOf(svc) != nil {
		p.bridge(w, r, svc, who) // REST ⇄ SOAP (soapbridge.go)
		return
	}
	// A service behind an outside gateway (gateway: ngsp) carries the
	// gateway's credentials instead of the bus's signature for the owner.
	var gw service.GatewayClient
	var key ownerKey
	if svc.Gateway != "" {
		var ok bool
		if gw, ok = p.a.h.Gateway(svc.Gateway); !ok {
			service.WriteProblem(w, r, bus.ErrServiceDown.New("service %s calls through gateway %s, which is not configured on this node (gateways.%s)", svc.Name, svc.Gateway, svc.Gateway))
			return
		}
	} else if key, err = p.ownerKey(ctx, svc.Owner); err != nil {
		service.WriteProblem(w, r, err)
		return
	}

	// The body: checked against the signed hash while it streams, with its
	// last byte held back until the check passed, so that the destination
	// never receives a whole body whose hash is wrong.
	var body *holdback
	var fixed []byte // a body read whole (token calls without a hash)
	length, bodyHash := r.ContentLength, who.BodySHA256
	switch {
	case bodyHash != "":
		body = &holdback{src: auth.VerifyBody(r.Body, bodyHash, nil), max: svc.MaxBytes}
		if length == 0 && bodyHash != auth.EmptySHA256 {
			length = -1 // let the check see the (empty) body and fail
		}
	case r.ContentLength == 0:
		bodyHash = auth.EmptySHA256
	default:
		if fixed, err = io.ReadAll(io.LimitReader(r.Body, svc.MaxBytes+1)); err != nil {
			var be *bus.Error
			if !errors.As(err, &be) {
				be = bus.ErrBadRequest.New("reading the body: %v", err)
			}
			service.WriteProblem(w, r, be)
			return
		}
		if int64(len(fixed)) > svc.MaxBytes {
			service.WriteProblem(w, r, bus.ErrBodyTooLarge.New("service %s accepts bodies of at most %d bytes", svc.Name, svc.MaxBytes))
			return
		}
		length, bodyHash = int64(len(fixed)), auth.HashBody(fixed)
	}

	if gw != nil && body != nil {
		// Read whole (hash checked) so that a call the gateway answers 401
		// can be sent once more with a fresh token.
		if fixed, err = io.ReadAll(body); err != nil {
			service.WriteProblem(w, r, body.failure())
			return
		}
		if fixed == nil {
			fixed = []byte{}
		}
		body, length = nil, int64(len(fixed))
	}

	tctx, cancel := context.WithTimeout(ctx, svc.Timeout)
	defer cancel()
	target := svc.Endpoint + strings.TrimPrefix(r.URL.EscapedPath(), "/svc/"+svc.Name)
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	// Idempotent methods without a body are sent again after a transport
	// error or a 502/503/504 (route services: retries), with the one
	// retry loop of the bus; the waits end with the call's timeout.
	var resp *http.Response
	var problem error // the coded refusal to write instead of an answer
	// The service's retry: (route files), with the waits of
	// route.ServiceRetry.Wait where it declares none.
	retry := svc.Retry.RetryPolicy
	if retry.Initial <= 0 {
		retry.Initial = route.DefaultServiceRetryInitial
	}
	if retry.MaxInterval <= 0 {
		retry.MaxInterval = max(route.DefaultServiceRetryMaxInterval, retry.Initial)
	}
	retry.MaxAttempts = svc.Attempts(r.Method)
	errAgain := errors.New("a 502/503/504 answer to send again")
	stopped := false // an attempt ended the call (problem, or nil: the caller went away)
	final := func(err error) error { stopped, problem = true, err; return bus.NoRetry(errAgain) }
	_ = bus.Retry(tctx, retry, func(attempt int) error {
		var rd io.Reader
		switch {
		case fixed != nil:
			rd = bytes.NewReader(fixed)
		case body != nil && length != 0:
			rd = body
		}
		out, err := http.NewRequestWithContext(tctx, r.Method, target, rd)
		if err != nil {
			return final(bus.ErrServiceDown.Wrap(err, "building the forwarded request"))
		}
		out.ContentLength = length
		if length == 0 {
			out.Body = http.NoBody
		}
		forwardHeaders(out.Header, r, svc, who, sess)
		if gw != nil {
			out.Header.Del(auth.HeaderSession) // the session key stays inside the province
			if resp, err = gw.Do(out); err != nil && tctx.Err() == nil && bus.CodeOf(err) != bus.ErrGatewayUnreachable.Code {
				return final(err) // the gateway refused LGSP's credentials or answered badly
			}
		} else {
			if serr := signForward(out, key, bodyHash); serr != nil {
				return final(serr)
			}
			resp, err = p.client.Do(out)
		}
		if err == nil {
			if length == 0 && (resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusGatewayTimeout) && attempt < retry.MaxAttempts {
				_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
				resp.Body.Close()
				resp = nil
				return errAgain
			}
			return nil // the destination answered: its answer goes back
		}
		resp = nil
		if bodyErr := body.failure(); bodyErr != nil {
			return final(bodyErr)
		}
		if errors.Is(ctx.Err(), context.Canceled) {
			return final(nil) // the caller went away
		}
		if tctx.Err() != nil {
			return final(bus.ErrServiceTimeout.Wrap(err, "service %s did not answer within %s", svc.Name, svc.Timeout))
		}
		// Only a call whose body was not touched may be sent again.
		if body.consumed() {
			return final(bus.ErrServiceDown.Wrap(err, "service %s could not be reached", svc.Name))
		}
		problem = bus.ErrServiceDown.Wrap(err, "service %s could not be reached", svc.Name)
		return err
	})
	if resp == nil {
		switch {
		case stopped && problem == nil:
			// the caller went away: nobody to answer
		case !stopped && (tctx.Err() != nil || problem == nil):
			service.WriteProblem(w, r, bus.ErrServiceTimeout.New("service %s did not answer within %s", svc.Name, svc.Timeout))
		default:
			service.WriteProblem(w, r, problem)
		}
		return
	}
	defer resp.Body.Close()

	// A6: the destination decided; its answer goes back as it is, but for
	// hop-by-hop headers and X-LGSP-* headers (which only the bus sets, so
	// that X-LGSP-Error-Code always means the bus refused).
	h := w.Header()
	for k, vs := range resp.Header {
		if hopHeader(k) || strings.HasPrefix(k, "X-Lgsp-") {
			continue
		}
		h[k] = vs
	}
	dropConnectionHeaders(h, resp.Header)
	w.WriteHeader(resp.StatusCode)
	buf := copyBufs.Get().(*[]byte)
	n, err := io.CopyBuffer(flushWriter{w}, resp.Body, *buf)
	copyBufs.Put(buf)
	l := service.Log(ctx)
	if err == nil && !l.Logger.IsLevelEnabled(logrus.DebugLevel) {
		return // the fields below cost four map copies per call
	}
	l = l.WithFields(logrus.Fields{"system": who.SystemCode, "service": svc.Name, "session_id": sess.ID, "upstream_status": resp.StatusCode})
	if err != nil {
		l.WithError(err).WithField("sent", n).Warn("service answer interrupted")
		return
	}
	l.Debug("service call")
}

// acquire takes an in-flight slot of svc without waiting: a full service
// is refused at once, so a slow destination holds only its own slots.
func (p *proxy) acquire(svc *route.Service) (func(), bool) {
	p.mu.Lock()
	sem, ok := p.sems[svc.Name]
	if !ok || cap(sem) != svc.MaxInFlight {
		sem = make(chan struct{}, svc.MaxInFlight)
		p.sems[svc.Name] = sem
	}
	p.mu.Unlock()
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, true
	default:
		return nil, false
	}
}

// ownerKey returns the newest active HMAC key of the owner system, which
// signs forwarded calls (as webhooks are signed).
func (p *proxy) ownerKey(ctx context.Context, owner string) (ownerKey, error) {
	now := time.Now()
	p.mu.Lock()
	k, ok := p.keys[owner]
	p.mu.Unlock()
	if ok && now.Before(k.until) {
		return k, nil
	}
	keys, err := p.a.st.ListKeys(ctx, owner)
	if err != nil {
		return ownerKey{}, bus.ErrUnavailable.Wrap(err, "reading the keys of %s", owner)
	}
	var best *store.Key
	for i := range keys {
		c := &keys[i]
		alg := c.Alg
		if alg == "" {
			alg = auth.AlgHMACSHA256
		}
		if c.Status != store.KeyActive || !c.RevokedAt.IsZero() || !c.ExpiresAt.IsZero() && !c.ExpiresAt.After(now) || !auth.IsShared(*c) {
			continue
		}
		if _, known := auth.LookupAlgorithm(alg); known && (best == nil || c.CreatedAt.After(best.CreatedAt)) {
			best = c
		}
	}
	if best == nil {
		return ownerKey{}, bus.ErrServiceDown.New("the owner system %s has no active HMAC key to sign forwarded calls with", owner)
	}
	secret, err := auth.SharedSecret(p.a.h.Vault, *best)
	if err != nil {
		return ownerKey{}, err
	}
	k = ownerKey{accessKey: best.AccessKey, alg: best.Alg, secret: secret, until: now.Add(ownerKeyTTL)}
	if k.alg == "" {
		k.alg = auth.AlgHMACSHA256
	}
	p.mu.Lock()
	p.keys[owner] = k
	p.mu.Unlock()
	return k, nil
}

// signForward signs a forwarded call with the LGSP signature protocol under
// the owner's key, covering the caller headers (ForwardSignedHeaders).
func signForward(out *http.Request, k ownerKey, bodyHash string) error {
	signed := ForwardSignedHeaders
	if out.Header.Get("Content-Type") == "" {
		signed = signed[1:]
	}
	alg, ok := auth.LookupAlgorithm(k.alg)
	if !ok {
		return bus.ErrInternal.New("algorithm %s of the owner's key is not registered", k.alg)
	}
	ts, nonce := strconv.FormatInt(time.Now().Unix(), 10), bus.RandomToken(16)
	canonical, err := auth.CanonicalRequestFor(k.alg, out, signed, ts, nonce, bodyHash)
	if err != nil {
		return bus.ErrBadRequest.Wrap(err, "the call cannot be signed for the destination: %s", bus.AsError(err).Detail)
	}
	sig, err := alg.Sign(k.secret, []byte(canonical))
	if err != nil {
		return bus.ErrInternal.Wrap(err, "signing the forwarded call")
	}
	out.Header.Set(auth.HeaderTimestamp, ts)
	out.Header.Set(auth.HeaderNonce, nonce)
	out.Header.Set(auth.HeaderContentSHA256, bodyHash)
	out.Header.Set(auth.HeaderAuthorization, auth.Authorization{Alg: k.alg, AccessKey: k.accessKey, SignedHeaders: signed, Signature: sig}.String())
	return nil
}

// forwardHeaders copies the caller's headers to the forwarded call, less
// hop-by-hop headers, its credentials and X-LGSP-* headers, applies the
// service's header rules and adds who is calling.
func forwardHeaders(dst http.Header, r *http.Request, svc *route.Service, who *auth.Principal, sess *auth.SessionInfo) {
	for k, vs := range r.Header {
		if hopHeader(k) || strings.HasPrefix(k, "X-Lgsp-") || k == "Authorization" || k == "Lgspaccesstoken" || k == "Expect" || k == "Content-Length" {
			continue
		}
		dst[k] = append([]string(nil), vs...)
	}
	dropConnectionHeaders(dst, r.Header)
	for _, k := range svc.Headers.Remove {
		dst.Del(k)
	}
	for k, v := range svc.Headers.Set {
		dst.Set(k, v)
	}
	if ip, _, ok := strings.Cut(r.RemoteAddr, ":"); ok && !strings.Contains(r.RemoteAddr, "[") {
		dst.Set("X-Forwarded-For", ip)
	}
	if rid := service.RequestID(r.Context()); rid != "" {
		dst.Set("X-Request-Id", rid)
	}
	dst.Set(HeaderCaller, who.SystemCode)
	dst.Set(HeaderSessionID, sess.ID)
	dst.Set(HeaderScope, sess.Scope)
	// The session key goes on too, so that the destination can verify it
	// itself (A4–A5) if it does not rely on the bus's signature.
	dst.Set(auth.HeaderSession, r.Header.Get(auth.HeaderSession))
}

// hopHeader reports the hop-by-hop headers of RFC 9110 §7.6.1 (and the
// non-standard ones proxies commonly see), in canonical form.
func hopHeader(k string) bool {
	switch k {
	case "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// dropConnectionHeaders removes from dst the headers that src's Connection
// header names as hop-by-hop.
func dropConnectionHeaders(dst, src http.Header) {
	for _, v := range src.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				dst.Del(name)
			}
		}
	}
}

// flushWriter flushes after every write, so that a streamed answer reaches
// the caller as the destination produces it.
type flushWriter struct{ w http.ResponseWriter }

// copyBufs holds the buffers that copy answers back to callers: io.Copy
// would allocate 32 KiB per call (neither side has ReadFrom/WriteTo),
// which was 39 % of the bytes the node allocated per service call.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (f flushWriter) Write(b []byte) (int, error) {
	n, err := f.w.Write(b)
	if fl, ok := f.w.(http.Flusher); ok {
		fl.Flush()
	}
	return n, err
}

// holdback forwards a request body that is checked as it streams: src is
// the body wrapped by auth.VerifyBody, which fails at its end when the hash
// is wrong. holdback keeps the last byte read back until src has ended
// well, so a body with a wrong hash never reaches the destination whole
// (its Content-Length is never met, and the transport aborts the call).
// It also bounds the body to max bytes.
type holdback struct {
	mu   sync.Mutex // Read runs in the transport's goroutine; failure may be asked from another
	src  io.Reader
	max  int64
	buf  []byte // unreleased bytes are buf[off:]
	off  int
	read int64 // bytes read from src
	err  error // sticky: io.EOF once src ended well, else why it failed
}

func (h *holdback) Read(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for h.err == nil && len(h.buf)-h.off < 2 {
		if h.buf == nil {
			h.buf = make([]byte, 0, 32<<10)
		}
		if h.off > 0 {
			h.buf = h.buf[:copy(h.buf, h.buf[h.off:])]
			h.off = 0
		}
		n, err := h.src.Read(h.buf[len(h.buf):cap(h.buf)])
		h.buf = h.buf[:len(h.buf)+n]
		h.read += int64(n)
		switch {
		case h.read > h.max:
			h.err = bus.ErrBodyTooLarge.New("the service accepts bodies of at most %d bytes", h.max)
		case err != nil:
			h.err = err
		}
	}
	avail := len(h.buf) - h.off
	switch {
	case h.err == nil:
		avail-- // the last byte waits for the end of the body
	case h.err != io.EOF:
		return 0, h.err
	}
	if avail == 0 {
		return 0, h.err
	}
	n := copy(p, h.buf[h.off:h.off+avail])
	h.off += n
	return n, nil
}

// failure returns why the body could not be forwarded, or nil.
func (h *holdback) failure() error {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err == nil || h.err == io.EOF {
		return nil
	}
	var be *bus.Error
	if errors.As(h.err, &be) {
		return be
	}
	return bus.ErrBadRequest.Wrap(h.err, "reading the request body")
}

// consumed reports whether any of the body was read (then the call cannot
// be sent again).
func (h *holdback) consumed() bool {
	if h == nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.read > 0
}

// callStatus remembers the status of a service call's answer for the
// activity log; Unwrap keeps http.ResponseController (flushes) working.
type callStatus struct {
	http.ResponseWriter
	status int
}

func (c *callStatus) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *callStatus) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.ResponseWriter.Write(b)
}

func (c *callStatus) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// Flush passes flushes through (streamed answers).
func (c *callStatus) Flush() {
	if fl, ok := c.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
}
