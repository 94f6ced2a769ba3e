package auth

import (
	"context"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
)

// GrantStore is what Grants needs from the store; store.Store satisfies it.
type GrantStore interface {
	CreateGrant(ctx context.Context, g store.Grant) (store.Grant, error)
	ListGrants(ctx context.Context, f store.GrantFilter) ([]store.Grant, error)
	RevokeGrant(ctx context.Context, id string, at time.Time, by string) error
}

// Grants is the permission model of M1, M2 and Art. 8, deny by default:
// a source may send a data type to a destination, or call a service with a
// scope, only while an active grant says so.
//
// Checks read a snapshot of the active grants that is at most CacheTTL old
// (default auth.CacheTTL, 0.5 s): reading every grant from the store on
// each service call took a quarter of a node's CPU under load. A grant
// added or revoked on this node takes effect at once; on other nodes and
// from the CLI within CacheTTL, so within ChangeBound. A negative CacheTTL
// reads the store on every check.
type Grants struct {
	Store    GrantStore
	Now      func() time.Time
	CacheTTL time.Duration

	mu    sync.Mutex
	cache map[string]grantSnapshot // by kind
}

type grantSnapshot struct {
	at     time.Time
	grants []store.Grant
}

// DefaultGrantCacheTTL bounds how stale a node's view of the grants may be.
const DefaultGrantCacheTTL = CacheTTL

// active returns the grants of kind, from the snapshot when it is fresh.
func (g *Grants) active(ctx context.Context, kind string) ([]store.Grant, error) {
	ttl := g.CacheTTL
	if ttl == 0 {
		ttl = DefaultGrantCacheTTL
	}
	now := time.Now()
	if ttl > 0 {
		g.mu.Lock()
		snap, ok := g.cache[kind]
		g.mu.Unlock()
		if ok && now.Sub(snap.at) < ttl {
			return snap.grants, nil
		}
	}
	gs, err := g.Store.ListGrants(ctx, store.GrantFilter{Kind: kind})
	if err != nil {
		return nil, err
	}
	if ttl > 0 {
		g.mu.Lock()
		if g.cache == nil {
			g.cache = map[string]grantSnapshot{}
		}
		g.cache[kind] = grantSnapshot{at: now, grants: gs}
		g.mu.Unlock()
	}
	return gs, nil
}

// invalidate drops the snapshots after a local change.
func (g *Grants) invalidate() {
	g.mu.Lock()
	g.cache = nil
	g.mu.Unlock()
}

var _ Permissions = (*Grants)(nil)

func (g *Grants) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

// Add validates and stores a grant (bus.ErrGrantInvalid) with the actor of
// ctx, and returns the grant in force: the same active grant, if one
// exists, is returned instead of a duplicate.
//
// Kind exchange needs Source, Destination and DataType; kind service needs
// Source, Service and Scope. Source and Destination are identifier codes
// or patterns with '*' and '?' (path.Match over A-Z a-z 0-9 . _ -, as in
// route files); DataType, Service and Scope are exact names or "*".
func (g *Grants) Add(ctx context.Context, gr store.Grant) (store.Grant, error) {
	gr.Kind = strings.TrimSpace(gr.Kind)
	gr.Source = strings.TrimSpace(gr.Source)
	gr.Destination = strings.TrimSpace(gr.Destination)
	gr.DataType = strings.TrimSpace(gr.DataType)
	gr.Service = strings.TrimSpace(gr.Service)
	gr.Scope = strings.TrimSpace(gr.Scope)
	if err := checkPattern("source", gr.Source); err != nil {
		return store.Grant{}, err
	}
	switch gr.Kind {
	case store.GrantExchange:
		if gr.Service != "" || gr.Scope != "" {
			return store.Grant{}, bus.ErrGrantInvalid.New("an exchange grant has a destination and a data type, not a service or scope")
		}
		if err := checkPattern("destination", gr.Destination); err != nil {
			return store.Grant{}, err
		}
		if err := checkName("data type", gr.DataType); err != nil {
			return store.Grant{}, err
		}
	case store.GrantService:
		if gr.Destination != "" || gr.DataType != "" {
			return store.Grant{}, bus.ErrGrantInvalid.New("a service grant has a service and a scope, not a destination or data type")
		}
		if err := checkName("service", gr.Service); err != nil {
			return store.Grant{}, err
		}
		if err := checkName("scope", gr.Scope); err != nil {
			return store.Grant{}, err
		}
	default:
		return store.Grant{}, bus.ErrGrantInvalid.New("kind %q: expected %s or %s", clip(gr.Kind), store.GrantExchange, store.GrantService)
	}
	gr.ID = bus.NewID("gr")
	gr.CreatedAt = g.now().UTC()
	gr.CreatedBy = ActorOf(ctx)
	gr.RevokedAt, gr.RevokedBy = time.Time{}, ""
	defer g.invalidate()
	return g.Store.CreateGrant(ctx, gr)
}

