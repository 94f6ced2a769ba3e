package ngsp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/metrics"
)

// Client is an OAuth2 client-credentials client for NGSP. Safe for
// concurrent use.
type Client struct {
	TokenURL     string // e.g. https://api.ngsp.gov.vn/token
	ClientID     string // WSO2 consumer key
	ClientSecret string // WSO2 consumer secret
	Scope        string // optional
	HTTP         *http.Client
	// RefreshAt is the fraction of expires_in after which the token is
	// renewed (default 0.8).
	RefreshAt float64
	Now       func() time.Time

	mu      sync.Mutex // held while a token is fetched: one fetch for all callers
	token   string
	refresh time.Time // renew from this time on
	expiry  time.Time
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: defaultTransport}
}

// defaultTransport carries the calls of clients without HTTP of their own,
// with the outbound TLS settings (outbound_tls) of the node.
var defaultTransport = bus.NewTLSTransport(func() *http.Transport {
	return http.DefaultTransport.(*http.Transport).Clone()
})

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// TokenReply is the token endpoint's answer.
type TokenReply struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
}

// Token returns a valid access token, fetching a new one when there is
// none or the cached one reached its refresh time.
func (c *Client) Token(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && c.now().Before(c.refresh) {
		return c.token, nil
	}
	return c.fetch(ctx)
}

// Invalidate drops token from the cache (if it is the cached one), so
// that the next call fetches a new one.
func (c *Client) Invalidate(token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token == token {
		c.token = ""
	}
}

// fetch asks the token endpoint for a new token; every attempt feeds the
// gateway metrics and the gateway_failing alert (ngsp/token).
func (c *Client) fetch(ctx context.Context) (tok string, err error) {
	defer func() { metrics.GatewayCall("ngsp", "token", err) }()
	form := url.Values{"grant_type": {"client_credentials"}}
	if c.Scope != "" {
		form.Set("scope", c.Scope)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("ngsp token: %w", err)
	}
	req.SetBasicAuth(c.ClientID, c.ClientSecret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http().Do(req)
	if err != nil {
		return "", bus.ErrGatewayUnreachable.Wrap(err, "ngsp token endpoint %s", c.TokenURL)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return "", bus.ErrGatewayAuth.New("ngsp token: HTTP %d: %s", resp.StatusCode, oauthError(b))
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return "", bus.ErrGatewayUnreachable.New("ngsp token: HTTP %d", resp.StatusCode)
	default:
		return "", bus.ErrGatewayRefused.New("ngsp token: HTTP %d: %s", resp.StatusCode, oauthError(b))
	}
	var tr TokenReply
	if err := json.Unmarshal(b, &tr); err != nil || tr.AccessToken == "" {
		return "", bus.ErrGatewayBadReply.New("ngsp token: answer has no access_token")
	}
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "bearer") {
		return "", bus.ErrGatewayBadReply.New("ngsp token: token_type %q, want Bearer", tr.TokenType)
	}
	life := time.Duration(tr.ExpiresIn) * time.Second
	if life <= 0 {
		life = time.Hour // WSO2's default
	}
	frac := c.RefreshAt
	if frac <= 0 || frac >= 1 {
		frac = 0.8
	}
	now := c.now()
	c.token, c.refresh, c.expiry = tr.AccessToken, now.Add(time.Duration(float64(life)*frac)), now.Add(life)
	return c.token, nil
}

func oauthError(b []byte) string {
	var e struct {
		Error string `json:"error"`
		Desc  string `json:"error_description"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return strings.TrimSpace(e.Error + " " + e.Desc)
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// Do sends req with the bearer token. When the answer is 401 it fetches a
// fresh token and sends the request once more (its body is replayed with
// req.GetBody; requests built by http.NewRequest from a bytes or strings
// reader have one). Transport errors are gateway.unreachable; a second 401
// is gateway.auth; other answers are returned as they are.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	tok, err := c.Token(req.Context())
	if err != nil {
		return nil, err
	}
	resp, err := c.send(req, tok)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	resp.Body.Close()
	c.Invalidate(tok)
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return nil, bus.ErrGatewayAuth.New("ngsp %s: token refused and the body cannot be replayed", req.URL.Path)
		}
		if req.Body, err = req.GetBody(); err != nil {
			return nil, fmt.Errorf("ngsp %s: replaying body: %w", req.URL.Path, err)
		}
	}
	if tok, err = c.Token(req.Context()); err != nil {
		return nil, err
	}
	resp, err = c.send(req, tok)
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		resp.Body.Close()
		return nil, bus.ErrGatewayAuth.New("ngsp %s: HTTP 401 with a fresh token", req.URL.Path)
	}
	return resp, err
}

func (c *Client) send(req *http.Request, tok string) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+tok)
	resp, err := c.http().Do(r)
	if err != nil {
		return nil, bus.ErrGatewayUnreachable.Wrap(err, "ngsp %s %s", req.Method, req.URL.Redacted())
	}
	return resp, nil
}

// CallJSON sends method url with in as the JSON body (nil: none) and
// decodes a 2xx JSON answer into out (nil: discarded). 401 → gateway.auth
// (after one retry with a fresh token), 5xx/429 → gateway.unreachable,
// other statuses → gateway.refused.
func (c *Client) CallJSON(ctx context.Context, method, url string, in, out any) error {
	var body io.Reader = http.NoBody
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("ngsp %s: %w", url, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return fmt.Errorf("ngsp %s: %w", url, err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode/100 == 2:
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return bus.ErrGatewayUnreachable.New("ngsp %s: HTTP %d", req.URL.Path, resp.StatusCode)
	default:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return bus.ErrGatewayRefused.New("ngsp %s: HTTP %d: %s", req.URL.Path, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return bus.ErrGatewayBadReply.Wrap(err, "ngsp %s: answer is not JSON", req.URL.Path)
	}
	return nil
}
