package test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/adapters/rest"
	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/service"
)

const (
	svcSource   = "000.00.01.H60" // calls the service
	svcOwner    = "000.00.02.H60" // publishes it (the destination)
	svcOutsider = "000.00.03.H60" // registered, but granted nothing
)

// destination is the destination service of the test: on every call it
// checks the bus's signature on the forwarded headers with its own secret
// and asks the bus to verify the session key (A4–A5), then decides (A6).
type destination struct {
	t      *testing.T
	owner  atomic.Pointer[rest.Client] // set once the node is up
	calls  atomic.Int64                // calls that passed both checks
	bodies atomic.Int64                // bodies received whole
	mu     sync.Mutex
	last   *rest.Forwarded
}

func (d *destination) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	owner := d.owner.Load()
	fw, err := rest.VerifyForwarded(r, func(ak string) string {
		if ak == owner.AccessKey {
			return owner.SecretKey
		}
		return ""
	}, time.Now(), 5*time.Minute)
	if err != nil {
		d.t.Errorf("destination: the bus's signature does not verify: %v", err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err == nil && int64(len(body)) == r.ContentLength {
		d.bodies.Add(1) // whole, whatever its hash
	}
	if err != nil || auth.HashBody(body) != fw.BodySHA256 {
		http.Error(w, "body", http.StatusBadRequest)
		return
	}
	for _, h := range []string{"Authorization", "Lgspaccesstoken", "Cookie"} {
		if r.Header.Get(h) != "" && h != "Authorization" {
			d.t.Errorf("destination: %s was forwarded", h)
		}
	}
	if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer") {
		d.t.Error("destination: the caller's bearer token was forwarded")
	}
	v, err := owner.VerifySession(r.Context(), rest.VerifySessionRequest{SessionKey: r.Header.Get(auth.HeaderSession), Source: fw.Caller, Service: "tra-cuu"})
	if bus.Code(apiCode(err)) == bus.ErrSessionExpired.Code {
		// A6: a session that expired between the bus's check and this
		// one (the one-second session of "expired session") is refused.
		http.Error(w, "session expired", http.StatusForbidden)
		return
	}
	if err != nil || !v.Valid || v.ID != fw.SessionID || v.Scope != fw.Scope || v.Source != fw.Caller {
		d.t.Errorf("destination: A5 answered %+v, %v for %+v", v, err, fw)
		http.Error(w, "session", http.StatusForbidden)
		return
	}
	d.mu.Lock()
	d.last = fw
	d.mu.Unlock()
	d.calls.Add(1)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Dest", "tra-cuu")
	w.Header().Set("X-LGSP-Error-Code", "spoofed") // the bus must not pass it on
	status := http.StatusOK
	if r.Method == http.MethodPost {
		status = http.StatusCreated
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"caller": fw.Caller, "scope": fw.Scope, "path": r.URL.RequestURI(), "body": string(body), "x_nguon": r.Header.Get("X-Nguon-Goi")})
}

