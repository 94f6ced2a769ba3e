package sso

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/people"
	"github.com/tuyenquang/lgsp/bus/store"
)

// Kinds of store.SSORecord.
const (
	kindClient   = "client"
	kindAuthReq  = "authreq"
	kindCode     = "code"
	kindAccess   = "access"
	kindRefresh  = "refresh"
	kindKey      = "key"
	kindUpstream = "upstream"
	kindPending  = "pending"
)

// ScopePersonalID asks for the person's personal identification number
// (claim personal_id), for applications that must know it.
const ScopePersonalID = "personal_id"

// authRequest is an authorization request between /authorize and the
// token exchange. It is kept in the store so that any node of a cluster
// can finish it.
type authRequest struct {
	ID            string    `json:"id"`
	ClientID      string    `json:"client_id"`
	RedirectURI   string    `json:"redirect_uri"`
	State         string    `json:"state"`
	Nonce         string    `json:"nonce"`
	Scopes        []string  `json:"scopes"`
	ResponseType  string    `json:"response_type"`
	ResponseMode  string    `json:"response_mode,omitempty"`
	Challenge     string    `json:"challenge,omitempty"`
	ChallengeMeth string    `json:"challenge_method,omitempty"`
	Subject       string    `json:"subject,omitempty"`
	AuthTime      time.Time `json:"auth_time"`
	AMR           []string  `json:"amr,omitempty"`
	Finished      bool      `json:"done"`
}

func (a *authRequest) GetID() string          { return a.ID }
func (a *authRequest) GetACR() string         { return "" }
func (a *authRequest) GetAMR() []string       { return a.AMR }
func (a *authRequest) GetAudience() []string  { return []string{a.ClientID} }
func (a *authRequest) GetAuthTime() time.Time { return a.AuthTime }
func (a *authRequest) GetClientID() string    { return a.ClientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.Challenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.Challenge, Method: oidc.CodeChallengeMethod(a.ChallengeMeth)}
}
func (a *authRequest) GetNonce() string                   { return a.Nonce }
func (a *authRequest) GetRedirectURI() string             { return a.RedirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType { return oidc.ResponseType(a.ResponseType) }
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return oidc.ResponseMode(a.ResponseMode) }
func (a *authRequest) GetScopes() []string                { return a.Scopes }
func (a *authRequest) GetState() string                   { return a.State }
func (a *authRequest) GetSubject() string                 { return a.Subject }
func (a *authRequest) Done() bool                         { return a.Finished }
func (a *authRequest) SetCurrentScopes(scopes []string)   { a.Scopes = scopes }
func (a *authRequest) LogValue() string                   { return a.ID }
func (a *authRequest) String() string                     { return "auth request " + a.ID }

// grant is what an access or refresh token record holds.
type grant struct {
	Subject  string    `json:"sub"`
	ClientID string    `json:"client_id"`
	Scopes   []string  `json:"scopes"`
	Audience []string  `json:"aud"`
	AMR      []string  `json:"amr,omitempty"`
	AuthTime time.Time `json:"auth_time"`
	AccessID string    `json:"access_id,omitempty"` // refresh: the access token issued with it
}

func (g *grant) GetAMR() []string                 { return g.AMR }
func (g *grant) GetAudience() []string            { return g.Audience }
func (g *grant) GetAuthTime() time.Time           { return g.AuthTime }
func (g *grant) GetClientID() string              { return g.ClientID }
func (g *grant) GetScopes() []string              { return g.Scopes }
func (g *grant) GetSubject() string               { return g.Subject }
func (g *grant) SetCurrentScopes(scopes []string) { g.Scopes = scopes }

// storage implements op.Storage on bus/store.
type storage struct{ p *Provider }

var _ op.Storage = (*storage)(nil)
var _ op.CanSetUserinfoFromRequest = (*storage)(nil)
var _ op.CanTerminateSessionFromRequest = (*storage)(nil)

// notFound is a plain error for op: unknown clients, codes and tokens are
// the caller's fault, never a server error.
var notFound = errors.New("not found")

