package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/bus/vault"
)

// DefaultTokenTTL is the lifetime of an OAuth2 bearer token when
// Tokens.TTL is zero (WSO2-style gateways answer expires_in 3600).
const DefaultTokenTTL = time.Hour

// HeaderLegacyToken is the VNPT-style header: Base64 of a JSON object
// {"AccessKey","SecretKey","AppName","PartnerCode"}. It carries the secret
// in every request, so it is accepted only for systems switched on with
// `lgsp systems legacy-token --on`, to migrate existing systems.
const HeaderLegacyToken = "lgspaccesstoken"

// Values of Principal.Alg for requests that were not signed.
const (
	AuthBearer      = "Bearer"          // OAuth2 bearer token from POST /token
	AuthLegacyToken = HeaderLegacyToken // VNPT-style lgspaccesstoken header
)

// TokenStore is what Tokens needs from the store; store.Store satisfies it.
type TokenStore interface {
	KeyStore
	CreateToken(ctx context.Context, t store.Token) error
	TokenByHash(ctx context.Context, hash string) (store.Token, error) // bus.ErrTokenInvalid
	LegacyToken(ctx context.Context, code string) (bool, error)
}

// Tokens issues and checks OAuth2 client-credentials bearer tokens and
// checks the legacy lgspaccesstoken header, for systems built against
// WSO2-style or VNPT-style gateways. Tokens are 256 random bits, stored
// only as their SHA-256. Its fields are set once before use.
type Tokens struct {
	Store TokenStore
	Vault *vault.Vault // opens sealed secrets to compare client secrets
	TTL   time.Duration
	Now   func() time.Time
	// Limits, when set, locks an access key after repeated wrong secrets
	// and rate-limits token calls per key, as for signatures (nil: off).
	Limits *Limits
	// Keys, when set, is where Bearer reads the key and system of a token:
	// the node's KeyCache, so that a bearer call reads only its token row
	// from the store, and a change of key or system holds within the same
	// bound as for signed requests (docs/auth.md, "When changes take
	// effect"). Nil: the store, on every use.
	Keys KeyStore
}

func (t *Tokens) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

func (t *Tokens) ttl() time.Duration {
	if t.TTL > 0 {
		return t.TTL
	}
	return DefaultTokenTTL
}

// Issue checks client credentials (an access key and its secret key) sent
// from remote (the RemoteAddr, for lockout) and returns a new bearer token
// with its lifetime. Errors: auth.unknown_key,
// auth.bad_signature (the secret does not match), auth.key_revoked,
// auth.key_expired, auth.system_suspended.
func (t *Tokens) Issue(ctx context.Context, accessKey, secret, remote string) (string, time.Duration, error) {
	k, _, err := t.client(ctx, accessKey, secret, remote)
	if err != nil {
		return "", 0, err
	}
	now := t.now().UTC()
	life := t.ttl()
	if !k.ExpiresAt.IsZero() && k.ExpiresAt.Sub(now) < life {
		life = k.ExpiresAt.Sub(now).Truncate(time.Second) // never outlive the key
	}
	tok := "lgst_" + bus.RandomToken(32)
	if err := t.Store.CreateToken(ctx, store.Token{Hash: hashToken(tok), SystemCode: k.SystemCode, AccessKey: k.AccessKey, CreatedAt: now, ExpiresAt: now.Add(life)}); err != nil {
		return "", 0, storeFault(err, "storing token")
	}
	return tok, life, nil
}

func hashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// client checks an access key and its secret, then the key's and the
// system's status, in the order Verify uses: status is told only to a
// caller who knows the secret.
func (t *Tokens) client(ctx context.Context, accessKey, secret, remote string) (store.Key, store.System, error) {
	if t.Store == nil || t.Vault == nil {
		return store.Key{}, store.System{}, bus.ErrInternal.New("tokens are not configured")
	}
	if !validAccessKey(accessKey) || secret == "" {
		return store.Key{}, store.System{}, bus.ErrAuthMalformed.New("client credentials are missing or malformed")
	}
	if err := t.Limits.CheckLocked(accessKey, remote); err != nil {
		return store.Key{}, store.System{}, err
	}
	k, err := t.Store.GetKey(ctx, accessKey)
	if errors.Is(err, bus.ErrKeyNotFound.Err()) {
		return store.Key{}, store.System{}, bus.ErrAuthUnknownKey.New("access key %s", accessKey)
	}
	if err != nil {
		return store.Key{}, store.System{}, storeFault(err, "reading access key")
	}
	stored, err := SharedSecret(t.Vault, k) // auth.key_kind for a public key
	if err != nil {
		return store.Key{}, store.System{}, err
	}
	same := subtle.ConstantTimeCompare(stored, []byte(secret)) == 1
	clear(stored)
	if !same {
		t.Limits.Failure(ctx, k.AccessKey, k.SystemCode, remote)
		return store.Key{}, store.System{}, bus.ErrAuthBadSignature.New("the secret key does not match access key %s", accessKey)
	}
	sys, err := t.status(ctx, k)
	return k, sys, err
}

// status refuses a revoked or expired key and a suspended system.
func (t *Tokens) status(ctx context.Context, k store.Key) (store.System, error) {
	return KeyStanding(ctx, t.Store, k, t.now())
}

// Bearer checks a bearer token and returns who it was issued to. The token
// row is read on every call (revoking the token ends it at once); the key
// it was issued for and its system are checked again on every call
// (KeyStanding) through Keys, so revoking the key, suspending the system
// or denying the key's algorithm ends the token at its next use (within
// the cache's bound when Keys is the node's KeyCache).
func (t *Tokens) Bearer(ctx context.Context, token string) (*Principal, error) {
	if token == "" || len(token) > 256 {
		return nil, bus.ErrTokenInvalid.New("malformed access token")
	}
	tok, err := t.Store.TokenByHash(ctx, hashToken(token))
	if err != nil {
		return nil, storeFault(err, "reading token")
	}
	now := t.now()
	if !now.Before(tok.ExpiresAt) {
		return nil, bus.ErrTokenInvalid.New("the access token expired at %s; ask POST /token for a new one", tok.ExpiresAt.Format(time.RFC3339))
	}
	var keys KeyStore = t.Store
	if t.Keys != nil {
		keys = t.Keys
	}
	k, err := keys.GetKey(ctx, tok.AccessKey)
	if errors.Is(err, bus.ErrKeyNotFound.Err()) {
		return nil, bus.ErrTokenInvalid.New("the access key of this token no longer exists")
	}
	if err != nil {
		return nil, storeFault(err, "reading access key")
	}
	// Tokens are issued only against a shared secret: one bound to a
	// public key was obtained by offering that public key as a secret.
	if !IsShared(k) {
		return nil, errKeyKind(k)
	}
	sys, err := KeyStanding(ctx, keys, k, now)
	if err != nil {
		return nil, err
	}
	if err := t.Limits.Allow(k.AccessKey); err != nil {
		return nil, err
	}
	return &Principal{SystemCode: sys.Code, AccessKey: k.AccessKey, Alg: AuthBearer, System: sys, SignedAt: now}, nil
}

// LegacyCredentials is the JSON inside a VNPT-style lgspaccesstoken header.
type LegacyCredentials struct {
	AccessKey   string `json:"AccessKey"`
	SecretKey   string `json:"SecretKey"`
	AppName     string `json:"AppName,omitempty"`
	PartnerCode string `json:"PartnerCode,omitempty"`
}

// EncodeLegacyToken builds an lgspaccesstoken header value.
func EncodeLegacyToken(c LegacyCredentials) string {
	b, _ := json.Marshal(c)
	return base64.StdEncoding.EncodeToString(b)
}

