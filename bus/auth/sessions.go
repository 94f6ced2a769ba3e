package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
)

// Session key lifetimes.
const (
	// DefaultSessionTTL is the lifetime of a session key when Sessions.TTL
	// is zero: short, because the key travels in every call (A3).
	DefaultSessionTTL = 15 * time.Minute
	// MinSessionTTL is the shortest lifetime a source may ask for.
	MinSessionTTL = time.Second
)

// HeaderSession carries the session key of a call through the bus (A3).
const HeaderSession = "X-LGSP-Session"

// SessionStore is what Sessions needs from the store; store.Store
// satisfies it.
type SessionStore interface {
	KeyStore
	CreateSession(ctx context.Context, s store.Session) error
	SessionByHash(ctx context.Context, keyHash string) (store.Session, error) // bus.ErrSessionInvalid
	GetSession(ctx context.Context, id string) (store.Session, error)         // bus.ErrSessionInvalid
	RevokeSession(ctx context.Context, id string, at time.Time) error         // bus.ErrSessionInvalid
}

// ServiceInfo is what the authentication service needs to know of a
// published service (routes/*.yaml, services:).
type ServiceInfo struct {
	Name   string
	Owner  string   // identifier code of the destination system
	Scopes []string // scopes a session may be opened for
}

// ServiceLookup finds a published service by name in the services in
// force (it follows route reloads).
type ServiceLookup func(name string) (ServiceInfo, bool)

// Sessions is the session-key part of the authentication service (A1–A6).
// Its fields are set once before use; it is then safe for concurrent use.
type Sessions struct {
	Store    SessionStore
	Perms    Permissions // deny by default: nil refuses every session
	Services ServiceLookup
	TTL      time.Duration // lifetime of a key (DefaultSessionTTL when zero)
	Now      func() time.Time
}

var _ SessionChecker = (*Sessions)(nil)

// OpenedSession is the answer of A2: the session key, shown once, and the
// access information the source needs for A3.
type OpenedSession struct {
	SessionInfo
	Key      string `json:"session_key"`
	Endpoint string `json:"endpoint"` // path to call through the bus: /svc/<name>/
}

func (s *Sessions) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Sessions) ttl() time.Duration {
	if s.TTL > 0 {
		return s.TTL
	}
	return DefaultSessionTTL
}

// HashSessionKey returns the form in which a session key is stored: the
// lower-case hex SHA-256 of its UTF-8 bytes.
func HashSessionKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Open is A2: it checks that the verified source p may call service with
// scope — the service is published and allows the scope, and the grants
// (Permissions) allow it — and returns a new session key bound to the
// source, its access key, the service and the scope. ttl, when positive and
// shorter than the configured lifetime, shortens the session; it must be at
// least MinSessionTTL. The key has 256 random bits and is stored only as
// its SHA-256.
//
// Errors: service.not_found, service.scope, auth.forbidden (no grant),
// auth.system_suspended, request.invalid.
func (s *Sessions) Open(ctx context.Context, p *Principal, service, scope string, ttl time.Duration) (*OpenedSession, error) {
	if p == nil {
		return nil, bus.ErrAuthMissing.New("the request is not authenticated")
	}
	if p.System.Status != "" && p.System.Status != store.SystemActive {
		return nil, bus.ErrAuthSuspended.New("system %s is %s", p.SystemCode, p.System.Status)
	}
	service, scope = strings.TrimSpace(service), strings.TrimSpace(scope)
	if service == "" || scope == "" {
		return nil, bus.ErrBadRequest.New("service and scope are required")
	}
	if ttl < 0 || ttl > 0 && ttl < MinSessionTTL {
		return nil, bus.ErrBadRequest.New("ttl must be at least %s", MinSessionTTL)
	}
	life := s.ttl()
	if ttl > 0 && ttl < life {
		life = ttl
	}
	info, err := s.service(service, scope)
	if err != nil {
		return nil, err
	}
	if err := s.allow(ctx, p.SystemCode, info.Name, scope); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	key := "lgss_" + bus.RandomToken(32)
	ss := store.Session{
		ID:        bus.NewID("ss"),
		KeyHash:   HashSessionKey(key),
		Source:    p.SystemCode,
		AccessKey: p.AccessKey,
		Service:   info.Name,
		Scope:     scope,
		CreatedAt: now,
		ExpiresAt: now.Add(life),
	}
	if err := s.Store.CreateSession(ctx, ss); err != nil {
		return nil, storeFault(err, "storing session")
	}
	return &OpenedSession{
		SessionInfo: SessionInfo{ID: ss.ID, Source: ss.Source, Service: ss.Service, Scope: ss.Scope, AccessKey: ss.AccessKey, ExpiresAt: ss.ExpiresAt.Truncate(time.Microsecond)},
		Key:         key,
		Endpoint:    "/svc/" + info.Name + "/",
	}, nil
}