func (s *storage) put(ctx context.Context, kind, id, subject, client string, v any, exp time.Time) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.p.o.Store.PutSSO(ctx, store.SSORecord{Kind: kind, ID: id, Subject: subject, Client: client, Data: data, CreatedAt: s.p.now(), ExpiresAt: exp})
}

func (s *storage) get(ctx context.Context, kind, id string, v any) (store.SSORecord, error) {
	r, err := s.p.o.Store.GetSSO(ctx, kind, id, s.p.now())
	if err != nil {
		if errors.Is(err, bus.ErrSSONotFound) {
			return r, notFound
		}
		return r, err
	}
	return r, json.Unmarshal(r.Data, v)
}

func (s *storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, userID string) (op.AuthRequest, error) {
	c, err := s.p.client(ctx, req.ClientID)
	if err != nil {
		return nil, oidc.ErrInvalidClient().WithDescription("unknown client")
	}
	// PKCE: public clients must send an S256 challenge; nobody may use
	// "plain", which protects nothing once the request is seen.
	if req.CodeChallenge != "" && req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	}
	if c.c.Public && req.CodeChallenge == "" {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE (S256) is required of public clients")
	}
	a := &authRequest{ID: "ar_" + randomString(18), ClientID: req.ClientID, RedirectURI: req.RedirectURI, State: req.State,
		Nonce: req.Nonce, Scopes: req.Scopes, ResponseType: string(req.ResponseType), ResponseMode: string(req.ResponseMode),
		Challenge: req.CodeChallenge, ChallengeMeth: string(req.CodeChallengeMethod)}
	if err := s.put(ctx, kindAuthReq, a.ID, "", a.ClientID, a, s.p.now().Add(s.p.o.LoginTimeout)); err != nil {
		return nil, err
	}
	return a, nil
}

func (s *storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	a := new(authRequest)
	if _, err := s.get(ctx, kindAuthReq, id, a); err != nil {
		return nil, err
	}
	return a, nil
}

// AuthRequestByCode takes the code: it works once, and only within
// CodeLifetime of being issued.
func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	r, err := s.p.o.Store.TakeSSO(ctx, kindCode, sha(code), s.p.now())
	if err != nil {
		if errors.Is(err, bus.ErrSSONotFound) {
			return nil, notFound
		}
		return nil, err
	}
	return s.AuthRequestByID(ctx, string(r.Data))
}

func (s *storage) SaveAuthCode(ctx context.Context, id, code string) error {
	return s.p.o.Store.PutSSO(ctx, store.SSORecord{Kind: kindCode, ID: sha(code), Data: []byte(id), CreatedAt: s.p.now(), ExpiresAt: s.p.now().Add(s.p.o.CodeLifetime)})
}

func (s *storage) DeleteAuthRequest(ctx context.Context, id string) error {
	_, err := s.p.o.Store.DeleteSSO(ctx, kindAuthReq, id)
	return err
}

// completeAuthRequest records who logged in for an authorization request.
func (s *storage) completeAuthRequest(ctx context.Context, id string, p people.Person, amr []string) error {
	a := new(authRequest)
	r, err := s.get(ctx, kindAuthReq, id, a)
	if err != nil {
		return err
	}
	a.Subject, a.AuthTime, a.AMR, a.Finished = subjectOf(p), s.p.now().UTC(), amr, true
	return s.put(ctx, kindAuthReq, id, a.Subject, a.ClientID, a, r.ExpiresAt)
}

func subjectOf(p people.Person) string { return strconv.FormatInt(p.ID, 10) }

// person returns the subject's account; a disabled or removed person has
// no tokens any more.
func (s *storage) person(ctx context.Context, subject string) (people.Person, error) {
	id, err := strconv.ParseInt(subject, 10, 64)
	if err != nil {
		return people.Person{}, notFound
	}
	p, err := s.p.o.People.Get(ctx, id)
	if err != nil {
		if errors.Is(err, bus.ErrPersonNotFound) {
			return p, notFound
		}
		return p, err
	}
	if p.Disabled {
		return p, oidc.ErrAccessDenied().WithDescription("account disabled")
	}
	return p, nil
}