func TestServiceAccessSixSteps(t *testing.T) {
	dest := &destination{t: t}
	destSrv := httptest.NewServer(dest)
	defer destSrv.Close()
	release := make(chan struct{})
	entered := make(chan struct{}, 8)
	slowSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		select { // hangs until the test lets it go or the bus gives up
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slowSrv.Close()
	defer close(release)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close() // nothing listens there any more

	services := fmt.Sprintf(`services:
  - name: tra-cuu
    owner: %q
    endpoint: %q
    scopes: [read, write]
    timeout: 5s
    max_bytes: 4096
    headers: {set: {X-Nguon-Goi: lgsp}, remove: [Cookie]}
  - name: cham
    owner: %q
    endpoint: %q
    scopes: [read]
    timeout: 1s
    max_inflight: 1
  - name: khong-toi
    owner: %q
    endpoint: %q
    scopes: [read]
    timeout: 2s
    retry: {max_attempts: 2}
`, svcOwner, destSrv.URL+"/api", svcOwner, slowSrv.URL, svcOwner, closedURL)
	n := startNodeWith(t, "sqlite", func(c *service.Config) {
		if err := os.WriteFile(filepath.Join(c.RoutesDir, "dich-vu.yaml"), []byte(services), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	ctx := context.Background()
	src := n.system(t, svcSource, "Cổng dịch vụ công")
	owner := n.system(t, svcOwner, "Văn phòng UBND tỉnh")
	outsider := n.system(t, svcOutsider, "Hệ thống bên ngoài")
	dest.owner.Store(owner)
	for _, g := range []struct{ service, scope string }{{"tra-cuu", "read"}, {"cham", "read"}, {"khong-toi", "read"}} {
		adminCall(t, n, http.MethodPost, "/admin/v1/grants", map[string]string{"kind": "service", "source": svcSource, "service": g.service, "scope": g.scope}, http.StatusCreated)
	}

	// A1–A2: the source asks for a session key.
	sess, err := src.OpenSession(ctx, rest.OpenSessionRequest{Service: "tra-cuu", Scope: "read"})
	if err != nil {
		t.Fatal(err)
	}
	if sess.Endpoint != "/svc/tra-cuu/" || len(sess.SessionKey) < 40 || sess.Source != svcSource || time.Until(sess.ExpiresAt) > 15*time.Minute || time.Until(sess.ExpiresAt) < 14*time.Minute {
		t.Fatalf("session %+v", sess)
	}

	// A3–A6: calls through the bus, with the destination verifying.
	t.Run("A3-A6 call through the bus", func(t *testing.T) {
		hdr := http.Header{"Content-Type": {"application/json"}, "Cookie": {"a=b"}}
		resp, err := src.CallService(ctx, sess, http.MethodPost, "ho-so/123?nam=2026&q=T%C3%A0i", []byte(`{"ma":"H-1"}`), hdr)
		if err != nil {
			t.Fatal(err)
		}
		got := decodeBody(t, resp)
		if resp.StatusCode != http.StatusCreated || resp.Header.Get("X-Dest") != "tra-cuu" || resp.Header.Get("X-LGSP-Error-Code") != "" {
			t.Fatalf("answer %d %v", resp.StatusCode, resp.Header)
		}
		want := map[string]string{"caller": svcSource, "scope": "read", "path": "/api/ho-so/123?nam=2026&q=T%C3%A0i", "body": `{"ma":"H-1"}`, "x_nguon": "lgsp"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("destination saw %s = %q, want %q", k, got[k], v)
			}
		}
		resp, err = src.CallService(ctx, sess, http.MethodGet, "", nil, nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET: %v %v", resp, err)
		}
		resp.Body.Close()
		if dest.calls.Load() != 2 {
			t.Fatalf("destination served %d calls, want 2", dest.calls.Load())
		}
	})

	t.Run("refusals at A2", func(t *testing.T) {
		cases := []struct {
			name           string
			c              *rest.Client
			service, scope string
			code           bus.Code
		}{
			{"outsider without grant", outsider, "tra-cuu", "read", bus.ErrForbidden.Code},
			{"scope not granted", src, "tra-cuu", "write", bus.ErrForbidden.Code},
			{"scope the service does not allow", src, "tra-cuu", "admin", bus.ErrServiceScope.Code},
			{"unknown service", src, "khong-co", "read", bus.ErrServiceUnknown.Code},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := tc.c.OpenSession(ctx, rest.OpenSessionRequest{Service: tc.service, Scope: tc.scope})
				wantAPICode(t, err, tc.code)
			})
		}
	})

	t.Run("refusals at A3 and A5", func(t *testing.T) {
		// Another system cannot use the source's session key.
		_, err := outsider.CallService(ctx, sess, http.MethodGet, "x", nil, nil)
		wantAPICode(t, err, bus.ErrSessionInvalid.Code)
		// No session key at all.
		_, err = src.CallService(ctx, &rest.ServiceSession{Endpoint: "/svc/tra-cuu/"}, http.MethodGet, "x", nil, nil)
		wantAPICode(t, err, bus.ErrSessionInvalid.Code)
		// Only the owner may verify a session.
		_, err = src.VerifySession(ctx, rest.VerifySessionRequest{SessionKey: sess.SessionKey, Source: svcSource, Service: "tra-cuu"})
		wantAPICode(t, err, bus.ErrForbidden.Code)
		// A body that does not match its signed hash never reaches the
		// destination whole.
		before := dest.bodies.Load()
		body := bytes.Repeat([]byte("x"), 3000)
		req, _ := http.NewRequest(http.MethodPut, n.url+"/svc/tra-cuu/ho-so/1", bytes.NewReader(body))
		req.Header.Set(auth.HeaderSession, sess.SessionKey)
		if err := signWith(req, src, auth.HashBody([]byte("something else"))); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		wantProblem(t, resp, http.StatusBadRequest, "auth.body_hash")
		if dest.bodies.Load() != before {
			t.Fatal("the destination received a whole body whose hash was wrong")
		}
		// Too large for the service.
		_, err = src.CallService(ctx, sess, http.MethodPut, "ho-so/1", bytes.Repeat([]byte("y"), 5000), nil)
		wantAPICode(t, err, bus.ErrBodyTooLarge.Code)
	})

	t.Run("expired session", func(t *testing.T) {
		short, err := src.OpenSession(ctx, rest.OpenSessionRequest{Service: "tra-cuu", Scope: "read", TTLSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "the one-second session expires", func() (bool, error) {
			resp, err := src.CallService(ctx, short, http.MethodGet, "x", nil, nil)
			if err == nil {
				resp.Body.Close()
			}
			return bus.Code(apiCode(err)) == bus.ErrSessionExpired.Code, err
		})
		_, err = owner.VerifySession(ctx, rest.VerifySessionRequest{SessionKey: short.SessionKey, Source: svcSource, Service: "tra-cuu"})
		wantAPICode(t, err, bus.ErrSessionExpired.Code)
	})

	t.Run("revoked session", func(t *testing.T) {
		s1, err := src.OpenSession(ctx, rest.OpenSessionRequest{Service: "tra-cuu", Scope: "read"})
		if err != nil {
			t.Fatal(err)
		}
		wantAPICode(t, outsider.RevokeSession(ctx, s1.SessionID), bus.ErrSessionInvalid.Code) // not its own
		if err := src.RevokeSession(ctx, s1.SessionID); err != nil {
			t.Fatal(err)
		}
		_, err = src.CallService(ctx, s1, http.MethodGet, "x", nil, nil)
		wantAPICode(t, err, bus.ErrSessionInvalid.Code)
		// An operator can revoke any session.
		s2, err := src.OpenSession(ctx, rest.OpenSessionRequest{Service: "tra-cuu", Scope: "read"})
		if err != nil {
			t.Fatal(err)
		}
		adminCall(t, n, http.MethodDelete, "/admin/v1/sessions/"+s2.SessionID, nil, http.StatusOK)
		_, err = owner.VerifySession(ctx, rest.VerifySessionRequest{SessionKey: s2.SessionKey, Source: svcSource, Service: "tra-cuu"})
		wantAPICode(t, err, bus.ErrSessionInvalid.Code)
	})

	t.Run("revoked key kills its sessions", func(t *testing.T) {
		ak, sk, err := n.svc.Registry().IssueKey(ctx, svcSource, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		second := &rest.Client{BaseURL: n.url, AccessKey: ak, SecretKey: sk}
		s, err := second.OpenSession(ctx, rest.OpenSessionRequest{Service: "tra-cuu", Scope: "read"})
		if err != nil {
			t.Fatal(err)
		}
		adminCall(t, n, http.MethodPost, "/admin/v1/keys/"+ak+"/revoke", nil, http.StatusOK)
		// The source still signs with its first key, but the session was
		// opened with the revoked one.
		_, err = src.CallService(ctx, s, http.MethodGet, "x", nil, nil)
		wantAPICode(t, err, bus.ErrAuthKeyRevoked.Code)
	})

	t.Run("suspended source", func(t *testing.T) {
		adminCall(t, n, http.MethodPost, "/admin/v1/systems/"+svcSource+"/suspend", nil, http.StatusOK)
		_, err := src.CallService(ctx, sess, http.MethodGet, "x", nil, nil)
		wantAPICode(t, err, bus.ErrAuthSuspended.Code)
		_, err = owner.VerifySession(ctx, rest.VerifySessionRequest{SessionKey: sess.SessionKey, Source: svcSource, Service: "tra-cuu"})
		wantAPICode(t, err, bus.ErrAuthSuspended.Code)
		adminCall(t, n, http.MethodPost, "/admin/v1/systems/"+svcSource+"/resume", nil, http.StatusOK)
		resp, err := src.CallService(ctx, sess, http.MethodGet, "x", nil, nil)
		if err != nil {
			t.Fatalf("after resume: %v", err)
		}
		resp.Body.Close()
	})

	t.Run("slow destination blocks only itself", func(t *testing.T) {
		slow, err := src.OpenSession(ctx, rest.OpenSessionRequest{Service: "cham", Scope: "read"})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		first := make(chan error, 1)
		go func() {
			_, err := src.CallService(ctx, slow, http.MethodGet, "x", nil, nil)
			first <- err
		}()
		<-entered // the slow call holds cham's only slot
		_, err = src.CallService(ctx, slow, http.MethodGet, "x", nil, nil)
		var api *rest.APIError
		if !errors.As(err, &api) || api.Code != "service.busy" || api.HTTPStatus != http.StatusServiceUnavailable || api.RetryAfter == "" {
			t.Fatalf("second call to a full service: %v", err)
		}
		t0 := time.Now()
		resp, err := src.CallService(ctx, sess, http.MethodGet, "nhanh", nil, nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("another service while cham hangs: %v", err)
		}
		resp.Body.Close()
		if d := time.Since(t0); d > time.Second {
			t.Fatalf("tra-cuu took %s while cham hangs", d)
		}
		wantAPICode(t, <-first, bus.ErrServiceTimeout.Code)
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("the timeout took %s", d)
		}
	})

	t.Run("unreachable destination", func(t *testing.T) {
		down, err := src.OpenSession(ctx, rest.OpenSessionRequest{Service: "khong-toi", Scope: "read"})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = src.CallService(ctx, down, http.MethodGet, "x", nil, nil)
		var api *rest.APIError
		if !errors.As(err, &api) || api.Code != "service.unreachable" || api.HTTPStatus != http.StatusBadGateway {
			t.Fatalf("unreachable: %v", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("took %s", d)
		}
	})

	t.Run("OAuth2 client credentials", func(t *testing.T) {
		tokenReq := func(user, pass, grant string) *http.Response {
			req, _ := http.NewRequest(http.MethodPost, n.url+"/token", strings.NewReader(url.Values{"grant_type": {grant}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(user, pass)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			return resp
		}
		resp := tokenReq(src.AccessKey, src.SecretKey, "client_credentials")
		var tok rest.TokenResponse
		if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK || tok.TokenType != "Bearer" || tok.ExpiresIn != 3600 || tok.AccessToken == "" {
			t.Fatalf("token: %d %+v %v", resp.StatusCode, tok, err)
		}
		resp.Body.Close()
		bad := tokenReq(src.AccessKey, "wrong", "client_credentials")
		var oerr map[string]string
		_ = json.NewDecoder(bad.Body).Decode(&oerr)
		bad.Body.Close()
		if bad.StatusCode != http.StatusUnauthorized || oerr["error"] != "invalid_client" || bad.Header.Get("X-LGSP-Error-Code") != "auth.bad_signature" {
			t.Fatalf("wrong secret: %d %v %v", bad.StatusCode, oerr, bad.Header)
		}
		grant := tokenReq(src.AccessKey, src.SecretKey, "password")
		grant.Body.Close()
		if grant.StatusCode != http.StatusBadRequest {
			t.Fatalf("password grant: %d", grant.StatusCode)
		}
		// The bearer token replaces the signature on /v1 and /svc.
		req, _ := http.NewRequest(http.MethodGet, n.url+"/v1/inbox", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != http.StatusOK {
			t.Fatalf("inbox with bearer: %v %v", r, err)
		}
		req, _ = http.NewRequest(http.MethodPost, n.url+"/svc/tra-cuu/ho-so", strings.NewReader(`{"ma":"B"}`))
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set(auth.HeaderSession, sess.SessionKey)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got := decodeBody(t, r)
		if r.StatusCode != http.StatusCreated || got["body"] != `{"ma":"B"}` || got["caller"] != svcSource {
			t.Fatalf("service call with bearer: %d %v", r.StatusCode, got)
		}
		req, _ = http.NewRequest(http.MethodGet, n.url+"/v1/inbox", nil)
		req.Header.Set("Authorization", "Bearer lgst_NOPE")
		r, _ = http.DefaultClient.Do(req)
		wantProblem(t, r, http.StatusUnauthorized, "auth.token_invalid")
	})

	t.Run("lgspaccesstoken only when switched on", func(t *testing.T) {
		h := base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf(`{"AccessKey":%q,"SecretKey":%q,"AppName":"QLVB","PartnerCode":%q}`, outsider.AccessKey, outsider.SecretKey, svcOutsider)))
		call := func() *http.Response {
			req, _ := http.NewRequest(http.MethodGet, n.url+"/v1/inbox", nil)
			req.Header.Set("lgspaccesstoken", h)
			r, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		wantProblem(t, call(), http.StatusForbidden, "auth.forbidden")
		if err := n.svc.Store().SetLegacyToken(ctx, svcOutsider, true, time.Now()); err != nil {
			t.Fatal(err)
		}
		if r := call(); r.StatusCode != http.StatusOK {
			t.Fatalf("legacy token switched on: %d", r.StatusCode)
		}
	})
}

// adminCall calls the admin API and checks the status.
func adminCall(t *testing.T, n *node, method, path string, in any, want int) {
	t.Helper()
	var body io.Reader = http.NoBody
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, n.url+path, body)
	req.Header.Set("Authorization", "Bearer "+n.svc.AdminToken())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s: HTTP %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
}

func decodeBody(t *testing.T, resp *http.Response) map[string]string {
	t.Helper()
	defer resp.Body.Close()
	var m map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("decoding answer: %v", err)
	}
	return m
}

func apiCode(err error) string {
	var api *rest.APIError
	if errors.As(err, &api) {
		return api.Code
	}
	return ""
}

func wantAPICode(t *testing.T, err error, code bus.Code) {
	t.Helper()
	if got := apiCode(err); got != string(code) {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}
