package test

// Issue #8: after `systems deny-alg`, keys of that algorithm are refused on
// every way in — signatures, POST /token, bearer tokens already issued,
// the lgspaccesstoken header, SOAP UsernameTokens and sessions opened with
// such a key — while the system's other keys keep working.

import (
	"bytes"
	"context"
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
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/adapters/qlvb"
	"github.com/tuyenquang/lgsp/adapters/rest"
	"github.com/tuyenquang/lgsp/adapters/soap"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/wsdl/gen/lgspedoc"
)

const (
	denySystem = "000.00.41.H60" // has an HMAC-SHA256 and an HMAC-SHA1 key
	denyOwner  = "000.00.42.H60" // owns the service
)

func TestDenyAlgOnEveryPath(t *testing.T) {
	t.Setenv(qlvb.PasswordTextEnv, denySystem)
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	defer dest.Close()
	services := fmt.Sprintf("services:\n  - name: ho-so\n    owner: %q\n    endpoint: %q\n    scopes: [read]\n    timeout: 2s\n", denyOwner, dest.URL)
	n := startNodeWith(t, "sqlite", func(c *service.Config) {
		if err := os.WriteFile(filepath.Join(c.RoutesDir, "dich-vu.yaml"), []byte(services), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	ctx := context.Background()
	reg := n.svc.Registry()
	s256 := n.system(t, denySystem, "Hệ thống cũ")
	n.system(t, denyOwner, "Chủ dịch vụ")
	if _, err := reg.AllowAlg(ctx, denySystem, auth.AlgHMACSHA1); err != nil {
		t.Fatal(err)
	}
	ak1, sk1, err := reg.IssueKeyAlg(ctx, denySystem, auth.AlgHMACSHA1, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.svc.Store().SetLegacyToken(ctx, denySystem, true, time.Now()); err != nil {
		t.Fatal(err)
	}
	adminCall(t, n, http.MethodPost, "/admin/v1/grants", map[string]string{"kind": "service", "source": denySystem, "service": "ho-so", "scope": "read"}, http.StatusCreated)

	do := func(req *http.Request) (*http.Response, []byte) {
		t.Helper()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	// Each path answers the error code it refused with ("" for success).
	signed := func() string {
		req, _ := http.NewRequest(http.MethodGet, n.url+"/v1/inbox", nil)
		if err := auth.SignWith(auth.AlgHMACSHA1, req, ak1, []byte(sk1), auth.EmptySHA256, time.Now(), ""); err != nil {
			t.Fatal(err)
		}
		resp, _ := do(req)
		return resp.Header.Get("X-LGSP-Error-Code")
	}
	token := func() (string, string) {
		req, _ := http.NewRequest(http.MethodPost, n.url+"/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(ak1, sk1)
		resp, body := do(req)
		var tok rest.TokenResponse
		_ = json.Unmarshal(body, &tok)
		return tok.AccessToken, resp.Header.Get("X-LGSP-Error-Code")
	}
	bearer := func(tok string) string {
		req, _ := http.NewRequest(http.MethodGet, n.url+"/v1/inbox", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, _ := do(req)
		return resp.Header.Get("X-LGSP-Error-Code")
	}
	legacy := func() string {
		req, _ := http.NewRequest(http.MethodGet, n.url+"/v1/inbox", nil)
		req.Header.Set(auth.HeaderLegacyToken, auth.EncodeLegacyToken(auth.LegacyCredentials{AccessKey: ak1, SecretKey: sk1}))
		resp, _ := do(req)
		return resp.Header.Get("X-LGSP-Error-Code")
	}
	usernameToken := func(digest bool) string {
		c, err := soap.NewClient(n.url+qlvb.Path, soap.WithTimeout(30*time.Second), soap.WithUsernameToken(ak1, sk1, digest))
		if err != nil {
			t.Fatal(err)
		}
		var resp lgspedoc.GetReceivedEdocListResponse
		err = c.Call(ctx, lgspedoc.ActionGetReceivedEdocList, &lgspedoc.GetReceivedEdocList{}, &resp)
		var f *soap.Fault
		if errors.As(err, &f) {
			return string(f.LGSPCode)
		}
		if err != nil {
			t.Fatal(err)
		}
		return ""
	}
	// A session opened with the SHA1 key (through its bearer token), then
	// used by a call the system signs with its SHA256 key.
	openSession := func(tok string) *rest.ServiceSession {
		b, _ := json.Marshal(rest.OpenSessionRequest{Service: "ho-so", Scope: "read"})
		req, _ := http.NewRequest(http.MethodPost, n.url+"/v1/auth/sessions", bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, body := do(req)
		var s rest.ServiceSession
		if err := json.Unmarshal(body, &s); err != nil || resp.StatusCode/100 != 2 || s.SessionKey == "" {
			t.Fatalf("opening a session with the SHA1 key's token: %d %s", resp.StatusCode, body)
		}
		return &s
	}
	session := func(s *rest.ServiceSession) string {
		resp, err := s256.CallService(ctx, s, http.MethodGet, "x", nil, nil)
		if err != nil {
			return apiCode(err)
		}
		resp.Body.Close()
		return resp.Header.Get("X-LGSP-Error-Code")
	}

	// Allowed: every path works (so each refusal below is the deny-list's).
	tok, code := token()
	if code != "" || tok == "" {
		t.Fatalf("token while allowed: %q %q", tok, code)
	}
	sess := openSession(tok)
	for what, got := range map[string]string{"signature": signed(), "bearer": bearer(tok), "lgspaccesstoken": legacy(),
		"UsernameToken digest": usernameToken(true), "UsernameToken text": usernameToken(false), "session": session(sess)} {
		if got != "" {
			t.Fatalf("%s while %s is allowed: %s", what, auth.AlgHMACSHA1, got)
		}
	}

	if _, err := reg.DenyAlg(ctx, denySystem, auth.AlgHMACSHA1); err != nil {
		t.Fatal(err)
	}
	tok2, code := token()
	for what, got := range map[string]string{"signature": signed(), "POST /token": code, "bearer token issued before": bearer(tok),
		"lgspaccesstoken": legacy(), "UsernameToken digest": usernameToken(true), "UsernameToken text": usernameToken(false),
		"session opened with the key": session(sess)} {
		if got != "auth.algorithm" {
			t.Errorf("%s after deny-alg: %q, want auth.algorithm", what, got)
		}
	}
	if tok2 != "" {
		t.Error("a token was issued for a denied algorithm")
	}
	// The system's SHA256 key is not affected.
	if _, err := s256.Inbox(ctx); err != nil {
		t.Fatalf("the SHA256 key after deny-alg SHA1: %v", err)
	}
}
