package sso

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/people"
	"github.com/tuyenquang/lgsp/bus/store"
)

// Client is an application registered by the administrator (C6): which
// unit runs it, where it may send people back (exact match), who may sign
// in to it, and whether it keeps a secret (a server-side web application)
// or not (a browser or mobile application, which must use PKCE).
type Client struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Unit is the unit that runs the application.
	Unit string `json:"unit"`
	// Public applications hold no secret and must send an S256 PKCE
	// challenge.
	Public bool `json:"public"`
	// RedirectURIs are compared byte for byte with redirect_uri.
	RedirectURIs []string `json:"redirect_uris"`
	// PostLogoutURIs are where end_session may send the browser.
	PostLogoutURIs []string `json:"post_logout_redirect_uris,omitempty"`
	// BackchannelLogoutURI receives an OpenID Connect back-channel logout
	// token when a person logs out anywhere ("" none).
	BackchannelLogoutURI string `json:"backchannel_logout_uri,omitempty"`
	// Roles may sign in (any role of the person; empty: every person with
	// an account). Units may sign in (the person's unit; empty: every unit).
	Roles []string `json:"roles,omitempty"`
	Units []string `json:"units,omitempty"`
	// SecretHash is the SHA-256 of the secret (256 random bits, so a
	// fast hash is enough); never shown.
	SecretHash string    `json:"secret_hash,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
}

// View is the client without its secret hash, as the API shows it.
func (c Client) View() Client { c.SecretHash = ""; return c }

// Allows reports whether a person may sign in to the application: not
// disabled, one of its roles (when the application names roles) and its
// unit (when the application names units).
func (c Client) Allows(p people.Person) bool {
	if p.Disabled {
		return false
	}
	if len(c.Roles) > 0 && !slices.ContainsFunc(p.Roles, func(r string) bool { return slices.Contains(c.Roles, r) }) {
		return false
	}
	return len(c.Units) == 0 || slices.Contains(c.Units, p.Unit)
}

var clientIDRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,62}$`)

// validate checks a registration.
func (c *Client) validate() error {
	bad := func(f string, a ...any) error { return bus.ErrSSOClientInvalid.New(f, a...) }
	if !clientIDRe.MatchString(c.ID) {
		return bad("id must be 2–63 characters of a-z, 0-9, '.', '_', '-'")
	}
	if c.Name == "" || len(c.Name) > 200 {
		return bad("name is required (at most 200 characters)")
	}
	if len(c.RedirectURIs) == 0 || len(c.RedirectURIs) > 20 {
		return bad("between 1 and 20 redirect_uris")
	}
	for _, u := range slices.Concat(c.RedirectURIs, c.PostLogoutURIs) {
		if err := checkURI(u); err != nil {
			return bad("%v", err)
		}
	}
	if c.BackchannelLogoutURI != "" {
		if err := checkURI(c.BackchannelLogoutURI); err != nil {
			return bad("backchannel_logout_uri: %v", err)
		}
	}
	for _, r := range c.Roles {
		if !people.KnownRole(r) {
			return bad("unknown role %q", r)
		}
	}
	return nil
}

// checkURI accepts absolute http(s) URIs without fragments; plain http
// only to a loopback host or inside the province's network is the
// administrator's choice, so it is allowed, but a fragment or userinfo is
// never.
func checkURI(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" || u.User != nil || len(s) > 2000 {
		return errors.New("URIs must be absolute http(s) URLs without fragment or user, at most 2000 characters")
	}
	return nil
}

