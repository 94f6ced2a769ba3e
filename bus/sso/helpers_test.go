package sso

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/tuyenquang/lgsp/bus/people"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/bus/vault"
)

// clock is a movable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// idp is an LGSP node's people login and OpenID Connect provider on a
// real SQLite store, served over HTTP.
type idp struct {
	srv    *httptest.Server
	p      *Provider
	people *people.Service
	st     store.Store
	clock  *clock
}

const testPassword = "correct horse battery staple"

func newIDP(t *testing.T, up *Upstream, tweak func(*Options)) *idp {
	t.Helper()
	st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "lgsp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key := make([]byte, vault.KeySize)
	_, _ = rand.Read(key)
	v, err := vault.New(key)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Now()}
	ps := people.New(people.Options{Store: st, Vault: v, Now: c.now,
		Argon2: people.Argon2Params{Memory: 8 << 10, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}})
	d := &idp{people: ps, st: st, clock: c}
	mux := http.NewServeMux()
	ps.Mount(mux.Handle)
	d.srv = httptest.NewServer(mux)
	t.Cleanup(d.srv.Close)
	o := Options{Store: st, Vault: v, People: ps, Issuer: d.srv.URL + MountPath, Now: c.now, Upstream: up,
		HTTPClient: &http.Client{Transport: testTLSTransport(), Timeout: 10 * time.Second}}
	if tweak != nil {
		tweak(&o)
	}
	if d.p, err = New(o); err != nil {
		t.Fatal(err)
	}
	d.p.Mount(mux.Handle)
	return d
}

func (d *idp) addPerson(t *testing.T, p people.Person) people.Person {
	t.Helper()
	got, err := d.people.Add(t.Context(), "test", p, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// app is an independent relying party: go-oidc and x/oauth2 only, as a
// province's application would use them.
type app struct {
	id       string
	srv      *httptest.Server
	cfg      oauth2.Config
	provider *gooidc.Provider
	verifier *gooidc.IDTokenVerifier

	mu                     sync.Mutex
	state, nonce, pkce     string
	token                  *oauth2.Token
	rawID                  string
	idToken                *gooidc.IDToken
	logouts                []string // subjects of verified back-channel logout tokens
	manual                 bool     // callback keeps the code instead of exchanging it
	code                   string
	callbackErr, callbackQ string
}

func (d *idp) newApp(t *testing.T, id string, public bool, tweak func(*Client)) *app {
	t.Helper()
	a := &app{id: id}
	mux := http.NewServeMux()
	// A public (browser) application must be served over https (op
	// refuses http redirect URIs of user-agent clients).
	if public {
		a.srv = httptest.NewTLSServer(mux)
	} else {
		a.srv = httptest.NewServer(mux)
	}
	t.Cleanup(a.srv.Close)
	c := Client{ID: id, Name: "App " + id, Unit: "Sở Tư pháp", Public: public, RedirectURIs: []string{a.srv.URL + "/callback"},
		PostLogoutURIs: []string{a.srv.URL + "/bye"}, BackchannelLogoutURI: a.srv.URL + "/backchannel"}
	if tweak != nil {
		tweak(&c)
	}
	_, secret, err := d.p.AddClient(t.Context(), "test", c)
	if err != nil {
		t.Fatal(err)
	}
	if a.provider, err = gooidc.NewProvider(t.Context(), d.p.Issuer()); err != nil {
		t.Fatal(err)
	}
	a.cfg = oauth2.Config{ClientID: id, ClientSecret: secret, Endpoint: a.provider.Endpoint(), RedirectURL: a.srv.URL + "/callback",
		Scopes: []string{gooidc.ScopeOpenID, "profile", "email", gooidc.ScopeOfflineAccess}}
	a.verifier = a.provider.Verifier(&gooidc.Config{ClientID: id})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, a.authURL(), http.StatusFound)
	})
	mux.HandleFunc("/callback", func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.callbackQ = r.URL.RawQuery
		if e := r.URL.Query().Get("error"); e != "" {
			a.callbackErr = e
			http.Error(w, e, http.StatusForbidden)
			return
		}
		if r.URL.Query().Get("state") != a.state {
			http.Error(w, "state", http.StatusBadRequest)
			return
		}
		if a.manual {
			a.code = r.URL.Query().Get("code")
			io.WriteString(w, "code kept")
			return
		}
		tok, err := a.cfg.Exchange(r.Context(), r.URL.Query().Get("code"), oauth2.VerifierOption(a.pkce))
		if err != nil {
			a.callbackErr = err.Error()
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := a.verifier.Verify(r.Context(), raw)
		if err != nil || idt.Nonce != a.nonce {
			a.callbackErr = fmt.Sprint("id token: ", err)
			http.Error(w, "id token", http.StatusBadGateway)
			return
		}
		a.token, a.rawID, a.idToken = tok, raw, idt
		fmt.Fprintf(w, "signed in to %s as %s", a.id, idt.Subject)
	})
	mux.HandleFunc("/bye", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "bye") })
	mux.HandleFunc("POST /backchannel", func(w http.ResponseWriter, r *http.Request) {
		// A logout token verifies like an ID token (issuer, audience,
		// signature, expiry) and carries the back-channel logout event.
		lt, err := a.verifier.Verify(r.Context(), r.PostFormValue("logout_token"))
		var claims struct {
			Events map[string]any `json:"events"`
			Nonce  string         `json:"nonce"`
		}
		if err != nil || lt.Claims(&claims) != nil || claims.Events["http://schemas.openid.net/event/backchannel-logout"] == nil || claims.Nonce != "" {
			http.Error(w, "bad logout token", http.StatusBadRequest)
			return
		}
		a.mu.Lock()
		a.logouts = append(a.logouts, lt.Subject)
		a.mu.Unlock()
	})
	return a
}

