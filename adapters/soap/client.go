package soap

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tuyenquang/lgsp/bus"
)

// DefaultMaxResponse is the default bound of a response body (32 MiB).
const DefaultMaxResponse = 32 << 20

// sharedTransport is the one transport of every client that does not ask
// for its own (WithMaxIdleConnsPerHost, WithTLS, WithTransport): keep-alive
// connections are pooled per host across all clients of the process.
var sharedTransport = newTransport(16, nil)

// newTransport returns a transport with tlsCfg (WithTLS), or else one with
// the node's outbound TLS settings (outbound_tls), built at first use.
func newTransport(idlePerHost int, tlsCfg *tls.Config) http.RoundTripper {
	if tlsCfg != nil {
		return rawTransport(idlePerHost, tlsCfg)
	}
	return bus.NewTLSTransport(func() *http.Transport { return rawTransport(idlePerHost, nil) })
}

func rawTransport(idlePerHost int, tlsCfg *tls.Config) *http.Transport {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsCfg,
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   idlePerHost,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: 0, // bounded by the per-call timeout / ctx
		ForceAttemptHTTP2:     tlsCfg != nil,
	}
}

// Option configures a Client.
type Option func(*Client) error

// WithVersion makes the client speak SOAP v (default V11).
func WithVersion(v Version) Option {
	return func(c *Client) error {
		if v != V11 && v != V12 {
			return fmt.Errorf("unknown SOAP version %d", v)
		}
		c.version = v
		return nil
	}
}

// WithTimeout bounds every call (connect, send, wait, read) to d; the ctx
// of the call may end it sooner. 0 leaves calls bounded by their ctx only.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) error {
		if d < 0 {
			return fmt.Errorf("negative timeout %s", d)
		}
		c.timeout = d
		return nil
	}
}

// WithMaxIdleConnsPerHost gives the client its own transport that keeps up
// to n idle connections to the endpoint's host (the shared one keeps 16).
func WithMaxIdleConnsPerHost(n int) Option {
	return func(c *Client) error {
		if n <= 0 {
			return fmt.Errorf("MaxIdleConnsPerHost must be positive, got %d", n)
		}
		c.idlePerHost = n
		return nil
	}
}

// WithTLS gives the client its own transport with cfg (client
// certificates, private roots).
func WithTLS(cfg *tls.Config) Option {
	return func(c *Client) error { c.tls = cfg; return nil }
}

// WithTransport sends through rt instead of the shared transport (tests,
// instrumentation). The client never sets Request.Close.
func WithTransport(rt http.RoundTripper) Option {
	return func(c *Client) error { c.rt = rt; return nil }
}

// WithMaxResponseBytes bounds response bodies to n bytes (default 32 MiB);
// a larger answer is a request.too_large error.
func WithMaxResponseBytes(n int64) Option {
	return func(c *Client) error {
		if n <= 0 {
			return fmt.Errorf("max response bytes must be positive, got %d", n)
		}
		c.maxResponse = n
		return nil
	}
}

// WithHTTPHeader adds an HTTP header to every request.
func WithHTTPHeader(key, value string) Option {
	return func(c *Client) error { c.httpHeader.Add(key, value); return nil }
}

type callHeaderKey struct{}

// WithCallHeader returns a context whose calls carry one more HTTP header
// (the Idempotency-Key of one delivery, on a client shared by many).
func WithCallHeader(ctx context.Context, key, value string) context.Context {
	h, _ := ctx.Value(callHeaderKey{}).(http.Header)
	h = h.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set(key, value)
	return context.WithValue(ctx, callHeaderKey{}, h)
}

// WithSOAPHeader adds a SOAP header block to every request: a value with
// an XMLName (namespace included), or RawXML.
func WithSOAPHeader(v any) Option {
	return func(c *Client) error {
		var b bytes.Buffer
		if err := marshalValue(&b, v); err != nil {
			return fmt.Errorf("marshalling SOAP header %T: %w", v, err)
		}
		c.soapHeaders = append(c.soapHeaders, b.Bytes())
		return nil
	}
}

// WithUsernameToken adds a wsse:Security header with a UsernameToken to
// every request: a PasswordDigest (with Nonce and wsu:Created) when digest
// is true, else the password as PasswordText (also with Nonce and Created).
// The header is marked mustUnderstand.
func WithUsernameToken(user, password string, digest bool) Option {
	return func(c *Client) error {
		if user == "" {
			return errors.New("empty WS-Security username")
		}
		if c.wss == nil {
			c.wss = &wssConfig{mustUnderstand: true}
		}
		c.wss.user, c.wss.password, c.wss.digest = user, password, digest
		return nil
	}
}