func clientOf(r op.TokenRequest) string {
	if c, ok := r.(interface{ GetClientID() string }); ok {
		return c.GetClientID()
	}
	return ""
}

func grantOf(r op.TokenRequest) *grant {
	g := &grant{Subject: r.GetSubject(), ClientID: clientOf(r), Scopes: r.GetScopes(), Audience: r.GetAudience()}
	switch x := r.(type) {
	case *authRequest:
		g.AMR, g.AuthTime = x.AMR, x.AuthTime
	case *grant:
		g.AMR, g.AuthTime = x.AMR, x.AuthTime
	}
	return g
}

func (s *storage) CreateAccessToken(ctx context.Context, r op.TokenRequest) (string, time.Time, error) {
	if _, err := s.person(ctx, r.GetSubject()); err != nil {
		return "", time.Time{}, err
	}
	id := "at_" + randomString(18)
	exp := s.p.now().Add(s.p.o.AccessTokenLifetime)
	g := grantOf(r)
	return id, exp, s.put(ctx, kindAccess, id, g.Subject, g.ClientID, g, exp)
}

func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, r op.TokenRequest, current string) (string, string, time.Time, error) {
	if current != "" {
		// Rotation: the presented refresh token works once.
		old, err := s.p.o.Store.TakeSSO(ctx, kindRefresh, sha(current), s.p.now())
		if err != nil {
			return "", "", time.Time{}, op.ErrInvalidRefreshToken
		}
		var og grant
		if json.Unmarshal(old.Data, &og) == nil && og.AccessID != "" {
			_, _ = s.p.o.Store.DeleteSSO(ctx, kindAccess, og.AccessID)
		}
	}
	id, exp, err := s.CreateAccessToken(ctx, r)
	if err != nil {
		return "", "", time.Time{}, err
	}
	g := grantOf(r)
	g.AccessID = id
	refresh := "rt_" + randomString(32)
	if err := s.put(ctx, kindRefresh, sha(refresh), g.Subject, g.ClientID, g, s.p.now().Add(s.p.o.RefreshTokenLifetime)); err != nil {
		return "", "", time.Time{}, err
	}
	return id, refresh, exp, nil
}

func (s *storage) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	g := new(grant)
	if _, err := s.get(ctx, kindRefresh, sha(token), g); err != nil {
		return nil, op.ErrInvalidRefreshToken
	}
	if _, err := s.person(ctx, g.Subject); err != nil {
		return nil, op.ErrInvalidRefreshToken
	}
	return g, nil
}

// TerminateSession signs the person out of one application (op calls it
// when TerminateSessionFromRequest is not used).
func (s *storage) TerminateSession(ctx context.Context, userID, clientID string) error {
	return s.p.signOut(ctx, userID)
}

// TerminateSessionFromRequest ends the person's sign-in everywhere (see
// Provider.signOut) and returns where to send the browser.
func (s *storage) TerminateSessionFromRequest(ctx context.Context, req *op.EndSessionRequest) (string, error) {
	subject := req.UserID
	if p, ok := ctx.Value(logoutPerson{}).(people.Person); ok {
		subject = subjectOf(p) // the person whose console session ended
	}
	if subject != "" {
		if err := s.p.signOut(ctx, subject); err != nil {
			return "", err
		}
	}
	return req.RedirectURI, nil
}

func (s *storage) RevokeToken(ctx context.Context, tokenOrID, userID, clientID string) *oidc.Error {
	if userID != "" { // an access token's id
		r, err := s.p.o.Store.GetSSO(ctx, kindAccess, tokenOrID, s.p.now())
		if err == nil && r.Client != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
		}
		_, _ = s.p.o.Store.DeleteSSO(ctx, kindAccess, tokenOrID)
		return nil
	}
	r, err := s.p.o.Store.GetSSO(ctx, kindRefresh, sha(tokenOrID), s.p.now())
	if err != nil {
		return nil // RFC 7009: an unknown token is not an error
	}
	if r.Client != clientID {
		return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
	}
	_, _ = s.p.o.Store.DeleteSSO(ctx, kindRefresh, r.ID)
	return nil
}

