package test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/tuyenquang/lgsp/bus/people"
	"github.com/tuyenquang/lgsp/bus/sso"
	"github.com/tuyenquang/lgsp/test/testenv"
)

// browserApp is a business application using go-oidc and x/oauth2, as a
// province's application would; one person at a time (a test).
type browserApp struct {
	id     string
	srv    *httptest.Server
	cfg    oauth2.Config
	verify *gooidc.IDTokenVerifier

	mu                  sync.Mutex
	state, nonce, pkce  string
	rawID, refresh, sub string
	logouts             []string
}

func newBrowserApp(t *testing.T, n *node, id string) *browserApp {
	t.Helper()
	a := &browserApp{id: id}
	mux := http.NewServeMux()
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	in := fmt.Sprintf(`{"id":%q,"name":"App %s","unit":"Sở Tư pháp","redirect_uris":[%q],"post_logout_redirect_uris":[%q],"backchannel_logout_uri":%q}`,
		id, id, a.srv.URL+"/callback", a.srv.URL+"/bye", a.srv.URL+"/backchannel")
	st, body := adminDo(t, n, "POST", "/admin/v1/sso/clients", in, n.svc.AdminToken())
	if st != http.StatusCreated {
		t.Fatalf("registering %s: %d %s", id, st, body)
	}
	secret := body[strings.Index(body, `"client_secret":"`)+17:]
	secret = secret[:strings.Index(secret, `"`)]
	pr, err := gooidc.NewProvider(t.Context(), n.url+sso.MountPath)
	if err != nil {
		t.Fatal(err)
	}
	a.cfg = oauth2.Config{ClientID: id, ClientSecret: secret, Endpoint: pr.Endpoint(), RedirectURL: a.srv.URL + "/callback",
		Scopes: []string{gooidc.ScopeOpenID, "profile", gooidc.ScopeOfflineAccess}}
	a.verify = pr.Verifier(&gooidc.Config{ClientID: id})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.state, a.nonce, a.pkce = oauth2.GenerateVerifier(), oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
		u := a.cfg.AuthCodeURL(a.state, gooidc.Nonce(a.nonce), oauth2.S256ChallengeOption(a.pkce))
		a.mu.Unlock()
		http.Redirect(w, r, u, http.StatusFound)
	})
	mux.HandleFunc("/callback", func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		if r.URL.Query().Get("state") != a.state {
			http.Error(w, "bad state", http.StatusBadRequest)
			return
		}
		tok, err := a.cfg.Exchange(r.Context(), r.URL.Query().Get("code"), oauth2.VerifierOption(a.pkce))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := a.verify.Verify(r.Context(), raw)
		if err != nil || idt.Nonce != a.nonce {
			http.Error(w, "bad id token", http.StatusBadGateway)
			return
		}
		var c struct {
			Name string `json:"name"`
		}
		_ = idt.Claims(&c)
		a.rawID, a.refresh, a.sub = raw, tok.RefreshToken, idt.Subject
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><body><p id="who">%s: signed in as %s</p></body></html>`, a.id, c.Name)
	})
	mux.HandleFunc("/bye", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><html><body><p id="bye">signed out</p></body></html>`)
	})
	mux.HandleFunc("POST /backchannel", func(w http.ResponseWriter, r *http.Request) {
		lt, err := a.verify.Verify(r.Context(), r.PostFormValue("logout_token"))
		if err != nil {
			http.Error(w, "bad logout token", http.StatusBadRequest)
			return
		}
		a.mu.Lock()
		a.logouts = append(a.logouts, lt.Subject)
		a.mu.Unlock()
	})
	return a
}

// TestSSOBrowser: in headless Chromium, a person logs in once at the
// console's form and is signed in to two applications; logging out at one
// signs them out of both (the other's refresh token is dead, both received
// a back-channel logout), and the next visit asks for the password again.
func TestSSOBrowser(t *testing.T) {
	chromium := testenv.RequireTool(t, "chromium")
	n := startSSONode(t, "sqlite")
	addPerson(t, n, people.Person{Login: "chuyen.vien", Name: "Chuyên viên Một", Unit: "Sở Tư pháp", Roles: []string{people.RoleOperator}})
	appA, appB := newBrowserApp(t, n, "app-a"), newBrowserApp(t, n, "app-b")

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.WindowSize(1024, 768), chromedp.Flag("disable-gpu", true))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(alloc)
	defer cancelCtx()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			var loc, html string
			_ = chromedp.Run(ctx, chromedp.Location(&loc), chromedp.OuterHTML("body", &html, chromedp.ByQuery))
			t.Fatalf("%s: %v (at %s: %.800s)", what, err, loc, html)
		}
	}
	var who, loc string
	run("app A sends the browser to the login form",
		chromedp.Navigate(appA.srv.URL+"/login"),
		chromedp.WaitVisible(`input[name=password]`, chromedp.ByQuery),
		chromedp.Location(&loc))
	if !strings.HasPrefix(loc, n.url+people.LoginPath) {
		t.Fatalf("login form at %s", loc)
	}
	run("log in once",
		chromedp.SendKeys(`input[name=login]`, "chuyen.vien", chromedp.ByQuery),
		chromedp.SendKeys(`input[name=password]`, testPassword, chromedp.ByQuery),
		chromedp.Submit(`input[name=password]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#who`, chromedp.ByQuery),
		chromedp.Text(`#who`, &who, chromedp.ByQuery))
	if who != "app-a: signed in as Chuyên viên Một" {
		t.Fatalf("app A shows %q", who)
	}
	run("app B signs in without the form",
		chromedp.Navigate(appB.srv.URL+"/login"),
		chromedp.WaitVisible(`#who`, chromedp.ByQuery),
		chromedp.Text(`#who`, &who, chromedp.ByQuery))
	if who != "app-b: signed in as Chuyên viên Một" {
		t.Fatalf("app B shows %q", who)
	}
	appA.mu.Lock()
	hint, sub := appA.rawID, appA.sub
	appA.mu.Unlock()
	appB.mu.Lock()
	refreshB := appB.refresh
	appB.mu.Unlock()

	run("log out at app A",
		chromedp.Navigate(n.url+sso.MountPath+"/end_session?id_token_hint="+hint+"&post_logout_redirect_uri="+appA.srv.URL+"/bye"),
		chromedp.WaitVisible(`#bye`, chromedp.ByQuery))
	if _, err := appB.cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: refreshB}).Token(); err == nil {
		t.Error("app B's refresh token still works after the logout")
	}
	for _, a := range []*browserApp{appA, appB} {
		a.mu.Lock()
		got := a.logouts
		a.mu.Unlock()
		if len(got) != 1 || got[0] != sub {
			t.Errorf("%s received back-channel logouts %v, want [%s]", a.id, got, sub)
		}
	}
	run("app B now needs the password",
		chromedp.Navigate(appB.srv.URL+"/login"),
		chromedp.WaitVisible(`input[name=password]`, chromedp.ByQuery),
		chromedp.Location(&loc))
	if !strings.HasPrefix(loc, n.url+people.LoginPath) {
		t.Fatalf("after logout app B at %s", loc)
	}
}
