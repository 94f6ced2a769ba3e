package service

import (
	"context"
	"net/http"
	"time"

	"github.com/tuyenquang/lgsp/bus/people"
)

// provisionPeople builds the people gate of the console (bus/people,
// docs/console.md): sessions in the store, cookies Secure when the node
// serves TLS or console.secure_cookies says a proxy does.
func (s *Service) provisionPeople() {
	c := s.cfg.Console
	s.people = people.New(people.Options{Store: s.store, Vault: s.vault, Activity: s.activity,
		IdleTimeout: c.IdleTimeout, AbsoluteTimeout: c.AbsoluteTimeout, SecureCookies: c.SecureCookies || s.cfg.TLS.Enabled(),
		LockoutFailures: c.LockoutFailures, AddressFailures: c.AddressFailures, LockoutBase: c.LockoutBase, LockoutMax: c.LockoutMax,
		LockoutWindow: c.LockoutWindow, MaxLoginBytes: s.cfg.Limits.MaxFormBytes, WriteError: WriteProblem, Admit: Admit})
	s.people.Mount(s.mux.Handle)
}

// purgeConsoleSessions deletes console sessions past their timeouts.
func (s *Service) purgeConsoleSessions(ctx context.Context) {
	now := time.Now()
	c := s.cfg.Console
	if n, err := s.store.PurgeConsoleSessions(ctx, now.Add(-c.AbsoluteTimeout), now.Add(-c.IdleTimeout)); err != nil {
		s.log.WithError(err).Error("purging console sessions")
	} else if n > 0 {
		s.log.WithField("count", n).Debug("purged console sessions")
	}
}

// People returns the people gate of the console.
func (s *Service) People() *people.Service { return s.people }

// adminOrPerson runs h for the admin token (as every admin endpoint) or
// for a person whose session, CSRF token and roles allow action
// (people.Guard). A request with an Authorization header is judged by the
// token alone.
func (s *Service) adminOrPerson(action string, h http.HandlerFunc) http.HandlerFunc {
	admin := s.admin(h)
	person := s.people.Guard(action, h)
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			admin(w, r)
			return
		}
		person.ServeHTTP(w, r)
	}
}

// actor names who made an admin request: the person, or "admin-api".
func actor(r *http.Request) string {
	if p, ok := people.FromContext(r.Context()); ok {
		return "person:" + p.Login
	}
	return "admin-api"
}