// AddClient registers an application and, unless it is public, returns its
// secret (shown once).
func (p *Provider) AddClient(ctx context.Context, by string, c Client) (Client, string, error) {
	c.CreatedAt = p.now().UTC()
	c.SecretHash = ""
	if err := c.validate(); err != nil {
		return Client{}, "", err
	}
	if _, err := p.o.Store.GetSSO(ctx, kindClient, c.ID, p.now()); err == nil {
		return Client{}, "", bus.ErrSSOClientExists.New("%s", c.ID)
	} else if !errors.Is(err, bus.ErrSSONotFound) {
		return Client{}, "", err
	}
	var secret string
	if !c.Public {
		secret = randomString(32)
		c.SecretHash = sha(secret)
	}
	data, _ := json.Marshal(c)
	if err := p.o.Store.PutSSO(ctx, store.SSORecord{Kind: kindClient, ID: c.ID, Data: data, CreatedAt: c.CreatedAt}); err != nil {
		return Client{}, "", err
	}
	p.record(ctx, by, "sso.client.add", c.ID, "")
	return c.View(), secret, nil
}

// ListClients lists the registered applications (without secrets).
func (p *Provider) ListClients(ctx context.Context) ([]Client, error) {
	rs, err := p.o.Store.ListSSO(ctx, kindClient, "", p.now())
	if err != nil {
		return nil, err
	}
	out := make([]Client, 0, len(rs))
	for _, r := range rs {
		var c Client
		if err := json.Unmarshal(r.Data, &c); err != nil {
			return nil, err
		}
		out = append(out, c.View())
	}
	slices.SortFunc(out, func(a, b Client) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// RemoveClient removes an application and every token issued to it.
func (p *Provider) RemoveClient(ctx context.Context, by, id string) error {
	ok, err := p.o.Store.DeleteSSO(ctx, kindClient, id)
	if err != nil {
		return err
	}
	if !ok {
		return bus.ErrSSONotFound.New("no application %s", id)
	}
	for _, k := range []string{kindAccess, kindRefresh} {
		rs, err := p.o.Store.ListSSO(ctx, k, "", p.now())
		if err != nil {
			return err
		}
		for _, r := range rs {
			if r.Client == id {
				if _, err := p.o.Store.DeleteSSO(ctx, k, r.ID); err != nil {
					return err
				}
			}
		}
	}
	p.record(ctx, by, "sso.client.remove", id, "")
	return nil
}

func (p *Provider) client(ctx context.Context, id string) (*opClient, error) {
	r, err := p.o.Store.GetSSO(ctx, kindClient, id, p.now())
	if err != nil {
		return nil, err
	}
	var c Client
	if err := json.Unmarshal(r.Data, &c); err != nil {
		return nil, err
	}
	return &opClient{c: c, p: p}, nil
}

// opClient is a Client as zitadel's op sees it.
type opClient struct {
	c Client
	p *Provider
}

func (o *opClient) GetID() string                    { return o.c.ID }
func (o *opClient) RedirectURIs() []string           { return o.c.RedirectURIs }
func (o *opClient) PostLogoutRedirectURIs() []string { return o.c.PostLogoutURIs }
func (o *opClient) ApplicationType() op.ApplicationType {
	if o.c.Public {
		return op.ApplicationTypeUserAgent
	}
	return op.ApplicationTypeWeb
}

func (o *opClient) AuthMethod() oidc.AuthMethod {
	if o.c.Public {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}
func (o *opClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (o *opClient) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}
func (o *opClient) LoginURL(id string) string {
	return o.p.path + "/login?id=" + url.QueryEscape(id)
}
func (o *opClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }
func (o *opClient) IDTokenLifetime() time.Duration      { return o.p.o.IDTokenLifetime }
func (o *opClient) DevMode() bool                       { return false }
func (o *opClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (o *opClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (o *opClient) IsScopeAllowed(scope string) bool     { return scope == ScopePersonalID }
func (o *opClient) IDTokenUserinfoClaimsAssertion() bool { return true }
func (o *opClient) ClockSkew() time.Duration             { return 0 }

// checkSecret compares a presented secret with the stored hash.
func (c Client) checkSecret(secret string) bool {
	if c.Public || c.SecretHash == "" || secret == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(sha(secret)), []byte(c.SecretHash)) == 1
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