// Legacy checks an lgspaccesstoken header value sent from remote (the
// RemoteAddr, for lockout): the credentials inside
// must be a valid key pair, and the system must have the legacy header
// switched on (auth.forbidden otherwise; it is off by default).
func (t *Tokens) Legacy(ctx context.Context, value, remote string) (*Principal, error) {
	if len(value) > 4096 {
		return nil, bus.ErrAuthMalformed.New("%s is too long", HeaderLegacyToken)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
	if err != nil {
		if raw, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(strings.TrimSpace(value), "=")); err != nil {
			return nil, bus.ErrAuthMalformed.New("%s is not Base64", HeaderLegacyToken)
		}
	}
	var c LegacyCredentials
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, bus.ErrAuthMalformed.New("%s does not hold a JSON object with AccessKey and SecretKey", HeaderLegacyToken)
	}
	k, sys, err := t.client(ctx, c.AccessKey, c.SecretKey, remote)
	if err != nil {
		return nil, err
	}
	on, err := t.Store.LegacyToken(ctx, sys.Code)
	if err != nil {
		return nil, storeFault(err, "reading legacy token switch")
	}
	if !on {
		return nil, bus.ErrForbidden.New("system %s may not use the %s header; sign requests (docs/auth.md) or use POST /token", sys.Code, HeaderLegacyToken)
	}
	if err := t.Limits.Allow(k.AccessKey); err != nil {
		return nil, err
	}
	return &Principal{SystemCode: sys.Code, AccessKey: k.AccessKey, Alg: AuthLegacyToken, System: sys, SignedAt: t.now()}, nil
}

// Authenticator finds out which system sent a request. It accepts, in this
// order: an OAuth2 bearer token (Authorization: Bearer …), the legacy
// lgspaccesstoken header, and a request signature (Verifier). With Tokens
// nil only signatures are accepted.
//
// Signed requests carry the signed body hash in Principal.BodySHA256. A
// request authenticated by a token has BodySHA256 set only when it sent a
// well-formed X-LGSP-Content-SHA256 header, which the caller then checks
// while the body streams (VerifyBody), as for signed requests.
type Authenticator struct {
	Verifier *Verifier
	Tokens   *Tokens
	// Observe, when set, is told the system of every request
	// authenticated (the traffic_anomaly alert rule counts them).
	Observe func(system string)
}

// Authenticate returns the principal of r or a catalogue error.
func (a *Authenticator) Authenticate(r *http.Request) (*Principal, error) {
	p, err := a.authenticate(r)
	if err == nil && a.Observe != nil {
		a.Observe(p.SystemCode)
	}
	return p, err
}

func (a *Authenticator) authenticate(r *http.Request) (*Principal, error) {
	if a.Tokens != nil {
		var p *Principal
		var err error
		switch {
		case isBearer(r.Header.Get(HeaderAuthorization)):
			tok := strings.TrimSpace(r.Header.Get(HeaderAuthorization)[len("Bearer "):])
			p, err = a.Tokens.Bearer(r.Context(), tok)
		case r.Header.Get(HeaderLegacyToken) != "":
			p, err = a.Tokens.Legacy(r.Context(), r.Header.Get(HeaderLegacyToken), r.RemoteAddr)
		default:
			return a.Verifier.Verify(r)
		}
		if err != nil {
			return nil, err
		}
		if h := r.Header.Values(HeaderContentSHA256); len(h) > 0 {
			if len(h) > 1 || checkBodyHash(h[0]) != nil {
				return nil, bus.ErrAuthMalformed.New("%s must be one lower-case hex SHA-256", HeaderContentSHA256)
			}
			p.BodySHA256 = h[0]
		}
		return p, nil
	}
	return a.Verifier.Verify(r)
}

func isBearer(h string) bool {
	return len(h) > len("Bearer ") && strings.EqualFold(h[:len("Bearer ")], "Bearer ")
}
