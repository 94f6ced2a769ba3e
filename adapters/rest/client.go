package rest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/exchange"
	"github.com/tuyenquang/lgsp/bus/notify"
	"github.com/tuyenquang/lgsp/bus/service"
)

// Client calls the LGSP REST API as a connected system, signing every
// request with its key pair.
type Client struct {
	BaseURL   string // e.g. http://127.0.0.1:8080
	AccessKey string
	SecretKey string
	HTTP      *http.Client
	// Now is the clock used for signatures (default time.Now).
	Now func() time.Time
	// MaxRetries is how many times a request refused with 429 or 503 and a
	// Retry-After (busy, database outage, draining) is sent again, after
	// waiting Retry-After plus up to half of it again at random, so that
	// clients refused together do not come back together (default 3;
	// negative: never). Streamed uploads are not resent: UploadFile
	// resumes from the offset the server holds.
	MaxRetries int
	// MaxRetryWait caps one wait (default 60 s); a Retry-After above it
	// ends the retries with the refusal.
	MaxRetryWait time.Duration
}

// Credentials is the JSON file `lgsp keys issue --out` writes.
type Credentials struct {
	URL       string `json:"url"`
	System    string `json:"system"`
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key"`
}

// LoadCredentials reads a credentials file.
func LoadCredentials(path string) (Credentials, error) {
	var c Credentials
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// APIError is a problem+json answer.
type APIError struct {
	service.Problem
	HTTPStatus int
	RetryAfter string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("%s (HTTP %d): %s", e.Code, e.HTTPStatus, e.MessageEN)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s + " / " + e.MessageVI
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// do sends a signed request with a small body held in memory, again after
// the Retry-After of a refusal (MaxRetries).
func (c *Client) do(ctx context.Context, method, path string, in, out any, hdr http.Header) (*http.Response, error) {
	var resp *http.Response
	// The waits come from the server (retryWait); the policy only bounds
	// the attempts, which retryWait already does.
	err := bus.Retry(ctx, bus.RetryPolicy{MaxAttempts: math.MaxInt, MaxElapsed: math.MaxInt64}, func(n int) error {
		var err error
		resp, err = c.doOnce(ctx, method, path, in, out, hdr)
		if err == nil {
			return nil
		}
		if wait, ok := c.retryWait(err, n-1); ok {
			return bus.RetryAfter(err, wait)
		}
		return bus.NoRetry(err)
	})
	return resp, err
}

// retryWait says whether a refusal err of the attempt-th try is retried,
// and after how long: Retry-After plus a random 0–50 % of it.
func (c *Client) retryWait(err error, attempt int) (time.Duration, bool) {
	max := c.MaxRetries
	if max == 0 {
		max = 3
	}
	e, ok := err.(*APIError)
	if !ok || attempt >= max || (e.HTTPStatus != http.StatusServiceUnavailable && e.HTTPStatus != http.StatusTooManyRequests) {
		return 0, false
	}
	ra, perr := strconv.Atoi(e.RetryAfter)
	if perr != nil || ra < 0 {
		return 0, false
	}
	limit := c.MaxRetryWait
	if limit <= 0 {
		limit = time.Minute
	}
	wait := time.Duration(ra) * time.Second
	if wait > limit {
		return 0, false
	}
	return RetryJitter(wait), true
}

// RetryJitter returns d plus a random 0–50 % of d (at least 0–500 ms), the
// wait after a Retry-After of d: clients refused at the same moment spread
// their return instead of hammering the node together.
func RetryJitter(d time.Duration) time.Duration {
	span := max(d/2, 500*time.Millisecond)
	return d + rand.N(span)
}

func (c *Client) doOnce(ctx context.Context, method, path string, in, out any, hdr http.Header) (*http.Response, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return nil, err
		}
	}
	sum := sha256.Sum256(body)
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if err := auth.Sign(req, c.AccessKey, c.SecretKey, hex.EncodeToString(sum[:]), c.now(), bus.RandomToken(16)); err != nil {
		return nil, err
	}
	return c.finish(req, out)
}