// WithTimestamp adds a wsu:Timestamp (Created now, Expires now+ttl) to the
// wsse:Security header of every request.
func WithTimestamp(ttl time.Duration) Option {
	return func(c *Client) error {
		if ttl <= 0 {
			return fmt.Errorf("timestamp ttl must be positive, got %s", ttl)
		}
		if c.wss == nil {
			c.wss = &wssConfig{mustUnderstand: true}
		}
		c.wss.timestampTTL = ttl
		return nil
	}
}

// Client calls one SOAP endpoint. It is safe for concurrent use; make one
// per endpoint and keep it.
type Client struct {
	endpoint    string
	version     Version
	timeout     time.Duration
	idlePerHost int
	tls         *tls.Config
	rt          http.RoundTripper
	maxResponse int64
	httpHeader  http.Header
	soapHeaders [][]byte
	wss         *wssConfig
	hc          *http.Client
	now         func() time.Time
}

// NewClient returns a client of endpoint (an http or https URL).
func NewClient(endpoint string, opts ...Option) (*Client, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("soap endpoint %q is not an http(s) URL", endpoint)
	}
	c := &Client{endpoint: endpoint, maxResponse: DefaultMaxResponse, httpHeader: http.Header{}, now: time.Now}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, fmt.Errorf("soap client of %s: %w", endpoint, err)
		}
	}
	rt := c.rt
	if rt == nil {
		rt = sharedTransport
		if c.idlePerHost > 0 || c.tls != nil {
			n := c.idlePerHost
			if n == 0 {
				n = 16
			}
			rt = newTransport(n, c.tls)
		}
	}
	// No redirects: a SOAP POST that is redirected is a misconfiguration.
	c.hc = &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return c, nil
}

// ErrMarshal is wrapped by Call's error when the request cannot be
// marshalled: a fault of the request's type or values that no retry cures.
var ErrMarshal = errors.New("the request cannot be marshalled")

// Endpoint returns the URL the client calls.
func (c *Client) Endpoint() string { return c.endpoint }

// Version returns the SOAP version the client speaks.
func (c *Client) Version() Version { return c.version }

// CloseIdleConnections closes the idle connections of the client's
// transport (the shared one included).
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// Call sends req (marshalled with encoding/xml as the body element, or
// RawXML) as the SOAP action and decodes the first body element of the
// answer into resp (nil: discard). A fault comes back as *Fault; transport
// failures as service.unreachable, timeouts as service.timeout and an
// oversized answer as request.too_large catalogue errors.
func (c *Client) Call(ctx context.Context, action string, req, resp any) error {
	var body bytes.Buffer
	if err := marshalValue(&body, req); err != nil {
		return fmt.Errorf("marshalling SOAP request %T: %w: %w", req, ErrMarshal, err)
	}
	return c.do(ctx, action, body.Bytes(), func(r *reader, start xml.StartElement, off int64) error {
		if resp == nil {
			return r.dec.Skip()
		}
		if raw, ok := resp.(*RawXML); ok {
			b, err := r.capture(start, off)
			*raw = b
			return err
		}
		if err := r.dec.DecodeElement(resp, &start); err != nil {
			return bus.ErrServiceDown.New("decoding the SOAP answer {%s}%s of %s: %v", start.Name.Space, start.Name.Local, c.endpoint, err)
		}
		return nil
	})
}

// CallRaw sends body, one serialised element, as the SOAP action and
// returns the first body element of the answer as standalone XML.
func (c *Client) CallRaw(ctx context.Context, action string, body []byte) (RawXML, error) {
	var out RawXML
	err := c.do(ctx, action, body, func(r *reader, start xml.StartElement, off int64) error {
		b, err := r.capture(start, off)
		out = b
		return err
	})
	return out, err
}

