package service

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/activity"
	"github.com/tuyenquang/lgsp/bus/people"
	"github.com/tuyenquang/lgsp/bus/sso"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/bus/vault"
)

// NewSSO builds the single sign-on provider of cfg (bus/sso,
// docs/sso.md) for the node and for `lgsp sso`. The client secret of the
// upstream provider comes from the environment variable the
// configuration names.
func NewSSO(cfg *Config, st store.Store, v *vault.Vault, ps *people.Service, act *activity.Log) (*sso.Provider, error) {
	c := cfg.SSO
	base := strings.TrimRight(cfg.PublicURL, "/")
	if base == "" {
		base = "http://127.0.0.1" // `lgsp sso` without public_url: only manages clients and keys
	}
	o := sso.Options{Store: st, Vault: v, People: ps, Activity: act, Issuer: base + sso.MountPath,
		IDTokenLifetime: c.IDTokenLifetime, AccessTokenLifetime: c.AccessTokenLifetime, RefreshTokenLifetime: c.RefreshTokenLifetime,
		CodeLifetime: c.CodeLifetime, KeyRotation: c.KeyRotation, EmailVerified: c.EmailVerified,
		MaxFormBytes: max(cfg.Limits.MaxFormBytes, 16<<10), WriteError: WriteProblem}
	if u := c.Upstream; u.Issuer != "" {
		up := &sso.Upstream{Name: u.Name, Issuer: u.Issuer, ClientID: u.ClientID, Claim: u.Claim, Scopes: u.Scopes}
		if u.ClientSecretEnv != "" {
			if up.ClientSecret = os.Getenv(u.ClientSecretEnv); up.ClientSecret == "" {
				return nil, fmt.Errorf("sso.upstream: environment variable %s is empty", u.ClientSecretEnv)
			}
		}
		for _, r := range u.Rules {
			up.Rules = append(up.Rules, sso.Rule{Pattern: r.Pattern, Unit: r.Unit, Roles: r.Roles})
		}
		o.Upstream = up
	}
	return sso.New(o)
}

// provisionSSO mounts the provider under /oidc when sso.enabled.
func (s *Service) provisionSSO() error {
	if !s.cfg.SSO.Enabled {
		return nil
	}
	p, err := NewSSO(&s.cfg, s.store, s.vault, s.people, s.activity)
	if err != nil {
		return err
	}
	s.sso = p
	p.Mount(s.mux.Handle)
	return nil
}

// purgeSSO deletes expired codes, tokens and retired keys.
func (s *Service) purgeSSO(ctx context.Context) {
	if s.sso == nil {
		return
	}
	if n, err := s.sso.Purge(ctx); err != nil {
		s.log.WithError(err).Error("purging single sign-on records")
	} else if n > 0 {
		s.log.WithField("count", n).Debug("purged single sign-on records")
	}
}

// SSO returns the single sign-on provider (nil when sso.enabled is false).
func (s *Service) SSO() *sso.Provider { return s.sso }

type ssoClientIn struct {
	ID                   string   `json:"id"`
	Name                 string   `json:"name"`
	Unit                 string   `json:"unit"`
	Public               bool     `json:"public"`
	RedirectURIs         []string `json:"redirect_uris"`
	PostLogoutURIs       []string `json:"post_logout_redirect_uris"`
	BackchannelLogoutURI string   `json:"backchannel_logout_uri"`
	Roles                []string `json:"roles"`
	Units                []string `json:"units"`
}

// mountSSO mounts /admin/v1/sso/… (docs/sso.md): the admin token or a
// person whose roles allow clients.write (the administrator).
func (s *Service) mountSSO() {
	m, lim := s.mux, s.cfg.Limits.MaxJSONBytes
	guard := func(h func(w http.ResponseWriter, r *http.Request, p *sso.Provider)) http.HandlerFunc {
		return s.adminOrPerson(people.ActClientsWrite, func(w http.ResponseWriter, r *http.Request) {
			if s.sso == nil {
				WriteProblem(w, r, bus.ErrSSODisabled.New("set sso.enabled"))
				return
			}
			h(w, r, s.sso)
		})
	}
	m.HandleFunc("GET /admin/v1/sso/clients", guard(func(w http.ResponseWriter, r *http.Request, p *sso.Provider) {
		list, err := p.ListClients(r.Context())
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		WriteJSON(w, http.StatusOK, map[string]any{"clients": list})
	}))
	m.HandleFunc("POST /admin/v1/sso/clients", guard(func(w http.ResponseWriter, r *http.Request, p *sso.Provider) {
		var in ssoClientIn
		if err := DecodeJSON(r, lim, &in); err != nil {
			WriteProblem(w, r, err)
			return
		}
		c, secret, err := p.AddClient(r.Context(), actor(r), sso.Client{ID: in.ID, Name: in.Name, Unit: in.Unit, Public: in.Public,
			RedirectURIs: in.RedirectURIs, PostLogoutURIs: in.PostLogoutURIs, BackchannelLogoutURI: in.BackchannelLogoutURI, Roles: in.Roles, Units: in.Units})
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		out := map[string]any{"client": c, "issuer": p.Issuer()}
		if secret != "" {
			out["client_secret"] = secret
		}
		WriteJSON(w, http.StatusCreated, out)
	}))
	m.HandleFunc("DELETE /admin/v1/sso/clients/{id}", guard(func(w http.ResponseWriter, r *http.Request, p *sso.Provider) {
		if err := p.RemoveClient(r.Context(), actor(r), r.PathValue("id")); err != nil {
			WriteProblem(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	m.HandleFunc("POST /admin/v1/sso/keys/rotate", guard(func(w http.ResponseWriter, r *http.Request, p *sso.Provider) {
		id, err := p.RotateKey(r.Context(), actor(r))
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		WriteJSON(w, http.StatusOK, map[string]any{"kid": id})
	}))
	m.HandleFunc("GET /admin/v1/sso/pending", guard(func(w http.ResponseWriter, r *http.Request, p *sso.Provider) {
		list, err := p.Pending(r.Context())
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		WriteJSON(w, http.StatusOK, map[string]any{"pending": list})
	}))
}