func (c *Client) finish(req *http.Request, out any) (*http.Response, error) {
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		return resp, decodeProblem(resp)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp, nil
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return resp, fmt.Errorf("decoding answer of %s %s: %w", req.Method, req.URL.Path, err)
	}
	return resp, nil
}

func decodeProblem(resp *http.Response) error {
	e := &APIError{HTTPStatus: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After")}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(b, &e.Problem) != nil || e.Code == "" {
		e.Code = resp.Header.Get("X-LGSP-Error-Code")
		e.MessageEN = strings.TrimSpace(string(b))
		if e.MessageEN == "" {
			e.MessageEN = resp.Status
		}
	}
	return e
}

// ConnectResult is the answer of F1.
type ConnectResult struct {
	SessionID string               `json:"session_id"`
	System    string               `json:"system"`
	ExpiresAt time.Time            `json:"expires_at"`
	Pending   []exchange.InboxView `json:"pending"`
}

// Connect is F1.
func (c *Client) Connect(ctx context.Context) (*ConnectResult, error) {
	var out ConnectResult
	_, err := c.do(ctx, http.MethodPost, "/v1/connect", nil, &out, nil)
	return &out, err
}

// Request is F2.
func (c *Client) Request(ctx context.Context, req exchange.Request) (*exchange.Space, error) {
	var out exchange.Space
	_, err := c.do(ctx, http.MethodPost, "/v1/exchanges", req, &out, nil)
	return &out, err
}

// Upload sends size bytes read from body, whose SHA-256 is sumHex, to the
// space of id starting at offset (F3). body is streamed.
func (c *Client) Upload(ctx context.Context, id string, offset int64, body io.Reader, size int64, sumHex string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, strings.TrimRight(c.BaseURL, "/")+"/v1/exchanges/"+id+"/content", io.NopCloser(body))
	if err != nil {
		return 0, err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set(HeaderUploadOffset, strconv.FormatInt(offset, 10))
	if err := auth.Sign(req, c.AccessKey, c.SecretKey, sumHex, c.now(), bus.RandomToken(16)); err != nil {
		return 0, err
	}
	var out struct {
		Received int64 `json:"received"`
	}
	resp, err := c.finish(req, &out)
	if err != nil && resp != nil {
		n, _ := strconv.ParseInt(resp.Header.Get(HeaderUploadOffset), 10, 64)
		return n, err
	}
	return out.Received, err
}

// UploadBytes uploads a small payload in one part.
func (c *Client) UploadBytes(ctx context.Context, id string, b []byte) (int64, error) {
	s := sha256.Sum256(b)
	return c.Upload(ctx, id, 0, bytes.NewReader(b), int64(len(b)), hex.EncodeToString(s[:]))
}

