package rest

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/service"
)

// mountAuth mounts the service-access part of the authentication service:
// session keys (A1–A2), their verification by the destination (A4–A5),
// their revocation, and the OAuth2 token endpoint of WSO2-style gateways.
func (a *api) mountAuth() {
	a.h.Handle("POST /v1/auth/sessions", a.signed(a.openSession))
	a.h.Handle("DELETE /v1/auth/sessions/{id}", a.signed(a.revokeSession))
	a.h.Handle("POST /v1/auth/verify", a.signed(a.verifySession))
	a.h.Handle("POST /token", http.HandlerFunc(a.token))
	a.h.HandleAdmin("DELETE /admin/v1/sessions/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := a.h.Sessions.Revoke(r.Context(), r.PathValue("id"), ""); err != nil {
			service.WriteProblem(w, r, err)
			return
		}
		service.WriteJSON(w, http.StatusOK, map[string]string{"session_id": r.PathValue("id"), "status": "revoked"})
	})
}

// OpenSessionRequest is the body of POST /v1/auth/sessions (A1).
type OpenSessionRequest struct {
	Service string `json:"service"`
	Scope   string `json:"scope"`
	// TTLSeconds, when set, asks for a session shorter than the platform's
	// session lifetime (never longer).
	TTLSeconds int `json:"ttl_seconds,omitempty"`
}

// VerifySessionRequest is the body of POST /v1/auth/verify (A4).
type VerifySessionRequest struct {
	SessionKey string `json:"session_key"`
	Source     string `json:"source"`
	Service    string `json:"service"`
}

// SessionVerdict is the answer of A5 for a valid session.
type SessionVerdict struct {
	Valid bool `json:"valid"`
	auth.SessionInfo
}

func (a *api) openSession(w http.ResponseWriter, r *http.Request) {
	var in OpenSessionRequest
	if err := service.DecodeJSON(r, a.lim, &in); err != nil {
		service.WriteProblem(w, r, err)
		return
	}
	if in.TTLSeconds < 0 {
		service.WriteProblem(w, r, bus.ErrBadRequest.New("ttl_seconds must not be negative"))
		return
	}
	o, err := a.h.Sessions.Open(r.Context(), principal(r.Context()), in.Service, in.Scope, time.Duration(in.TTLSeconds)*time.Second)
	if err != nil {
		service.WriteProblem(w, r, err)
		return
	}
	service.Log(r.Context()).WithFields(map[string]any{"session_id": o.ID, "service": o.Service, "scope": o.Scope}).Info("session opened")
	w.Header().Set("Cache-Control", "no-store")
	service.WriteJSON(w, http.StatusCreated, o)
}

func (a *api) revokeSession(w http.ResponseWriter, r *http.Request) {
	if err := a.h.Sessions.Revoke(r.Context(), r.PathValue("id"), principal(r.Context()).SystemCode); err != nil {
		service.WriteProblem(w, r, err)
		return
	}
	service.WriteJSON(w, http.StatusOK, map[string]string{"session_id": r.PathValue("id"), "status": "revoked"})
}

// verifySession is A4–A5: only the owner system of the service may ask, so
// that a session key cannot be tested by anyone who overhears it.
func (a *api) verifySession(w http.ResponseWriter, r *http.Request) {
	var in VerifySessionRequest
	if err := service.DecodeJSON(r, a.lim, &in); err != nil {
		service.WriteProblem(w, r, err)
		return
	}
	if in.SessionKey == "" || in.Source == "" || in.Service == "" {
		service.WriteProblem(w, r, bus.ErrBadRequest.New("session_key, source and service are required"))
		return
	}
	owner, err := a.h.Sessions.Owner(in.Service)
	if err != nil {
		service.WriteProblem(w, r, err)
		return
	}
	if me := principal(r.Context()).SystemCode; me != owner {
		service.WriteProblem(w, r, bus.ErrForbidden.New("only the owner of service %s may verify its sessions; you are %s", in.Service, me))
		return
	}
	info, err := a.h.Sessions.CheckSession(r.Context(), in.SessionKey, in.Source, in.Service)
	if err != nil {
		service.WriteProblem(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	service.WriteJSON(w, http.StatusOK, SessionVerdict{Valid: true, SessionInfo: *info})
}

// TokenResponse is the OAuth2 answer of POST /token (RFC 6749 §5.1).
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

// token is the OAuth2 client-credentials grant (RFC 6749 §4.4) as WSO2-style
// gateways serve it: HTTP Basic access_key:secret_key (or client_id and
// client_secret in the form), grant_type=client_credentials. Errors are in
// the RFC 6749 §5.2 form, with our catalogue code in X-LGSP-Error-Code.
func (a *api) token(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, oauth string, err error) {
		code := bus.CodeOf(err)
		service.Log(r.Context()).WithField("code", code).WithField("detail", bus.AsError(err).Detail).Info("token refused")
		h := w.Header()
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("X-LGSP-Error-Code", string(code))
		if status == http.StatusUnauthorized {
			h.Set("WWW-Authenticate", `Basic realm="lgsp"`)
		}
		if e := bus.AsError(err); e.RetryAfter > 0 {
			h.Set("Retry-After", strconv.Itoa(e.RetryAfter))
		}
		service.WriteJSON(w, status, map[string]string{"error": oauth, "error_description": bus.AsError(err).Def.EN})
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(ct), "application/x-www-form-urlencoded") {
		fail(http.StatusBadRequest, "invalid_request", bus.ErrBadRequest.New("send grant_type=client_credentials as application/x-www-form-urlencoded"))
		return
	}
	if err := a.readForm(w, r); err != nil {
		e := bus.AsError(err)
		oauth := "invalid_request"
		if e.Def.Status >= 500 {
			oauth = "temporarily_unavailable"
		}
		fail(e.Def.Status, oauth, err)
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		fail(http.StatusBadRequest, "unsupported_grant_type", bus.ErrBadRequest.New("grant_type %q: only client_credentials is supported", gt))
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id == "" || secret == "" {
		fail(http.StatusUnauthorized, "invalid_client", bus.ErrAuthMissing.New("send Authorization: Basic base64(access_key:secret_key)"))
		return
	}
	tok, life, err := a.h.Tokens.Issue(r.Context(), id, secret, r.RemoteAddr)
	if err != nil {
		e := bus.AsError(err)
		switch {
		case e.Def.Status >= 500 || e.Def.Status == http.StatusTooManyRequests:
			fail(e.Def.Status, "temporarily_unavailable", err)
		default:
			fail(http.StatusUnauthorized, "invalid_client", err)
		}
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	service.WriteJSON(w, http.StatusOK, TokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int(life / time.Second)})
}

// readForm reads the small form of POST /token within limits.max_form_bytes
// (413 request.too_large past it); the body is read before any credential
// is checked, so it stays small.
func (a *api) readForm(w http.ResponseWriter, r *http.Request) error {
	max := a.h.Config.Limits.MaxFormBytes
	tooLarge := bus.ErrBodyTooLarge.New("the form of POST /token is limited to %d bytes", max)
	if r.ContentLength > max {
		return tooLarge
	}
	r.Body = http.MaxBytesReader(w, r.Body, max)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		var be *bus.Error
		switch {
		case errors.As(err, &mbe):
			return tooLarge
		case errors.As(err, &be):
			return be
		}
		return bus.ErrBadRequest.New("unreadable form")
	}
	return nil
}
