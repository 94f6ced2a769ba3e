package service

import (
	"context"
	"net/http"
	"time"

	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/console"
	"github.com/tuyenquang/lgsp/bus/people"
	"github.com/tuyenquang/lgsp/bus/sso"
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
	// The console (bus/console) mounts the login form, logout and its
	// pages; it calls the same registry, grants, delivery ops, report and
	// activity functions as the admin API.
	up, upLogin := s.cfg.SSO.Upstream, ""
	if s.cfg.SSO.Enabled && up.Issuer != "" {
		upLogin = sso.MountPath + "/upstream/login"
		if up.Name == "" {
			up.Name = up.Issuer
		}
	}
	s.console = console.New(console.Options{People: s.people, Store: s.store, Registry: s.registry, Grants: s.grants,
		Routes: s.routes.Load, Reload: s.Reload, Lint: func() error { _, err := LoadRoutes(s.cfg.RoutesDir); return err },
		Node: s.cfg.Node, Log: s.log, UpstreamName: up.Name, UpstreamLogin: upLogin})
	s.console.Mount(s.mux.Handle)
}

// purgeConsoleSessions deletes console sessions past their timeouts, and
// login failure counters older than the lockout window whose lock ended.
func (s *Service) purgeConsoleSessions(ctx context.Context) {
	now := time.Now()
	c := s.cfg.Console
	if n, err := s.store.PurgeConsoleSessions(ctx, now.Add(-c.AbsoluteTimeout), now.Add(-c.IdleTimeout)); err != nil {
		s.log.WithError(err).Error("purging console sessions")
	} else if n > 0 {
		s.log.WithField("count", n).Debug("purged console sessions")
	}
	if _, err := s.store.PurgeLoginLocks(ctx, now.Add(-c.LockoutWindow)); err != nil {
		s.log.WithError(err).Error("purging login locks")
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
	person := s.people.Guard(action, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := people.FromContext(r.Context())
		h(w, r.WithContext(auth.WithActor(r.Context(), "person:"+p.Login)))
	}))
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

// personIn is what the people API takes to create a person; PUT takes
// personUpdate (no login: it is in the path and never changes).
type personIn struct {
	Login      string   `json:"login"`
	Name       string   `json:"name"`
	Email      string   `json:"email"`
	PersonalID string   `json:"personal_id"`
	Unit       string   `json:"unit"`
	Roles      []string `json:"roles"`
	Password   string   `json:"password"`
}

type personUpdate struct {
	Name       string   `json:"name"`
	Email      string   `json:"email"`
	PersonalID string   `json:"personal_id"`
	Unit       string   `json:"unit"`
	Roles      []string `json:"roles"`
	Disabled   bool     `json:"disabled"`
}