// UploadFile uploads a file, resuming from what the space already holds: it
// asks the server for its offset and sends the rest. It returns the file's
// SHA-256 (for Complete).
func (c *Client) UploadFile(ctx context.Context, id, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	off, err := c.UploadOffset(ctx, id)
	if err != nil {
		return "", err
	}
	whole := sha256.New()
	if _, err := io.Copy(whole, io.NewSectionReader(f, 0, st.Size())); err != nil {
		return "", err
	}
	part := sha256.New()
	if _, err := io.Copy(part, io.NewSectionReader(f, off, st.Size()-off)); err != nil {
		return "", err
	}
	if off < st.Size() {
		if _, err := c.Upload(ctx, id, off, io.NewSectionReader(f, off, st.Size()-off), st.Size()-off, hex.EncodeToString(part.Sum(nil))); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(whole.Sum(nil)), nil
}

// UploadOffset asks how many bytes the space of id holds.
func (c *Client) UploadOffset(ctx context.Context, id string) (int64, error) {
	resp, err := c.do(ctx, http.MethodHead, "/v1/exchanges/"+id+"/content", nil, nil, nil)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(resp.Header.Get(HeaderUploadOffset), 10, 64)
}

// Complete ends F3 (content and policy) and triggers F4.
func (c *Client) Complete(ctx context.Context, id string, req exchange.CompleteRequest) (*exchange.View, error) {
	var out exchange.View
	_, err := c.do(ctx, http.MethodPost, "/v1/exchanges/"+id+"/complete", req, &out, nil)
	return &out, err
}

// Cancel ends an exchange the client sent.
func (c *Client) Cancel(ctx context.Context, id string) (*exchange.View, error) {
	var out exchange.View
	_, err := c.do(ctx, http.MethodPost, "/v1/exchanges/"+id+"/cancel", nil, &out, nil)
	return &out, err
}

// Inbox is F5.
func (c *Client) Inbox(ctx context.Context) ([]exchange.InboxView, error) {
	var out struct {
		Items []exchange.InboxView `json:"items"`
	}
	_, err := c.do(ctx, http.MethodGet, "/v1/inbox", nil, &out, nil)
	return out.Items, err
}

// Ready is F6.
func (c *Client) Ready(ctx context.Context, id string) (*exchange.Download, error) {
	var out exchange.Download
	_, err := c.do(ctx, http.MethodPost, "/v1/exchanges/"+id+"/ready", nil, &out, nil)
	return &out, err
}

// Download writes the content of id from offset to w (F7) and checks the
// SHA-256 when the whole content was fetched. It returns the bytes written.
func (c *Client) Download(ctx context.Context, id string, offset int64, w io.Writer) (int64, error) {
	hdr := http.Header{}
	if offset > 0 {
		hdr.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(c.BaseURL, "/")+"/v1/exchanges/"+id+"/content", nil)
	if err != nil {
		return 0, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if err := auth.Sign(req, c.AccessKey, c.SecretKey, auth.EmptySHA256, c.now(), bus.RandomToken(16)); err != nil {
		return 0, err
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return 0, decodeProblem(resp)
	}
	h := sha256.New()
	dst := w
	if offset == 0 {
		dst = io.MultiWriter(w, h)
	}
	n, err := io.Copy(dst, resp.Body)
	if err != nil {
		return n, err
	}
	if offset == 0 {
		if want := resp.Header.Get("X-LGSP-Content-SHA256"); want != "" && want != hex.EncodeToString(h.Sum(nil)) {
			return n, fmt.Errorf("downloaded content of %s does not match its SHA-256", id)
		}
	}
	return n, nil
}

// Confirm ends F7.
func (c *Client) Confirm(ctx context.Context, id, outcome, note string) (*exchange.View, error) {
	var out exchange.View
	_, err := c.do(ctx, http.MethodPost, "/v1/exchanges/"+id+"/confirm", map[string]string{"outcome": outcome, "note": note}, &out, nil)
	return &out, err
}

// Status reads an exchange's status and ledger.
func (c *Client) Status(ctx context.Context, id string) (*exchange.View, error) {
	var out exchange.View
	_, err := c.do(ctx, http.MethodGet, "/v1/exchanges/"+id, nil, &out, nil)
	return &out, err
}

// Events subscribes to the live notifications (SSE) and calls fn for each
// until ctx is done, fn returns an error, or the stream ends.
func (c *Client) Events(ctx context.Context, after int64, fn func(notify.Event) error) error {
	return c.EventFrames(ctx, after, func(f EventFrame) error {
		var e notify.Event
		if err := json.Unmarshal(f.Data, &e); err != nil || e.ID <= 0 {
			return nil
		}
		return fn(e)
	})
}

// EventFrame is one Server-Sent Events frame of the live notifications as
// the node sent it: its "id:" (the ledger id, 0 when absent), "event:" (the
// kind) and "data:" (the event's JSON) fields. The slices are valid only
// during the call that receives them.
type EventFrame struct {
	ID    int64
	Event []byte
	Data  []byte
}

// EventFrames is Events without decoding: fn gets each frame's fields as
// read, for a reader that needs only part of the event (the load
// generator's fanout mode reads 10,000 streams and decodes two fields).
// Frames without data (comments, pings) are skipped.
func (c *Client) EventFrames(ctx context.Context, after int64, fn func(EventFrame) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(c.BaseURL, "/")+"/v1/events", nil)
	if err != nil {
		return err
	}
	if after > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(after, 10))
	}
	req.Header.Set("Accept", "text/event-stream")
	if err := auth.Sign(req, c.AccessKey, c.SecretKey, auth.EmptySHA256, c.now(), bus.RandomToken(16)); err != nil {
		return err
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return decodeProblem(resp)
	}
	// A small first buffer that grows to 1 MiB only for long lines: a
	// process holding thousands of streams (the load generator's fanout
	// mode, issue #13) does not hold 64 KiB for each.
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 4<<10), 1<<20)
	var f EventFrame
	var kind, data []byte
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case bytes.HasPrefix(line, []byte("data: ")):
			data = append(data[:0], line[len("data: "):]...)
		case bytes.HasPrefix(line, []byte("event: ")):
			kind = append(kind[:0], line[len("event: "):]...)
		case bytes.HasPrefix(line, []byte("id: ")):
			f.ID = parseEventID(line[len("id: "):])
		case len(line) == 0:
			if len(data) > 0 {
				f.Event, f.Data = kind, data
				if err := fn(f); err != nil {
					return err
				}
			}
			f, kind, data = EventFrame{}, kind[:0], data[:0]
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return sc.Err()
}