// service finds a published service and checks that it allows scope.
func (s *Sessions) service(name, scope string) (ServiceInfo, error) {
	if s.Services == nil {
		return ServiceInfo{}, bus.ErrServiceUnknown.New("no services are published")
	}
	info, ok := s.Services(name)
	if !ok {
		return ServiceInfo{}, bus.ErrServiceUnknown.New("service %q", name)
	}
	if !slices.Contains(info.Scopes, scope) {
		return ServiceInfo{}, bus.ErrServiceScope.New("service %s allows the scopes %s, not %q", info.Name, strings.Join(info.Scopes, ", "), scope)
	}
	return info, nil
}

func (s *Sessions) allow(ctx context.Context, source, service, scope string) error {
	if s.Perms == nil {
		return bus.ErrForbidden.New("%s may not call service %s with scope %s: no grants are configured", source, service, scope)
	}
	if err := s.Perms.AllowService(ctx, source, service, scope); err != nil {
		var e *bus.Error
		if errors.As(err, &e) {
			return e
		}
		return bus.ErrUnavailable.Wrap(err, "checking grants")
	}
	return nil
}

// CheckSession verifies a session key presented by source for service:
// at A3 for every call through the bus, and at A4–A5 for a destination
// that asks. Everything is checked again on every call, so that revoking
// the session, revoking the access key that opened it, suspending the
// source, withdrawing its grant or unpublishing the service or the scope
// takes effect at once.
//
// Errors: auth.session_invalid (unknown, revoked, or bound to another
// source or service), auth.session_expired, auth.key_revoked,
// auth.key_expired, auth.system_suspended, auth.forbidden, service.scope.
func (s *Sessions) CheckSession(ctx context.Context, sessionKey, source, service string) (*SessionInfo, error) {
	return s.check(ctx, sessionKey, source, service, nil)
}

// CheckSessionFor is CheckSession for a call the bus authenticated a moment
// ago as p (A3): when p holds the access key that opened the session, the
// status of that key and of the source were checked by this very request,
// and are not read again.
func (s *Sessions) CheckSessionFor(ctx context.Context, sessionKey string, p *Principal, service string) (*SessionInfo, error) {
	return s.check(ctx, sessionKey, p.SystemCode, service, p)
}

