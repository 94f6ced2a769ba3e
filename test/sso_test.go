package test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/tuyenquang/lgsp/bus/people"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/sso"
)

// startSSONode starts a node with sso.enabled; the public URL (and so the
// issuer) is the address it listens on.
func startSSONode(t *testing.T, dialect string) *node {
	t.Helper()
	addr := freeAddr(t)
	return startNodeWith(t, dialect, func(c *service.Config) {
		c.Listen = addr
		c.PublicURL = "http://" + addr
		c.SSO.Enabled = true
	})
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func adminDo(t *testing.T, n *node, method, path, body, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, n.url+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestSSONode: the single sign-on provider of a real node, on both
// stores: the admin API registers an application (and refuses the
// unauthenticated, other kinds of credentials, an operator, huge bodies),
// and an independent relying party (go-oidc + x/oauth2) signs a person in
// through the console login, verifies the ID token against the node's
// JWKS, refreshes, and is refused a second use of its code.
func TestSSONode(t *testing.T) {
	for _, dialect := range []string{"sqlite", "mysql"} {
		t.Run(dialect, func(t *testing.T) {
			n := startSSONode(t, dialect)
			addPerson(t, n, people.Person{Login: "can.bo", Name: "Cán bộ", Email: "cb@stp.gov.vn", Unit: "Sở Tư pháp", Roles: []string{people.RoleOperator}})
			sys := n.system(t, "000.00.31.H60", "Hệ thống thử")

			var redirect string
			codes := make(chan string, 4)
			appSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				codes <- r.URL.Query().Get("code")
				io.WriteString(w, "ok")
			}))
			t.Cleanup(appSrv.Close)
			redirect = appSrv.URL + "/cb"
			in := fmt.Sprintf(`{"id":"ho-tich","name":"Hộ tịch","unit":"Sở Tư pháp","redirect_uris":[%q]}`, redirect)

			// Attacks on the admin API change nothing.
			if st, body := adminDo(t, n, "POST", "/admin/v1/sso/clients", in, ""); st != http.StatusUnauthorized {
				t.Errorf("unauthenticated: %d %s", st, body)
			}
			if st, body := adminDo(t, n, "POST", "/admin/v1/sso/clients", in, sys.AccessKey+":"+sys.SecretKey); st != http.StatusUnauthorized {
				t.Errorf("a system's key as admin token: %d %s", st, body)
			}
			op := loggedIn(t, n, "can.bo", "")
			if st, body := op.api("POST", "/admin/v1/sso/clients", in, true); st != http.StatusForbidden || !strings.Contains(body, "people.forbidden") {
				t.Errorf("operator: %d %s", st, body)
			}
			huge := `{"id":"x","name":"` + strings.Repeat("a", 2<<20) + `"}`
			if st, body := adminDo(t, n, "POST", "/admin/v1/sso/clients", huge, n.svc.AdminToken()); st != http.StatusRequestEntityTooLarge {
				t.Errorf("huge body: %d %.200s", st, body)
			}
			if st, body := adminDo(t, n, "GET", "/admin/v1/sso/clients", "", n.svc.AdminToken()); st != 200 || strings.Contains(body, "ho-tich") {
				t.Fatalf("clients after refused attempts: %d %s", st, body)
			}
			// Huge body at the token endpoint.
			res, err := http.Post(n.url+"/oidc/oauth/token", "application/x-www-form-urlencoded", bytes.NewReader(bytes.Repeat([]byte("a"), 1<<20)))
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("huge token request: %d", res.StatusCode)
			}

			st, body := adminDo(t, n, "POST", "/admin/v1/sso/clients", in, n.svc.AdminToken())
			if st != http.StatusCreated || !strings.Contains(body, `"client_secret"`) {
				t.Fatalf("add client: %d %s", st, body)
			}
			secret := body[strings.Index(body, `"client_secret":"`)+17:]
			secret = secret[:strings.Index(secret, `"`)]
			if st, body := adminDo(t, n, "GET", "/admin/v1/sso/clients", "", n.svc.AdminToken()); st != 200 || !strings.Contains(body, "ho-tich") || strings.Contains(body, "secret") {
				t.Fatalf("list: %d %s", st, body)
			}

			issuer := n.url + sso.MountPath
			pr, err := gooidc.NewProvider(t.Context(), issuer)
			if err != nil {
				t.Fatalf("discovery: %v", err)
			}
			cfg := oauth2.Config{ClientID: "ho-tich", ClientSecret: secret, Endpoint: pr.Endpoint(), RedirectURL: redirect,
				Scopes: []string{gooidc.ScopeOpenID, "email", gooidc.ScopeOfflineAccess}}
			verifier := oauth2.GenerateVerifier()
			authURL := cfg.AuthCodeURL("st4te", gooidc.Nonce("n0nce"), oauth2.S256ChallengeOption(verifier))
			// The person already has a console session (op): no password.
			follow := &http.Client{Jar: op.http.Jar, Transport: http.DefaultClient.Transport}
			res, err = follow.Get(authURL)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			var code string
			select {
			case code = <-codes:
			default:
				t.Fatalf("no code reached the application: %d at %s", res.StatusCode, res.Request.URL)
			}
			tok, err := cfg.Exchange(t.Context(), code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			raw, _ := tok.Extra("id_token").(string)
			idt, err := pr.Verifier(&gooidc.Config{ClientID: "ho-tich"}).Verify(t.Context(), raw)
			if err != nil || idt.Nonce != "n0nce" {
				t.Fatalf("ID token: %v", err)
			}
			if _, err := cfg.Exchange(t.Context(), code, oauth2.VerifierOption(verifier)); err == nil {
				t.Error("the code worked twice")
			}
			if _, err := cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
				t.Errorf("refresh: %v", err)
			}
			if st, body := adminDo(t, n, "POST", "/admin/v1/sso/keys/rotate", "", n.svc.AdminToken()); st != 200 || !strings.Contains(body, `"kid"`) {
				t.Errorf("rotate: %d %s", st, body)
			}
			if _, err := pr.Verifier(&gooidc.Config{ClientID: "ho-tich"}).Verify(t.Context(), raw); err != nil {
				t.Errorf("ID token after rotation: %v", err)
			}
			if st, _ := adminDo(t, n, "DELETE", "/admin/v1/sso/clients/ho-tich", "", n.svc.AdminToken()); st != http.StatusNoContent {
				t.Errorf("remove: %d", st)
			}
			if st, _ := adminDo(t, n, "DELETE", "/admin/v1/sso/clients/ho-tich", "", n.svc.AdminToken()); st != http.StatusNotFound {
				t.Errorf("remove again: %d", st)
			}
		})
	}
}

