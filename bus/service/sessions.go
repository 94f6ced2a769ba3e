package service

import (
	"context"
	"net/http"
	"time"

	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/route"
)

// provisionSessions builds the service-access part of the authentication
// service (A1–A6, bearer tokens, lgspaccesstoken) on the store, the vault,
// the verifier and the grants. Sessions look services up in the route set
// in force, so a reload that unpublishes a service or a scope ends its
// sessions at their next use.
func (s *Service) provisionSessions() {
	s.tokens = &auth.Tokens{Store: s.store, Vault: s.vault, TTL: s.cfg.Auth.TokenTTL, Limits: s.verifier.Limits, Keys: s.verifier.Keys}
	s.authn = &auth.Authenticator{Verifier: s.verifier, Tokens: s.tokens}
	s.sessions = &auth.Sessions{Store: s.store, Perms: s.grants, Services: s.lookupService, TTL: s.cfg.Auth.SessionTTL}
}

func (s *Service) lookupService(name string) (auth.ServiceInfo, bool) {
	v, ok := s.routes.Load().Service(name)
	if !ok {
		return auth.ServiceInfo{}, false
	}
	return auth.ServiceInfo{Name: v.Name, Owner: v.Owner, Scopes: v.Scopes}, true
}

// purgeSessions deletes sessions and bearer tokens that expired more than
// an hour ago (kept that long so that a late call gets session_expired,
// not session_invalid).
func (s *Service) purgeSessions(ctx context.Context) {
	if n, err := s.store.PurgeSessions(ctx, time.Now().Add(-time.Hour)); err != nil {
		s.log.WithError(err).Error("purging expired sessions and tokens")
	} else if n > 0 {
		s.log.WithField("count", n).Debug("purged expired sessions and tokens")
	}
}

// Sessions returns the session keys of service access (A1–A6).
func (s *Service) Sessions() *auth.Sessions { return s.sessions }

// Routes returns the route set in force: its routes and its services.
func (h *Host) Routes() *route.Set { return h.svc.routes.Load() }

// HandleAdmin mounts a handler of the admin API: it runs only for callers
// that present the admin token.
func (h *Host) HandleAdmin(pattern string, handler http.HandlerFunc) {
	h.mux.HandleFunc(pattern, h.svc.admin(handler))
}