// List returns the grants f selects, oldest first.
func (g *Grants) List(ctx context.Context, f store.GrantFilter) ([]store.Grant, error) {
	return g.Store.ListGrants(ctx, f)
}

// Revoke ends a grant at once (bus.ErrGrantNotFound), recording the actor
// of ctx.
func (g *Grants) Revoke(ctx context.Context, id string) error {
	defer g.invalidate()
	return g.Store.RevokeGrant(ctx, strings.TrimSpace(id), g.now().UTC(), ActorOf(ctx))
}

// AllowExchange implements Permissions.
func (g *Grants) AllowExchange(ctx context.Context, source, destination, dataType string) error {
	return g.AllowExchangeAll(ctx, source, []string{destination}, dataType)
}

// AllowExchangeAll checks every destination with one read of the grants:
// the first destination no active grant covers is refused with
// auth.forbidden naming the source, that destination and the data type.
func (g *Grants) AllowExchangeAll(ctx context.Context, source string, destinations []string, dataType string) error {
	gs, err := g.active(ctx, store.GrantExchange)
	if err != nil {
		return storeFault(err, "reading grants")
	}
	for _, d := range destinations {
		if !exchangeGranted(gs, source, d, dataType) {
			return bus.ErrForbidden.New("no grant lets %s send data type %q to %s (ask the Department: lgsp grants add --kind exchange --source %s --to %s --data-type %s)", source, dataType, d, source, d, dataType)
		}
	}
	return nil
}

func exchangeGranted(gs []store.Grant, source, destination, dataType string) bool {
	for _, gr := range gs {
		if gr.Active() && gr.Kind == store.GrantExchange && match(gr.Source, source) && match(gr.Destination, destination) && (gr.DataType == "*" || gr.DataType == dataType) {
			return true
		}
	}
	return false
}

// AllowService implements Permissions.
func (g *Grants) AllowService(ctx context.Context, source, service, scope string) error {
	gs, err := g.active(ctx, store.GrantService)
	if err != nil {
		return storeFault(err, "reading grants")
	}
	for _, gr := range gs {
		if gr.Active() && gr.Kind == store.GrantService && match(gr.Source, source) && (gr.Service == "*" || gr.Service == service) && (gr.Scope == "*" || gr.Scope == scope) {
			return nil
		}
	}
	return bus.ErrForbidden.New("no grant lets %s call service %q with scope %q", source, service, scope)
}

func match(pattern, s string) bool {
	ok, _ := path.Match(pattern, s)
	return ok
}

// maxGrantPattern bounds patterns and names, in characters.
const maxGrantPattern = 100

// checkPattern applies the rules of route patterns: '*' and '?' over the
// characters of identifier codes.
func checkPattern(field, p string) error {
	if p == "" {
		return bus.ErrGrantInvalid.New("%s is required", field)
	}
	if len(p) > maxGrantPattern {
		return bus.ErrGrantInvalid.New("%s is longer than %d characters", field, maxGrantPattern)
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c == '*' || c == '?' || codeChar(c)) {
			return bus.ErrGrantInvalid.New("%s %q: character %q is not allowed (use letters, digits, '.', '-', '_' and the wildcards * and ?)", field, clip(p), rune(c))
		}
	}
	return nil
}

// checkName allows an exact name of A-Z a-z 0-9 . _ - (data types,
// services, scopes), or "*" for any.
func checkName(field, n string) error {
	if n == "" {
		return bus.ErrGrantInvalid.New("%s is required (or * for any)", field)
	}
	if n == "*" {
		return nil
	}
	if len(n) > 64 {
		return bus.ErrGrantInvalid.New("%s is longer than 64 characters", field)
	}
	for i := 0; i < len(n); i++ {
		if !codeChar(n[i]) {
			return bus.ErrGrantInvalid.New("%s %q: use letters, digits, '.', '-', '_', or * alone", field, clip(n))
		}
	}
	return nil
}

func codeChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_'
}