// TestSSOUpstreamNode: a node configured with sso.upstream (secret from
// the environment) logs a person in through another node acting as the
// upstream provider, linked by personal_id; an unknown person is refused
// and listed as pending.
func TestSSOUpstreamNode(t *testing.T) {
	upAddr, addr := freeAddr(t), freeAddr(t)
	// The upstream answers as "localhost" so that the browser keeps the
	// two nodes' cookies apart.
	upURL := "http://localhost:" + upAddr[strings.LastIndex(upAddr, ":")+1:]
	up := startNodeWith(t, "sqlite", func(c *service.Config) {
		c.Listen, c.PublicURL, c.SSO.Enabled = upAddr, upURL, true
	})
	addPerson(t, up, people.Person{Login: "cong.dan", Name: "Công dân", PersonalID: "001088000123", Unit: "VNeID"})
	addPerson(t, up, people.Person{Login: "nguoi.la", Name: "Người lạ", PersonalID: "002088000456", Unit: "VNeID"})
	in := fmt.Sprintf(`{"id":"province","name":"Province","redirect_uris":[%q]}`, "http://"+addr+"/oidc/upstream/callback")
	st, body := adminDo(t, up, "POST", "/admin/v1/sso/clients", in, up.svc.AdminToken())
	if st != http.StatusCreated {
		t.Fatalf("registering at the upstream: %d %s", st, body)
	}
	secret := body[strings.Index(body, `"client_secret":"`)+17:]
	t.Setenv("LGSP_TEST_UPSTREAM_SECRET", secret[:strings.Index(secret, `"`)])
	n := startNodeWith(t, "sqlite", func(c *service.Config) {
		c.Listen, c.PublicURL, c.SSO.Enabled = addr, "http://"+addr, true
		c.SSO.Upstream = service.SSOUpstreamConfig{Name: "VNeID", Issuer: upURL + sso.MountPath, ClientID: "province",
			ClientSecretEnv: "LGSP_TEST_UPSTREAM_SECRET", Claim: "personal_id", Scopes: []string{"openid", "profile", sso.ScopePersonalID}}
	})
	if _, err := n.svc.People().Add(t.Context(), "test", people.Person{Login: "cd.local", Name: "Công dân", PersonalID: "001088000123", Unit: "Sở Tư pháp", Roles: []string{people.RoleOperator}}, ""); err != nil {
		t.Fatal(err)
	}

	login := func(who string) (int, string, string) {
		t.Helper()
		c := newConsole(t, n)
		c.http.CheckRedirect = nil // follow, as a browser
		// The console's login form offers the upstream by its name; its
		// link starts the upstream login with the form's next=.
		res, err := c.http.Get(n.url + people.LoginPath + "?next=/console/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		link := regexp.MustCompile(`<a id="upstream-login" href="([^"]+)">[^<]*VNeID</a>`).FindStringSubmatch(string(b))
		if link == nil || strings.ReplaceAll(link[1], "&amp;", "&") != "/oidc/upstream/login?next=%2Fconsole%2F" {
			t.Fatalf("the console's login form has no upstream link: %.600s", b)
		}
		res, err = c.http.Get(n.url + strings.ReplaceAll(link[1], "&amp;", "&"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(res.Body)
		res.Body.Close()
		if strings.Contains(string(b), `id="upstream-login"`) {
			t.Fatalf("a node without an upstream offers one: %.300s", b)
		}
		m := hiddenCSRF.FindStringSubmatch(string(b))
		next := regexp.MustCompile(`name="next" value="([^"]+)"`).FindStringSubmatch(string(b))
		if m == nil || next == nil || !strings.HasPrefix(res.Request.URL.String(), upURL+people.LoginPath) {
			t.Fatalf("expected the upstream's login form, at %s: %.300s", res.Request.URL, b)
		}
		res, err = c.http.PostForm(upURL+people.LoginPath, map[string][]string{"csrf": {m[1]}, "next": {strings.ReplaceAll(next[1], "&amp;", "&")},
			"login": {who}, "password": {testPassword}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(res.Body)
		res.Body.Close()
		return res.StatusCode, res.Request.URL.String(), string(b)
	}
	if st, at, body := login("cong.dan"); st != 200 || at != n.url+"/console/" || !strings.Contains(body, "cd.local") {
		t.Fatalf("linked login: %d at %s: %.300s", st, at, body)
	}
	if st, _, body := login("nguoi.la"); st != http.StatusForbidden || !strings.Contains(body, "sso.pending") {
		t.Fatalf("unknown person: %d %.300s", st, body)
	}
	if st, body := adminDo(t, n, "GET", "/admin/v1/sso/pending", "", n.svc.AdminToken()); st != 200 || !strings.Contains(body, "002088000456") {
		t.Fatalf("pending: %d %s", st, body)
	}
}
