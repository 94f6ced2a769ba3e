package sso

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/activity"
	"github.com/tuyenquang/lgsp/bus/people"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/bus/vault"
)

// MountPath is where the provider is served; the issuer is the node's
// public URL followed by it.
const MountPath = "/oidc"

// Store is what the provider needs of the store: its own records, the
// people's console sessions (a logout ends them) and a health check.
type Store interface {
	store.SSOStore
	DeletePersonSessions(ctx context.Context, personID int64) (int64, error)
	Ping(ctx context.Context) error
}

// Options configure a Provider. Zero durations take the defaults named.
type Options struct {
	Store    Store
	Vault    *vault.Vault // seals the signing keys (required)
	People   *people.Service
	Activity *activity.Log // nil: nothing is recorded
	// Issuer is the node's public URL + MountPath, as applications see it.
	Issuer string
	// IDTokenLifetime (default 1 h), AccessTokenLifetime (default 15 min),
	// RefreshTokenLifetime (default 12 h), CodeLifetime (default 1 min),
	// LoginTimeout: how long an authorization request waits for the
	// person to log in (default 10 min).
	IDTokenLifetime      time.Duration
	AccessTokenLifetime  time.Duration
	RefreshTokenLifetime time.Duration
	CodeLifetime         time.Duration
	LoginTimeout         time.Duration
	// KeyRotation replaces the signing key when it is this old (default
	// 30 days; negative: only on command).
	KeyRotation time.Duration
	// EmailVerified is the email_verified claim given for the e-mail
	// addresses of accounts: true only when the province checks them.
	EmailVerified bool
	// HTTPClient sends back-channel logout tokens and talks to the
	// upstream provider (default: 10 s timeout).
	HTTPClient *http.Client
	// Upstream, when set, offers login through an upstream provider.
	Upstream *Upstream
	// MaxFormBytes bounds request bodies under MountPath (default 64 KiB).
	MaxFormBytes int64
	// WriteError answers with a coded error (bus/service's problem+json).
	WriteError func(w http.ResponseWriter, r *http.Request, err error)
	// Now is the clock of records and key rotation (tests move it).
	Now func() time.Time
}

// Provider is the OpenID Connect provider of one node.
type Provider struct {
	o        Options
	path     string
	op       *op.Provider
	handler  http.Handler
	mu       sync.Mutex
	rot      sync.Mutex
	keyCache map[string]*signingKey
	clock    func() time.Time
	up       *upstreamClient
}

// New builds a Provider.
func New(o Options) (*Provider, error) {
	if o.Store == nil || o.Vault == nil || o.People == nil {
		return nil, fmt.Errorf("sso: store, vault and people are required")
	}
	u, err := url.Parse(o.Issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || !strings.HasSuffix(u.Path, MountPath) {
		return nil, fmt.Errorf("sso: issuer %q must be an absolute URL ending in %s", o.Issuer, MountPath)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.IDTokenLifetime, time.Hour)
	def(&o.AccessTokenLifetime, 15*time.Minute)
	def(&o.RefreshTokenLifetime, 12*time.Hour)
	def(&o.CodeLifetime, time.Minute)
	def(&o.LoginTimeout, 10*time.Minute)
	def(&o.KeyRotation, 30*24*time.Hour)
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.MaxFormBytes <= 0 {
		o.MaxFormBytes = 64 << 10
	}
	if o.WriteError == nil {
		o.WriteError = func(w http.ResponseWriter, r *http.Request, err error) {
			e := bus.AsError(err)
			msg := string(e.Def.Code) + ": " + e.Def.EN
			if e.Detail != "" {
				msg += ": " + e.Detail
			}
			http.Error(w, msg, e.Def.Status)
		}
	}
	p := &Provider{o: o, path: MountPath, keyCache: map[string]*signingKey{}, clock: o.Now}
	if p.clock == nil {
		p.clock = time.Now
	}
	// The op's own crypto key only protects opaque tokens, which this
	// provider never issues (access tokens are JWTs, codes and refresh
	// tokens are looked up in the store by hash): a key per process is
	// enough.
	cfg := &op.Config{CodeMethodS256: true, GrantTypeRefreshToken: true, AuthMethodPost: false,
		SupportedUILocales: []language.Tag{language.Vietnamese, language.English},
		SupportedScopes:    []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopeOfflineAccess, ScopePersonalID},
		SupportedClaims: []string{"sub", "aud", "exp", "iat", "iss", "auth_time", "nonce", "azp", "at_hash", "amr",
			"name", "preferred_username", "email", "email_verified", "unit", "roles", "personal_id"},
		BackChannelLogoutSupported: true, DefaultLogoutRedirectURI: people.LoginPath}
	if _, err := rand.Read(cfg.CryptoKey[:]); err != nil {
		return nil, err
	}
	var opts []op.Option
	if u.Scheme == "http" {
		opts = append(opts, op.WithAllowInsecure())
	}
	st := &storage{p: p}
	p.op, err = op.NewProvider(cfg, st, op.StaticIssuer(o.Issuer), opts...)
	if err != nil {
		return nil, err
	}
	if o.Upstream != nil {
		if p.up, err = newUpstream(p, *o.Upstream); err != nil {
			return nil, err
		}
	}
	p.handler = p.routes(st)
	return p, nil
}

func (p *Provider) now() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.clock()
}

// SetClock replaces the clock (tests: rotation, expiry of codes).
func (p *Provider) SetClock(now func() time.Time) {
	p.mu.Lock()
	p.clock = now
	p.mu.Unlock()
}

// Issuer returns the issuer URL.
func (p *Provider) Issuer() string { return p.o.Issuer }

