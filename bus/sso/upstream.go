package sso

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/people"
	"github.com/tuyenquang/lgsp/bus/store"
)

// Upstream is an upstream OpenID Connect provider people may log in
// through (M7): VNeID or the national single sign-on as offered to a
// province, or another province's LGSP.
type Upstream struct {
	// Name is shown on the login link ("VNeID").
	Name string
	// Issuer is the upstream issuer; discovery must name exactly it.
	Issuer       string
	ClientID     string
	ClientSecret string
	// Claim links accounts: "personal_id" or "email" (then the upstream
	// must say email_verified: true).
	Claim string
	// Scopes asked for (default: openid and the claim's scope).
	Scopes []string
	// Rules create an account for a person no account matches, when the
	// claim's value matches Pattern (anchored regular expression). Without
	// a matching rule the person is recorded as a pending request for the
	// administrators and no account is created.
	Rules []Rule
}

// Rule maps verified claim values to a unit and roles.
type Rule struct {
	Pattern string
	Unit    string
	Roles   []string
	re      *regexp.Regexp
}

// PendingLogin is a person the upstream provider vouched for whom no
// account matches and no rule admits: an administrator approves by
// creating (or correcting) the account with that claim.
type PendingLogin struct {
	Claim string    `json:"claim"`
	Value string    `json:"value"`
	Name  string    `json:"name,omitempty"`
	At    time.Time `json:"at"`
	Count int       `json:"count"`
}

// upstreamLogin is a login at the upstream in flight (keyed by the state).
type upstreamLogin struct {
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
	Next     string `json:"next"`
}

type upstreamClient struct {
	p   *Provider
	cfg Upstream

	mu       sync.Mutex
	provider *gooidc.Provider
}

const upstreamCookie = "lgsp_upstream_state"

func newUpstream(p *Provider, u Upstream) (*upstreamClient, error) {
	if u.Issuer == "" || u.ClientID == "" {
		return nil, fmt.Errorf("sso.upstream: issuer and client_id are required")
	}
	if u.Claim != "email" && u.Claim != "personal_id" {
		return nil, fmt.Errorf("sso.upstream.claim must be email or personal_id")
	}
	for i := range u.Rules {
		re, err := regexp.Compile("^(?:" + u.Rules[i].Pattern + ")$")
		if err != nil {
			return nil, fmt.Errorf("sso.upstream.rules[%d].pattern: %w", i, err)
		}
		u.Rules[i].re = re
		for _, r := range u.Rules[i].Roles {
			if !people.KnownRole(r) {
				return nil, fmt.Errorf("sso.upstream.rules[%d]: unknown role %q", i, r)
			}
		}
	}
	if len(u.Scopes) == 0 {
		u.Scopes = []string{gooidc.ScopeOpenID, u.Claim}
		if u.Claim == "personal_id" {
			u.Scopes = append(u.Scopes, "profile")
		}
	}
	return &upstreamClient{p: p, cfg: u}, nil
}

func (u *upstreamClient) ctx(ctx context.Context) context.Context {
	return gooidc.ClientContext(ctx, u.p.o.HTTPClient)
}

// discover fetches the upstream's discovery document once; go-oidc
// refuses one whose issuer differs from the configured one.
func (u *upstreamClient) discover(ctx context.Context) (*gooidc.Provider, *oauth2.Config, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.provider == nil {
		pr, err := gooidc.NewProvider(u.ctx(ctx), u.cfg.Issuer)
		if err != nil {
			return nil, nil, err
		}
		u.provider = pr
	}
	return u.provider, &oauth2.Config{ClientID: u.cfg.ClientID, ClientSecret: u.cfg.ClientSecret, Endpoint: u.provider.Endpoint(),
		RedirectURL: u.p.o.Issuer + "/upstream/callback", Scopes: u.cfg.Scopes}, nil
}