// authURL starts a login the way an application does: state, nonce and
// an S256 PKCE challenge.
func (a *app) authURL(opts ...oauth2.AuthCodeOption) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.state, a.nonce, a.pkce = randomString(16), randomString(16), oauth2.GenerateVerifier()
	return a.cfg.AuthCodeURL(a.state, append([]oauth2.AuthCodeOption{gooidc.Nonce(a.nonce), oauth2.S256ChallengeOption(a.pkce)}, opts...)...)
}

func (a *app) signedIn() (*oauth2.Token, string, *gooidc.IDToken) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.token, a.rawID, a.idToken
}

func (a *app) reset() {
	a.mu.Lock()
	a.token, a.rawID, a.idToken, a.callbackErr = nil, "", nil, ""
	a.mu.Unlock()
}

// browser is an http.Client with a cookie jar that records every URL it
// visits, standing in for a person's browser.
type browser struct {
	c       *http.Client
	mu      sync.Mutex
	visited []string
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{}
	b.c = &http.Client{Transport: testTLSTransport(), Jar: jar, Timeout: 20 * time.Second, CheckRedirect: func(r *http.Request, via []*http.Request) error {
		b.mu.Lock()
		b.visited = append(b.visited, r.URL.String())
		b.mu.Unlock()
		if len(via) > 15 {
			return fmt.Errorf("too many redirects")
		}
		return nil
	}}
	return b
}

func (b *browser) get(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	b.mu.Lock()
	b.visited = append(b.visited, u)
	b.mu.Unlock()
	res, err := b.c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(body)
}

func (b *browser) sawLoginForm() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, u := range b.visited {
		if strings.Contains(u, people.LoginPath) {
			return true
		}
	}
	return false
}

func (b *browser) forget() { b.mu.Lock(); b.visited = nil; b.mu.Unlock() }

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
var nextRe = regexp.MustCompile(`name="next" value="([^"]+)"`)

// login fills the people login form the browser is on (res, body).
func (b *browser) login(t *testing.T, res *http.Response, body, login, password string) (*http.Response, string) {
	t.Helper()
	if !strings.HasPrefix(res.Request.URL.Path, people.LoginPath) {
		t.Fatalf("expected the login form, at %s (%d): %.200s", res.Request.URL, res.StatusCode, body)
	}
	m, n := csrfRe.FindStringSubmatch(body), nextRe.FindStringSubmatch(body)
	if m == nil || n == nil {
		t.Fatalf("login form without csrf/next: %.300s", body)
	}
	next := strings.ReplaceAll(n[1], "&amp;", "&")
	u := res.Request.URL.Scheme + "://" + res.Request.URL.Host + people.LoginPath
	res, err := b.c.PostForm(u, url.Values{"csrf": {m[1]}, "next": {next}, "login": {login}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(out)
}

var _ = context.Background

// testTLSTransport trusts httptest's TLS servers, which share one
// certificate.
func testTLSTransport() http.RoundTripper {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	return srv.Client().Transport
}