func (s *storage) GetRefreshTokenInfo(ctx context.Context, clientID, token string) (string, string, error) {
	g := new(grant)
	if _, err := s.get(ctx, kindRefresh, sha(token), g); err != nil || g.ClientID != clientID {
		return "", "", op.ErrInvalidRefreshToken
	}
	return g.Subject, token, nil
}

func (s *storage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.p.client(ctx, id)
	if err != nil {
		if errors.Is(err, bus.ErrSSONotFound) {
			return nil, notFound
		}
		return nil, oidc.ErrServerError().WithParent(err)
	}
	return c, nil
}

func (s *storage) AuthorizeClientIDSecret(ctx context.Context, id, secret string) error {
	c, err := s.p.client(ctx, id)
	if err != nil || !c.c.checkSecret(secret) {
		return errors.New("wrong client or secret")
	}
	return nil
}

func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

func (s *storage) SetUserinfoFromRequest(ctx context.Context, u *oidc.UserInfo, r op.IDTokenRequest, scopes []string) error {
	return s.userinfo(ctx, u, r.GetSubject(), scopes)
}

// SetUserinfoFromToken answers /userinfo: the access token must still
// exist (not revoked by a logout) and its person must not be disabled.
func (s *storage) SetUserinfoFromToken(ctx context.Context, u *oidc.UserInfo, tokenID, subject, origin string) error {
	g := new(grant)
	if _, err := s.get(ctx, kindAccess, tokenID, g); err != nil || g.Subject != subject {
		return oidc.ErrAccessDenied().WithDescription("token revoked or expired")
	}
	return s.userinfo(ctx, u, subject, g.Scopes)
}

func (s *storage) userinfo(ctx context.Context, u *oidc.UserInfo, subject string, scopes []string) error {
	p, err := s.person(ctx, subject)
	if err != nil {
		return err
	}
	u.Subject = subject
	for _, sc := range scopes {
		switch sc {
		case oidc.ScopeProfile:
			u.Name, u.PreferredUsername = p.Name, p.Login
			u.AppendClaims("unit", p.Unit)
			u.AppendClaims("roles", p.Roles)
		case oidc.ScopeEmail:
			if p.Email != "" {
				u.Email = p.Email
				u.EmailVerified = oidc.Bool(s.p.o.EmailVerified)
			}
		case ScopePersonalID:
			if p.PersonalID != "" {
				u.AppendClaims("personal_id", p.PersonalID)
			}
		}
	}
	return nil
}

func (s *storage) SetIntrospectionFromToken(ctx context.Context, r *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	g := new(grant)
	if _, err := s.get(ctx, kindAccess, tokenID, g); err != nil || g.Subject != subject {
		return oidc.ErrAccessDenied().WithDescription("token revoked or expired")
	}
	if _, err := s.person(ctx, subject); err != nil {
		return err
	}
	r.Active, r.Subject, r.ClientID, r.Scope, r.Audience = true, subject, g.ClientID, g.Scopes, g.Audience
	return nil
}

func (s *storage) GetPrivateClaimsFromScopes(ctx context.Context, userID, clientID string, scopes []string) (map[string]any, error) {
	return nil, nil
}

func (s *storage) GetKeyByIDAndClientID(ctx context.Context, keyID, clientID string) (*jose.JSONWebKey, error) {
	return nil, oidc.ErrUnsupportedGrantType()
}

func (s *storage) ValidateJWTProfileScopes(ctx context.Context, userID string, scopes []string) ([]string, error) {
	return nil, oidc.ErrUnsupportedGrantType()
}

func (s *storage) Health(ctx context.Context) error { return s.p.o.Store.Ping(ctx) }