func (u *upstreamClient) fail(w http.ResponseWriter, r *http.Request, why string) {
	u.p.record(r.Context(), "upstream", "sso.upstream_login", u.cfg.Issuer, why)
	u.p.o.WriteError(w, r, bus.ErrSSOUpstreamFailed.New("%s", why))
}

// start sends the browser to the upstream provider (authorization code
// with PKCE, a nonce, and a state bound to this browser by a cookie).
func (u *upstreamClient) start(w http.ResponseWriter, r *http.Request) {
	_, cfg, err := u.discover(r.Context())
	if err != nil {
		u.fail(w, r, "upstream discovery failed")
		return
	}
	state, nonce, verifier := randomString(24), randomString(24), oauth2.GenerateVerifier()
	l := upstreamLogin{Nonce: nonce, Verifier: verifier, Next: people.SafeNext(r.URL.Query().Get("next"))}
	data, _ := json.Marshal(l)
	if err := u.p.o.Store.PutSSO(r.Context(), store.SSORecord{Kind: kindUpstream, ID: sha(state), Data: data,
		CreatedAt: u.p.now(), ExpiresAt: u.p.now().Add(u.p.o.LoginTimeout)}); err != nil {
		u.p.o.WriteError(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: upstreamCookie, Value: state, Path: u.p.path + "/upstream/", MaxAge: int(u.p.o.LoginTimeout.Seconds()),
		HttpOnly: true, Secure: r.TLS != nil || strings.HasPrefix(u.p.o.Issuer, "https:"), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, cfg.AuthCodeURL(state, gooidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
}

// callback finishes the upstream login: state and cookie agree, the code
// is exchanged with the PKCE verifier, the ID token verifies (issuer,
// audience, signature, expiry) and carries our nonce, the linking claim is
// verified, and an account has it.
func (u *upstreamClient) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	state := q.Get("state")
	c, err := r.Cookie(upstreamCookie)
	if state == "" || err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(state)) != 1 {
		u.fail(w, r, "state mismatch")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: upstreamCookie, Value: "", Path: u.p.path + "/upstream/", MaxAge: -1, HttpOnly: true})
	rec, err := u.p.o.Store.TakeSSO(ctx, kindUpstream, sha(state), u.p.now())
	if err != nil {
		u.fail(w, r, "unknown or expired state")
		return
	}
	var l upstreamLogin
	if err := json.Unmarshal(rec.Data, &l); err != nil {
		u.p.o.WriteError(w, r, err)
		return
	}
	if e := q.Get("error"); e != "" {
		u.fail(w, r, "upstream refused the login")
		return
	}
	pr, cfg, err := u.discover(ctx)
	if err != nil {
		u.fail(w, r, "upstream discovery failed")
		return
	}
	tok, err := cfg.Exchange(u.ctx(ctx), q.Get("code"), oauth2.VerifierOption(l.Verifier))
	if err != nil {
		u.fail(w, r, "code exchange failed")
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := pr.Verifier(&gooidc.Config{ClientID: u.cfg.ClientID, SupportedSigningAlgs: []string{gooidc.RS256, gooidc.ES256, gooidc.PS256}}).Verify(u.ctx(ctx), raw)
	if err != nil {
		u.fail(w, r, "id token does not verify")
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(l.Nonce)) != 1 {
		u.fail(w, r, "nonce mismatch")
		return
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		u.fail(w, r, "unreadable claims")
		return
	}
	value, _ := claims[u.cfg.Claim].(string)
	if value == "" {
		u.fail(w, r, "the linking claim is missing")
		return
	}
	if u.cfg.Claim == "email" {
		if v, _ := claims["email_verified"].(bool); !v {
			u.p.record(ctx, "upstream", "sso.upstream_login", u.cfg.Issuer, string(bus.ErrSSOUnverified.Code))
			u.p.o.WriteError(w, r, bus.ErrSSOUnverified.New("email_verified is not true"))
			return
		}
	}
	who, found, err := u.p.o.People.FindByClaim(u.cfg.Claim, value)
	if err != nil {
		u.p.o.WriteError(w, r, err)
		return
	}
	if !found {
		name, _ := claims["name"].(string)
		if who, found, err = u.byRule(ctx, value, name); err != nil {
			u.p.o.WriteError(w, r, err)
			return
		}
		if !found {
			u.pending(ctx, value, name)
			u.p.o.WriteError(w, r, bus.ErrSSOPending.New("ask an administrator to approve the account"))
			return
		}
	}
	if err := u.p.o.People.StartSession(w, r, who); err != nil {
		u.p.o.WriteError(w, r, err)
		return
	}
	u.p.record(ctx, "person:"+who.Login, "sso.upstream_login", u.cfg.Issuer, "")
	http.Redirect(w, r, l.Next, http.StatusSeeOther)
}

// byRule creates the account of the first rule the value matches.
func (u *upstreamClient) byRule(ctx context.Context, value, name string) (people.Person, bool, error) {
	for _, rule := range u.cfg.Rules {
		if !rule.re.MatchString(value) {
			continue
		}
		np := people.Person{Unit: rule.Unit, Roles: rule.Roles, Name: name}
		if np.Name == "" {
			np.Name = value
		}
		if u.cfg.Claim == "email" {
			np.Email = strings.ToLower(value)
			np.Login = strings.ToLower(value)
		} else {
			np.PersonalID = value
			np.Login = "id" + value
		}
		if len(np.Login) > 64 {
			np.Login = "u" + sha(value)[:20]
		}
		p, err := u.p.o.People.Add(ctx, "sso-rule:"+rule.Pattern, np, "")
		if err != nil {
			return people.Person{}, false, err
		}
		return p, true, nil
	}
	return people.Person{}, false, nil
}

// pending records (or counts again) a login that awaits an administrator.
func (u *upstreamClient) pending(ctx context.Context, value, name string) {
	id := u.cfg.Claim + ":" + value
	pl := PendingLogin{Claim: u.cfg.Claim, Value: value, Name: name, At: u.p.now().UTC(), Count: 1}
	if r, err := u.p.o.Store.GetSSO(ctx, kindPending, id, u.p.now()); err == nil {
		var old PendingLogin
		if json.Unmarshal(r.Data, &old) == nil {
			pl.Count = old.Count + 1
		}
	}
	data, _ := json.Marshal(pl)
	_ = u.p.o.Store.PutSSO(ctx, store.SSORecord{Kind: kindPending, ID: id, Data: data, CreatedAt: u.p.now(), ExpiresAt: u.p.now().Add(30 * 24 * time.Hour)})
	u.p.record(ctx, "upstream", "sso.upstream_login", u.cfg.Issuer, string(bus.ErrSSOPending.Code))
}

// Pending lists the upstream logins that await an administrator.
func (p *Provider) Pending(ctx context.Context) ([]PendingLogin, error) {
	rs, err := p.o.Store.ListSSO(ctx, kindPending, "", p.now())
	if err != nil {
		return nil, err
	}
	out := make([]PendingLogin, 0, len(rs))
	for _, r := range rs {
		var pl PendingLogin
		if err := json.Unmarshal(r.Data, &pl); err != nil {
			return nil, err
		}
		out = append(out, pl)
	}
	return out, nil
}

// DismissPending removes a pending request (approved or refused).
func (p *Provider) DismissPending(ctx context.Context, by, claim, value string) error {
	ok, err := p.o.Store.DeleteSSO(ctx, kindPending, claim+":"+value)
	if err != nil {
		return err
	}
	if !ok {
		return bus.ErrSSONotFound.New("no pending request")
	}
	p.record(ctx, by, "sso.pending.dismiss", claim, "")
	return nil
}

// UpstreamLoginPath is the link of the login page that starts an
// upstream login ("" when none is configured).
func (p *Provider) UpstreamLoginPath() string {
	if p.up == nil {
		return ""
	}
	return p.path + "/upstream/login"
}