func (s *Sessions) check(ctx context.Context, sessionKey, source, service string, p *Principal) (*SessionInfo, error) {
	if sessionKey == "" {
		return nil, bus.ErrSessionInvalid.New("send the session key in %s", HeaderSession)
	}
	if len(sessionKey) > 256 {
		return nil, bus.ErrSessionInvalid.New("session key is too long")
	}
	ss, err := s.Store.SessionByHash(ctx, HashSessionKey(sessionKey))
	if err != nil {
		return nil, storeFault(err, "reading session")
	}
	if ss.Source != source || ss.Service != service {
		return nil, bus.ErrSessionInvalid.New("session %s was not issued to %s for service %s", ss.ID, source, service)
	}
	if !ss.RevokedAt.IsZero() {
		return nil, bus.ErrSessionInvalid.New("session %s was revoked at %s", ss.ID, ss.RevokedAt.Format(time.RFC3339))
	}
	now := s.now()
	if !now.Before(ss.ExpiresAt) {
		return nil, bus.ErrSessionExpired.New("session %s expired at %s", ss.ID, ss.ExpiresAt.Format(time.RFC3339))
	}
	if p == nil || p.AccessKey != ss.AccessKey || p.System.Code != ss.Source || p.System.Status != store.SystemActive {
		if err := s.checkHolder(ctx, ss, now); err != nil {
			return nil, err
		}
	}
	if _, err := s.service(ss.Service, ss.Scope); err != nil {
		return nil, err
	}
	if err := s.allow(ctx, ss.Source, ss.Service, ss.Scope); err != nil {
		return nil, err
	}
	return &SessionInfo{ID: ss.ID, Source: ss.Source, Service: ss.Service, Scope: ss.Scope, AccessKey: ss.AccessKey, ExpiresAt: ss.ExpiresAt}, nil
}

// checkHolder refuses a session whose access key was revoked or expired,
// whose source is gone or suspended, or whose key's algorithm the source
// may no longer use (as KeyStanding).
func (s *Sessions) checkHolder(ctx context.Context, ss store.Session, now time.Time) error {
	k, err := s.Store.GetKey(ctx, ss.AccessKey)
	if errors.Is(err, bus.ErrKeyNotFound.Err()) {
		return bus.ErrSessionInvalid.New("the access key that opened session %s no longer exists", ss.ID)
	}
	if err != nil {
		return storeFault(err, "reading access key of session")
	}
	if k.Status == store.KeyRevoked || !k.RevokedAt.IsZero() {
		return bus.ErrAuthKeyRevoked.New("session %s was opened with access key %s, which was revoked", ss.ID, k.AccessKey)
	}
	if !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt) {
		return bus.ErrAuthKeyExpired.New("session %s was opened with access key %s, which expired", ss.ID, k.AccessKey)
	}
	sys, err := s.Store.GetSystem(ctx, ss.Source)
	if errors.Is(err, bus.ErrSystemNotFound.Err()) {
		return bus.ErrSessionInvalid.New("the source of session %s is no longer registered", ss.ID)
	}
	if err != nil {
		return storeFault(err, "reading source of session")
	}
	if sys.Status != store.SystemActive {
		return bus.ErrAuthSuspended.New("system %s is %s", sys.Code, sys.Status)
	}
	if alg := keyAlgOf(k); !AlgAllowed(sys, alg) {
		return bus.ErrAuthAlgorithm.New("session %s was opened with access key %s of %s, which system %s may not use any more", ss.ID, k.AccessKey, alg, sys.Code)
	}
	return nil
}

// Owner returns the identifier code of the system that owns service (the
// destination, which alone may verify its sessions at A4).
func (s *Sessions) Owner(service string) (string, error) {
	if s.Services == nil {
		return "", bus.ErrServiceUnknown.New("no services are published")
	}
	info, ok := s.Services(service)
	if !ok {
		return "", bus.ErrServiceUnknown.New("service %q", service)
	}
	return info.Owner, nil
}

// Revoke ends a session at once. by is the identifier code of the system
// asking, which must be the session's source; an empty by is an operator
// (admin API). A session of another source is reported as unknown, so
// that nobody learns other systems' session ids.
func (s *Sessions) Revoke(ctx context.Context, id, by string) error {
	ss, err := s.Store.GetSession(ctx, strings.TrimSpace(id))
	if err != nil {
		return storeFault(err, "reading session")
	}
	if by != "" && ss.Source != by {
		return bus.ErrSessionInvalid.New("no session %s", id)
	}
	if err := s.Store.RevokeSession(ctx, ss.ID, s.now().UTC()); err != nil {
		return storeFault(err, "revoking session")
	}
	return nil
}