// do sends one envelope and hands the first body element of a non-fault
// answer to onBody.
func (c *Client) do(ctx context.Context, action string, body []byte, onBody func(r *reader, start xml.StartElement, off int64) error) error {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	headers := c.soapHeaders
	if c.wss != nil {
		sec, err := c.wss.securityHeader(c.version, c.now())
		if err != nil {
			return fmt.Errorf("building wsse:Security: %w", err)
		}
		headers = append(append(make([][]byte, 0, len(headers)+1), sec), headers...)
	}
	var env bytes.Buffer
	env.Grow(len(body) + 512)
	_ = writeEnvelope(&env, c.version, headers, func(b *bytes.Buffer) error { b.Write(body); return nil })

	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(env.Bytes()))
	if err != nil {
		return fmt.Errorf("building SOAP request to %s: %w", c.endpoint, err)
	}
	for k, vs := range c.httpHeader {
		hreq.Header[k] = vs
	}
	if h, ok := ctx.Value(callHeaderKey{}).(http.Header); ok {
		for k, vs := range h {
			hreq.Header[k] = vs
		}
	}
	hreq.Header.Set("Content-Type", c.version.contentType(action))
	if c.version == V11 {
		hreq.Header.Set("SOAPAction", strconv.Quote(action))
	}
	hreq.Header.Set("Accept", c.version.mediaType())
	res, err := c.hc.Do(hreq)
	if err != nil {
		return c.transportError(ctx, err)
	}
	defer res.Body.Close()
	data, err := readLimited(res.Body, c.maxResponse, "SOAP response of "+c.endpoint)
	if err != nil {
		var be *bus.Error
		if errors.As(err, &be) {
			return be
		}
		return c.transportError(ctx, err)
	}
	r := newReader(data)
	if err := r.envelope(); err != nil {
		return c.notSOAP(res, data, err)
	}
	first, off, ok, err := r.headerAndBody(func(b headerBlock) error { return r.dec.Skip() })
	if err != nil {
		return c.notSOAP(res, data, err)
	}
	if !ok {
		if res.StatusCode >= 300 {
			return c.notSOAP(res, data, errors.New("empty Body"))
		}
		return nil // one-way answer with an empty body
	}
	if first.Name.Space == r.ver.Namespace() && first.Name.Local == "Fault" {
		f, err := r.readFault(first)
		if err != nil {
			return bus.ErrServiceDown.New("reading the fault from %s: %v", c.endpoint, err)
		}
		f.HTTPStatus = res.StatusCode
		if ra, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil {
			f.RetryAfter = ra
		}
		return f
	}
	if res.StatusCode >= 300 {
		return c.notSOAP(res, data, errors.New("a non-fault body with an error status"))
	}
	if err := onBody(r, first, off); err != nil {
		var be *bus.Error
		if errors.As(err, &be) {
			return err
		}
		return bus.ErrServiceDown.New("reading the SOAP answer of %s: %v", c.endpoint, err)
	}
	return nil
}

// transportError classifies a failure to exchange the HTTP request.
func (c *Client) transportError(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return bus.ErrServiceTimeout.Wrap(err, "no SOAP answer from %s in time", c.endpoint)
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("calling %s: %w", c.endpoint, ctx.Err())
	}
	return bus.ErrServiceDown.Wrap(err, "calling %s", c.endpoint)
}

// HTTPError is an answer that is not a SOAP envelope (or not the one
// expected); it is the cause of the catalogue error the client returns.
type HTTPError struct {
	StatusCode  int
	ContentType string
	Body        []byte // at most the first 1 KiB
	Reason      error
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("HTTP %d (%s): %v: %q", e.StatusCode, e.ContentType, e.Reason, e.Body)
}

func (e *HTTPError) Unwrap() error { return e.Reason }

// notSOAP turns a non-SOAP answer into service.busy (503) or
// service.unreachable with an *HTTPError cause.
func (c *Client) notSOAP(res *http.Response, data []byte, reason error) error {
	if len(data) > 1024 {
		data = data[:1024]
	}
	he := &HTTPError{StatusCode: res.StatusCode, ContentType: res.Header.Get("Content-Type"), Body: data, Reason: reason}
	if res.StatusCode == http.StatusServiceUnavailable || res.StatusCode == http.StatusTooManyRequests {
		e := bus.ErrServiceBusy.Wrap(he, "%s answered HTTP %d", c.endpoint, res.StatusCode)
		e.RetryAfter, _ = strconv.Atoi(res.Header.Get("Retry-After"))
		return e
	}
	return bus.ErrServiceDown.Wrap(he, "%s answered HTTP %d without a SOAP envelope (%s)", c.endpoint, res.StatusCode, strings.TrimSpace(reason.Error()))
}