// Mount mounts the provider under MountPath on handle (a mux's Handle).
func (p *Provider) Mount(handle func(pattern string, h http.Handler)) {
	handle(MountPath+"/", p.handler)
}

// logoutPerson is the context key of the person whose console session
// an end_session request ended.
type logoutPerson struct{}

func (p *Provider) routes(st *storage) http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET "+p.path+"/login", func(w http.ResponseWriter, r *http.Request) { p.login(w, r, st) })
	m.HandleFunc(p.path+"/end_session", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if who, ok := p.o.People.Current(r); ok {
			ctx = context.WithValue(ctx, logoutPerson{}, who)
			p.o.People.Logout(w, r)
		}
		http.StripPrefix(p.path, p.op).ServeHTTP(w, r.WithContext(ctx))
	})
	if p.up != nil {
		m.HandleFunc("GET "+p.path+"/upstream/login", p.up.start)
		m.HandleFunc("GET "+p.path+"/upstream/callback", p.up.callback)
	}
	m.Handle(p.path+"/", http.StripPrefix(p.path, p.op))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > p.o.MaxFormBytes {
			p.o.WriteError(w, r, bus.ErrBodyTooLarge.New("at most %d bytes", p.o.MaxFormBytes))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, p.o.MaxFormBytes)
		m.ServeHTTP(w, r)
	})
}

// login is the login step of an authorization request: a person without
// a console session is sent to the people login and comes back here; a
// person the application does not allow is sent back to it with
// access_denied.
func (p *Provider) login(w http.ResponseWriter, r *http.Request, st *storage) {
	id := r.URL.Query().Get("id")
	a := new(authRequest)
	if _, err := st.get(r.Context(), kindAuthReq, id, a); err != nil {
		p.o.WriteError(w, r, bus.ErrSSONotFound.New("no such login request (expired?)"))
		return
	}
	who, ok := p.o.People.Current(r)
	if !ok {
		next := p.path + "/login?id=" + url.QueryEscape(id)
		http.Redirect(w, r, people.LoginPath+"?next="+url.QueryEscape(next), http.StatusFound)
		return
	}
	c, err := p.client(r.Context(), a.ClientID)
	if err != nil || !c.c.Allows(who) {
		p.record(r.Context(), "person:"+who.Login, "sso.login", a.ClientID, string(bus.ErrSSONotAllowed.Code))
		_, _ = p.o.Store.DeleteSSO(r.Context(), kindAuthReq, id)
		op.AuthRequestError(w, r, a, oidc.ErrAccessDenied().WithDescription("this account may not use this application"), p.op)
		return
	}
	if err := st.completeAuthRequest(r.Context(), id, who, []string{"pwd"}); err != nil {
		p.o.WriteError(w, r, err)
		return
	}
	p.record(r.Context(), "person:"+who.Login, "sso.login", a.ClientID, "")
	http.Redirect(w, r, p.path+"/authorize/callback?id="+url.QueryEscape(id), http.StatusFound)
}

// signOut ends a person's sign-in everywhere: every console session,
// every access and refresh token at every application, and a back-channel
// logout token to each application holding one that asked for it.
func (p *Provider) signOut(ctx context.Context, subject string) error {
	var clients []string
	for _, k := range []string{kindAccess, kindRefresh} {
		rs, err := p.o.Store.ListSSO(ctx, k, subject, p.now())
		if err != nil {
			return err
		}
		for _, r := range rs {
			if !slices.Contains(clients, r.Client) {
				clients = append(clients, r.Client)
			}
		}
		if _, err := p.o.Store.DeleteSSOSubject(ctx, k, subject, ""); err != nil {
			return err
		}
	}
	if id, err := strconv.ParseInt(subject, 10, 64); err == nil {
		if _, err := p.o.Store.DeletePersonSessions(ctx, id); err != nil {
			return err
		}
	}
	for _, cid := range clients {
		c, err := p.client(ctx, cid)
		if err != nil || c.c.BackchannelLogoutURI == "" {
			continue
		}
		outcome := ""
		if err := p.backchannel(ctx, c.c, subject); err != nil {
			outcome = "backchannel_failed"
		}
		p.record(ctx, "sso", "sso.backchannel_logout", cid, outcome)
	}
	p.record(ctx, "subject:"+subject, "sso.logout", strings.Join(clients, ","), "")
	return nil
}

// backchannel posts an OpenID Connect Back-Channel Logout 1.0 logout token.
func (p *Provider) backchannel(ctx context.Context, c Client, subject string) error {
	ks, err := p.keys(ctx)
	if err != nil {
		return err
	}
	k := ks[len(ks)-1]
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: k.key, KeyID: k.id}},
		(&jose.SignerOptions{}).WithType("logout+jwt"))
	if err != nil {
		return err
	}
	now := p.now()
	claims := map[string]any{"iss": p.o.Issuer, "aud": c.ID, "sub": subject, "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
		"jti": randomString(16), "events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}}
	payload, _ := jsonMarshal(claims)
	obj, err := signer.Sign(payload)
	if err != nil {
		return err
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BackchannelLogoutURI, strings.NewReader(url.Values{"logout_token": {tok}}.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := p.o.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("back-channel logout answered %d", res.StatusCode)
	}
	return nil
}

// Purge deletes expired codes, requests, tokens and retired keys.
func (p *Provider) Purge(ctx context.Context) (int64, error) { return p.o.Store.PurgeSSO(ctx, p.now()) }

func (p *Provider) record(ctx context.Context, by, kind, subject, outcome string) {
	if by == "" {
		by = "admin"
	}
	if outcome == "" {
		outcome = activity.OK
	}
	p.o.Activity.Record(ctx, activity.Entry{Kind: kind, Actor: by, Subject: subject, Outcome: outcome})
}