// mountPeople mounts /admin/v1/people (docs/console.md): the admin token
// or a person's session whose roles allow it (people.read, people.write:
// the administrator).
func (s *Service) mountPeople() {
	m, lim, ps := s.mux, s.cfg.Limits.MaxJSONBytes, s.people
	read := func(h http.HandlerFunc) http.HandlerFunc { return s.adminOrPerson(people.ActPeopleRead, h) }
	write := func(h http.HandlerFunc) http.HandlerFunc { return s.adminOrPerson(people.ActPeopleWrite, h) }
	one := func(w http.ResponseWriter, p people.Person, status int) {
		WriteJSON(w, status, map[string]any{"person": p})
	}
	m.HandleFunc("GET /admin/v1/people", read(func(w http.ResponseWriter, r *http.Request) {
		list, err := ps.List(r.Context())
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		WriteJSON(w, http.StatusOK, map[string]any{"people": list})
	}))
	m.HandleFunc("POST /admin/v1/people", write(func(w http.ResponseWriter, r *http.Request) {
		var in personIn
		if err := DecodeJSON(r, lim, &in); err != nil {
			WriteProblem(w, r, err)
			return
		}
		p, err := ps.Add(r.Context(), actor(r), people.Person{Login: in.Login, Name: in.Name, Email: in.Email, PersonalID: in.PersonalID, Unit: in.Unit, Roles: in.Roles}, in.Password)
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		one(w, p, http.StatusCreated)
	}))
	m.HandleFunc("GET /admin/v1/people/{login}", read(func(w http.ResponseWriter, r *http.Request) {
		p, err := ps.ByLogin(r.Context(), r.PathValue("login"))
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		one(w, p, http.StatusOK)
	}))
	m.HandleFunc("PUT /admin/v1/people/{login}", write(func(w http.ResponseWriter, r *http.Request) {
		var in personUpdate
		if err := DecodeJSON(r, lim, &in); err != nil {
			WriteProblem(w, r, err)
			return
		}
		old, err := ps.ByLogin(r.Context(), r.PathValue("login"))
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		p, err := ps.Update(r.Context(), actor(r), people.Person{ID: old.ID, Name: in.Name, Email: in.Email, PersonalID: in.PersonalID, Unit: in.Unit, Roles: in.Roles, Disabled: in.Disabled})
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		one(w, p, http.StatusOK)
	}))
	m.HandleFunc("POST /admin/v1/people/{login}/password", write(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Password string `json:"password"`
		}
		if err := DecodeJSON(r, lim, &in); err != nil {
			WriteProblem(w, r, err)
			return
		}
		if err := ps.SetPassword(r.Context(), actor(r), r.PathValue("login"), in.Password); err != nil {
			WriteProblem(w, r, err)
			return
		}
		WriteJSON(w, http.StatusOK, map[string]string{"status": "changed"})
	}))
	m.HandleFunc("POST /admin/v1/people/{login}/totp", write(func(w http.ResponseWriter, r *http.Request) {
		uri, err := ps.EnrollTOTP(r.Context(), actor(r), r.PathValue("login"))
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		WriteJSON(w, http.StatusOK, map[string]string{"otpauth_uri": uri})
	}))
	m.HandleFunc("DELETE /admin/v1/people/{login}/totp", write(func(w http.ResponseWriter, r *http.Request) {
		if err := ps.RemoveTOTP(r.Context(), actor(r), r.PathValue("login")); err != nil {
			WriteProblem(w, r, err)
			return
		}
		WriteJSON(w, http.StatusOK, map[string]string{"status": "removed"})
	}))
	m.HandleFunc("POST /admin/v1/people/{login}/unlock", s.adminOrPerson(people.ActLockoutsWrite, func(w http.ResponseWriter, r *http.Request) {
		if err := ps.UnlockLogin(r.Context(), actor(r), r.PathValue("login")); err != nil {
			WriteProblem(w, r, err)
			return
		}
		WriteJSON(w, http.StatusOK, map[string]string{"status": "unlocked"})
	}))
}

// allowUnit checks a person's right to act on one unit's object (M6): a
// request with the admin token passes; a person passes when Can says so.
func (s *Service) allowUnit(r *http.Request, action, unit string) error {
	if _, ok := people.FromContext(r.Context()); !ok {
		return nil
	}
	return s.people.Allow(r, action, unit)
}

// mayReadAllUnits reports whether the request may list every unit's
// objects (admin token, or a person allowed on "every unit").
func (s *Service) mayReadAllUnits(r *http.Request, action string) (people.Person, bool) {
	p, ok := people.FromContext(r.Context())
	if !ok {
		return p, true
	}
	return p, people.Can(p, action, "")
}

// unitScope returns the unit a request may read for action: the one asked
// for ("" = every unit) when the caller may read every unit, else the
// person's own unit — asked for or not; another unit is people.forbidden.
func (s *Service) unitScope(r *http.Request, action, asked string) (string, error) {
	p, all := s.mayReadAllUnits(r, action)
	if all {
		return asked, nil
	}
	if asked == "" {
		asked = p.Unit
	}
	return asked, s.allowUnit(r, action, asked)
}