// parseEventID reads a decimal SSE id without allocating; 0 if it is not one.
func parseEventID(b []byte) int64 {
	if len(b) == 0 || len(b) > 18 {
		return 0
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// ServiceSession is the answer of OpenSession (A2): the session key, shown
// once, and the access information for calls through the bus (A3).
type ServiceSession struct {
	SessionID  string    `json:"session_id"`
	SessionKey string    `json:"session_key"`
	Source     string    `json:"source"`
	Service    string    `json:"service"`
	Scope      string    `json:"scope"`
	ExpiresAt  time.Time `json:"expires_at"`
	Endpoint   string    `json:"endpoint"` // /svc/<name>/
}

// OpenSession is A1–A2: it asks for a session key to call a service with a
// scope.
func (c *Client) OpenSession(ctx context.Context, req OpenSessionRequest) (*ServiceSession, error) {
	var out ServiceSession
	_, err := c.do(ctx, http.MethodPost, "/v1/auth/sessions", req, &out, nil)
	return &out, err
}

// RevokeSession ends a session the client opened.
func (c *Client) RevokeSession(ctx context.Context, id string) error {
	_, err := c.do(ctx, http.MethodDelete, "/v1/auth/sessions/"+id, nil, nil, nil)
	return err
}

// VerifySession is A4–A5, for a destination: it asks whether a session key
// a caller presented is valid for its service. The client must be the
// owner system of the service.
func (c *Client) VerifySession(ctx context.Context, req VerifySessionRequest) (*SessionVerdict, error) {
	var out SessionVerdict
	_, err := c.do(ctx, http.MethodPost, "/v1/auth/verify", req, &out, nil)
	return &out, err
}

// CallService is A3: it calls path (relative to the service, e.g.
// "ho-so/123?nam=2026") of the session's service through the bus, signed,
// with the session key. The destination's answer comes back as it is — the
// caller reads and closes its body — whatever its status. Only when the bus
// itself refused the call (the answer carries X-LGSP-Error-Code) is the
// error an *APIError.
func (c *Client) CallService(ctx context.Context, s *ServiceSession, method, path string, body []byte, hdr http.Header) (*http.Response, error) {
	u := strings.TrimRight(c.BaseURL, "/") + s.Endpoint + strings.TrimPrefix(path, "/")
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if len(body) == 0 {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set(auth.HeaderSession, s.SessionKey)
	if err := auth.Sign(req, c.AccessKey, c.SecretKey, auth.HashBody(body), c.now(), bus.RandomToken(16)); err != nil {
		return nil, err
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, err
	}
	if resp.Header.Get("X-LGSP-Error-Code") != "" {
		defer resp.Body.Close()
		return resp, decodeProblem(resp)
	}
	return resp, nil
}

// Forwarded is what a destination learns from a call the bus forwarded,
// once VerifyForwarded checked the bus's signature.
type Forwarded struct {
	Caller     string // identifier code of the source (X-LGSP-Caller)
	SessionID  string // X-LGSP-Session-Id
	Scope      string // X-LGSP-Scope
	AccessKey  string // the destination's own access key that the bus signed with
	BodySHA256 string // check the body with auth.VerifyBody(r.Body, BodySHA256, nil)
}

// VerifyForwarded is for a destination written in Go: it checks that r was
// forwarded by the bus — signed with the destination's own secret
// (secretFor returns the secret of one of its access keys, or "" for a key
// it does not know), within skew of now, covering the caller headers — and
// returns who is calling. Replays are the destination's to refuse, by
// remembering X-LGSP-Nonce for the skew window, if it cares.
func VerifyForwarded(r *http.Request, secretFor func(accessKey string) string, now time.Time, skew time.Duration) (*Forwarded, error) {
	az, err := auth.ParseAuthorization(r.Header.Get(auth.HeaderAuthorization))
	if err != nil {
		return nil, err
	}
	alg, ok := auth.LookupAlgorithm(az.Alg)
	if !ok {
		return nil, bus.ErrAuthAlgorithm.New("algorithm %s", az.Alg)
	}
	for _, want := range ForwardSignedHeaders[1:] {
		if !slices.Contains(az.SignedHeaders, want) {
			return nil, bus.ErrAuthMalformed.New("the signature does not cover %s", want)
		}
	}
	secret := secretFor(az.AccessKey)
	if secret == "" {
		return nil, bus.ErrAuthUnknownKey.New("access key %s", az.AccessKey)
	}
	ts := r.Header.Get(auth.HeaderTimestamp)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, bus.ErrAuthMalformed.New("bad %s", auth.HeaderTimestamp)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > skew || d < -skew {
		return nil, bus.ErrAuthClockSkew.New("%s is %s", auth.HeaderTimestamp, ts)
	}
	canonical, err := auth.CanonicalRequestFor(az.Alg, r, az.SignedHeaders, ts, r.Header.Get(auth.HeaderNonce), r.Header.Get(auth.HeaderContentSHA256))
	if err != nil {
		return nil, err
	}
	if !alg.Verify([]byte(secret), []byte(canonical), az.Signature) {
		return nil, bus.ErrAuthBadSignature.New("the bus's signature does not match")
	}
	return &Forwarded{Caller: r.Header.Get(HeaderCaller), SessionID: r.Header.Get(HeaderSessionID), Scope: r.Header.Get(HeaderScope), AccessKey: az.AccessKey, BodySHA256: r.Header.Get(auth.HeaderContentSHA256)}, nil
}

// SendStatus sends an edXML status packet about exchange id, of which the
// client is a recipient (POST /v1/exchanges/{id}/status); the sender sees
// it as a "status" event in the ledger and over the live notifications.
func (c *Client) SendStatus(ctx context.Context, id string, packet []byte) (*exchange.StatusReport, error) {
	sum := sha256.Sum256(packet)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.BaseURL, "/")+"/v1/exchanges/"+id+"/status", bytes.NewReader(packet))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/xml")
	if err := auth.Sign(req, c.AccessKey, c.SecretKey, hex.EncodeToString(sum[:]), c.now(), bus.RandomToken(16)); err != nil {
		return nil, err
	}
	var out exchange.StatusReport
	_, err = c.finish(req, &out)
	return &out, err
}
