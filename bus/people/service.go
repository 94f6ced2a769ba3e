package people

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/activity"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/bus/vault"
)

// Paths of the login form and of logout.
const (
	// LoginPath serves the login form (GET) and logs in (POST). It takes
	// ?next=<relative path> to return to after logging in; anything else
	// than a path on this host is ignored (no open redirect).
	LoginPath = "/console/login"
	// LogoutPath logs out (POST with the CSRF token).
	LogoutPath = "/console/logout"
	// CookieName is the session cookie.
	CookieName = "lgsp_console"
	// loginCookie carries the login form's anti-forgery token (double
	// submit) before there is a session.
	loginCookie = "lgsp_login"
	// CSRFField and CSRFHeader carry the CSRF token of state changes.
	CSRFField  = "csrf"
	CSRFHeader = "X-CSRF-Token"
)

// Person is a person as the rest of the bus sees it: no secrets.
type Person struct {
	ID         int64    `json:"id"`
	Login      string   `json:"login"`
	Name       string   `json:"name"`
	Email      string   `json:"email,omitempty"`
	PersonalID string   `json:"personal_id,omitempty"`
	Unit       string   `json:"unit,omitempty"` // the unit, as systems name theirs (store.System.Unit)
	Roles      []string `json:"roles"`
	Disabled   bool     `json:"disabled"`
	TOTP       bool     `json:"totp"` // a second factor is enrolled
}

func fromStore(p store.Person) Person {
	roles := p.Roles
	if roles == nil {
		roles = []string{}
	}
	return Person{ID: p.ID, Login: p.Login, Name: p.Name, Email: p.Email, PersonalID: p.PersonalID, Unit: p.Unit,
		Roles: roles, Disabled: p.Disabled, TOTP: len(p.TOTPSecret) > 0}
}

// Options configure a Service. Zero durations and counts take the
// defaults named.
type Options struct {
	Store    store.PeopleStore
	Vault    *vault.Vault  // seals TOTP secrets; nil: TOTP cannot be enrolled
	Activity *activity.Log // nil: nothing is recorded
	// IdleTimeout ends a session not used for this long (default 30 min).
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after login, used or not
	// (default 12 h).
	AbsoluteTimeout time.Duration
	// SecureCookies sets Secure on cookies even when the request did not
	// arrive over TLS (a node behind a TLS-terminating proxy).
	SecureCookies bool
	// LockoutFailures failed logins of one account in a row lock it for
	// LockoutBase, doubling with each further failure up to LockoutMax
	// (defaults 5, 1 min, 30 min). AddressFailures does the same per
	// client address (default 20). Failures older than LockoutWindow are
	// forgotten (default 1 h).
	LockoutFailures int
	AddressFailures int
	LockoutBase     time.Duration
	LockoutMax      time.Duration
	LockoutWindow   time.Duration
	// MaxLoginBytes bounds a login form body (default 8 KiB).
	MaxLoginBytes int64
	// Argon2 are the parameters of new password hashes (DefaultArgon2).
	Argon2 Argon2Params
	// HashSlots bounds concurrent password hashes (default 2): each
	// takes Argon2.Memory, and a flood of logins must not exhaust memory.
	HashSlots int
	// Now is the clock (tests move it); nil: time.Now.
	Now func() time.Time
	// WriteError answers a request with a coded error (bus/service sets
	// its problem+json writer); nil: a minimal JSON writer.
	WriteError func(w http.ResponseWriter, r *http.Request, err error)
	// Admit, when set, is called once a guarded request is authenticated
	// (bus/service: a slot of the main in-flight pool).
	Admit func(ctx context.Context) error
}

// Service is the people gate of one node.
type Service struct {
	o         Options
	clock     atomic.Pointer[func() time.Time]
	slots     chan struct{}
	dummyOnce sync.Once
	dummy     string // hash compared when the login does not exist (same time)
}

// New builds a Service.
func New(o Options) *Service {
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 30 * time.Minute
	}
	if o.AbsoluteTimeout <= 0 {
		o.AbsoluteTimeout = 12 * time.Hour
	}
	if o.LockoutFailures <= 0 {
		o.LockoutFailures = 5
	}
	if o.AddressFailures <= 0 {
		o.AddressFailures = 20
	}
	if o.LockoutBase <= 0 {
		o.LockoutBase = time.Minute
	}
	if o.LockoutMax <= 0 {
		o.LockoutMax = 30 * time.Minute
	}
	if o.LockoutWindow <= 0 {
		o.LockoutWindow = time.Hour
	}
	if o.MaxLoginBytes <= 0 {
		o.MaxLoginBytes = 8 << 10
	}
	if o.Argon2.Memory == 0 {
		o.Argon2 = DefaultArgon2
	}
	if o.HashSlots <= 0 {
		o.HashSlots = 2
	}
	if o.WriteError == nil {
		o.WriteError = writeError
	}
	s := &Service{o: o, slots: make(chan struct{}, o.HashSlots)}
	if o.Now != nil {
		s.SetClock(o.Now)
	}
	return s
}

// SetClock replaces the clock (tests: idle and absolute timeouts, TOTP,
// lockouts); safe while requests run.
func (s *Service) SetClock(now func() time.Time) { s.clock.Store(&now) }

func (s *Service) now() time.Time {
	if f := s.clock.Load(); f != nil && *f != nil {
		return (*f)()
	}
	return time.Now()
}

// writeError is the fallback error writer: the code and both messages.
func writeError(w http.ResponseWriter, _ *http.Request, err error) {
	e := bus.AsError(err)
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-LGSP-Error-Code", string(e.Def.Code))
	w.WriteHeader(e.Def.Status)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": e.Def.Code, "status": e.Def.Status, "title": e.Def.VI, "title_en": e.Def.EN, "detail": e.Detail})
}

// ---- sessions ----

type ctxKey struct{}

// FromContext returns the person Guard put in a request's context.
func FromContext(ctx context.Context) (Person, bool) {
	p, ok := ctx.Value(ctxKey{}).(Person)
	return p, ok
}

// WithPerson returns ctx carrying p (Guard does it; tests and the admin
// API may too).
func WithPerson(ctx context.Context, p Person) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

func hashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// sessionToken returns the session cookie's token, or "".
func sessionToken(r *http.Request) string {
	c, err := r.Cookie(CookieName)
	if err != nil || len(c.Value) != 43 {
		return ""
	}
	return c.Value
}

// Current returns the person of the request's session cookie: the session
// exists, is neither idle nor past its absolute timeout, and its person
// exists and is not disabled. A Guard-ed request's person is taken from
// the context without another lookup.
func (s *Service) Current(r *http.Request) (Person, bool) {
	if p, ok := FromContext(r.Context()); ok {
		return p, true
	}
	p, _, err := s.current(r)
	return p, err == nil
}

// current checks the session; it returns its token hash too.
func (s *Service) current(r *http.Request) (Person, string, error) {
	tok := sessionToken(r)
	if tok == "" {
		return Person{}, "", bus.ErrNotLoggedIn.New("no session cookie")
	}
	h := hashToken(tok)
	ctx := r.Context()
	cs, err := s.o.Store.ConsoleSessionByHash(ctx, h)
	if err != nil {
		return Person{}, "", err
	}
	now := s.now()
	if !now.Before(cs.CreatedAt.Add(s.o.AbsoluteTimeout)) || !now.Before(cs.SeenAt.Add(s.o.IdleTimeout)) {
		_ = s.o.Store.DeleteConsoleSession(ctx, h)
		return Person{}, "", bus.ErrNotLoggedIn.New("session expired")
	}
	sp, err := s.o.Store.GetPerson(ctx, cs.PersonID)
	if errors.Is(err, bus.ErrPersonNotFound) || err == nil && sp.Disabled {
		_, _ = s.o.Store.DeletePersonSessions(ctx, cs.PersonID)
		return Person{}, "", bus.ErrNotLoggedIn.New("account disabled or removed")
	}
	if err != nil {
		return Person{}, "", err
	}
	// SeenAt moves at most once a touch interval, not on every request:
	// the idle timeout is exact to within that interval.
	if now.Sub(cs.SeenAt) >= s.touchEvery() {
		_ = s.o.Store.TouchConsoleSession(ctx, h, now)
	}
	return fromStore(sp), h, nil
}

func (s *Service) touchEvery() time.Duration {
	return min(s.o.IdleTimeout/10, time.Minute)
}

// cookie builds a cookie with the flags every console cookie has:
// HttpOnly (no script reads it), SameSite=Lax and Secure over TLS.
//
// SameSite is Lax, not Strict: a person coming back to LGSP from an
// upstream identity provider (VNeID, the national single sign-on) arrives
// by a top-level cross-site navigation, which Strict would send without the
// cookie, and a relying party sending the person to LGSP's authorization
// endpoint is such a navigation too. Lax still withholds the cookie from
// cross-site POSTs, iframes and fetches, and every state change also needs
// the CSRF token.
func (s *Service) cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.o.SecureCookies || r.TLS != nil}
}

// StartSession logs p in on this response: a new session with a new
// token (any session the request carried is ended first, so that a token
// planted before login is never promoted — session fixation). It is for
// logins that come from elsewhere (an upstream OpenID Connect provider)
// as well as for Login. A disabled or unknown person is refused.
func (s *Service) StartSession(w http.ResponseWriter, r *http.Request, p Person) error {
	return s.startSession(w, r, p, "external")
}

// StartSessionVia is StartSession naming how the person logged in (e.g.
// "oidc:vneid"), kept with the session and written to the activity log.
func (s *Service) StartSessionVia(w http.ResponseWriter, r *http.Request, p Person, via string) error {
	if len(via) > 120 {
		via = via[:120]
	}
	return s.startSession(w, r, p, via)
}

func (s *Service) startSession(w http.ResponseWriter, r *http.Request, p Person, via string) error {
	ctx := r.Context()
	sp, err := s.o.Store.GetPerson(ctx, p.ID)
	if err != nil {
		return err
	}
	if sp.Disabled {
		return bus.ErrLoginFailed.New("account is disabled")
	}
	if old := sessionToken(r); old != "" {
		_ = s.o.Store.DeleteConsoleSession(ctx, hashToken(old))
	}
	tok := randomToken()
	now := s.now()
	if err := s.o.Store.CreateConsoleSession(ctx, store.ConsoleSession{TokenHash: hashToken(tok), PersonID: sp.ID, CreatedAt: now, SeenAt: now,
		Remote: auth.ClientAddr(r.RemoteAddr), Via: via}); err != nil {
		return err
	}
	http.SetCookie(w, s.cookie(r, CookieName, tok, int(s.o.AbsoluteTimeout/time.Second)))
	http.SetCookie(w, s.cookie(r, loginCookie, "", -1))
	s.record(ctx, fromStore(sp), "console.login", via, activity.OK)
	return nil
}

// Logout ends the request's session and clears the cookie.
func (s *Service) Logout(w http.ResponseWriter, r *http.Request) {
	if tok := sessionToken(r); tok != "" {
		p, _, err := s.current(r)
		_ = s.o.Store.DeleteConsoleSession(r.Context(), hashToken(tok))
		if err == nil {
			s.record(r.Context(), p, "console.logout", "", activity.OK)
		}
	}
	http.SetCookie(w, s.cookie(r, CookieName, "", -1))
}

// CSRF returns the anti-forgery token of the request's session, to put in
// forms (hidden field "csrf") or send as X-CSRF-Token. It is an HMAC of the
// session token, which only the cookie holds: a page on another site can
// neither read the cookie nor compute the token. Without a session it is
// "".
func (s *Service) CSRF(r *http.Request) string {
	tok := sessionToken(r)
	if tok == "" {
		return ""
	}
	return csrfOf(tok)
}

func csrfOf(tok string) string {
	m := hmac.New(sha256.New, []byte(tok))
	m.Write([]byte("lgsp-console-csrf-v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// safeMethod reports a method that changes nothing.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// checkCSRF refuses a state change whose token is missing or wrong, or
// whose Origin names another site.
func (s *Service) checkCSRF(r *http.Request) error {
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return bus.ErrCSRF.New("request comes from another origin")
		}
	}
	tok := sessionToken(r)
	got := r.Header.Get(CSRFHeader)
	if got == "" && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		got = r.PostFormValue(CSRFField)
	}
	if tok == "" || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(csrfOf(tok))) != 1 {
		return bus.ErrCSRF.New("send the token of the page in the %s field or the %s header", CSRFField, CSRFHeader)
	}
	return nil
}

// wantsHTML reports a browser asking for a page.
func wantsHTML(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.Contains(r.Header.Get("Accept"), "text/html")
}

// Allow returns nil when the request's person may take action on unit,
// else a coded refusal; handlers call it with the unit of the object they
// touch (Guard only checked the person's own unit).
func (s *Service) Allow(r *http.Request, action, unit string) error {
	p, ok := s.Current(r)
	if !ok {
		return bus.ErrNotLoggedIn.Err()
	}
	if !Can(p, action, unit) {
		s.record(r.Context(), p, "console.denied", action+" "+unit, string(bus.ErrRoleForbidden.Code))
		return bus.ErrRoleForbidden.New("%s", action)
	}
	return nil
}

// Guard wraps h: the request must carry a valid session (else a browser
// asking for a page is sent to the login form with ?next=, and anything
// else gets people.unauthenticated), a state change must carry the CSRF
// token, and the person's roles must allow action on their own unit (or on
// every unit). Each request is written to the activity log with the
// person's login, the action and the outcome. h finds the person with
// FromContext.
func (s *Service) Guard(action string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _, err := s.current(r)
		if err != nil {
			if wantsHTML(r) && errors.Is(err, bus.ErrNotLoggedIn) {
				http.Redirect(w, r, LoginPath+"?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.o.WriteError(w, r, err)
			return
		}
		ctx := r.Context()
		if !safeMethod(r.Method) {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			if err := s.checkCSRF(r); err != nil {
				s.record(ctx, p, "console."+action, r.Method+" "+r.URL.Path, string(bus.ErrCSRF.Code))
				s.o.WriteError(w, r, err)
				return
			}
		}
		if !Can(p, action, p.Unit) {
			s.record(ctx, p, "console."+action, r.Method+" "+r.URL.Path, string(bus.ErrRoleForbidden.Code))
			s.o.WriteError(w, r, bus.ErrRoleForbidden.New("%s", action))
			return
		}
		if s.o.Admit != nil {
			if err := s.o.Admit(ctx); err != nil {
				s.o.WriteError(w, r, err)
				return
			}
		}
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r.WithContext(WithPerson(ctx, p)))
		s.record(ctx, p, "console."+action, r.Method+" "+r.URL.Path, outcome(sw.status))
	})
}

// statusWriter remembers the status of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func outcome(status int) string {
	if status == 0 || status < 400 {
		return activity.OK
	}
	return "http." + strconv.Itoa(status)
}

// record writes an activity entry about p (never a password or token).
func (s *Service) record(ctx context.Context, p Person, kind, subject, out string) {
	s.o.Activity.Record(ctx, activity.Entry{Kind: kind, Actor: "person:" + p.Login, Unit: p.Unit, Subject: subject, Outcome: out})
}

// FindByClaim finds the account an upstream identity provider's verified
// claim names, for account linking: claim is "email" or "personal_id". It
// returns false when no account has it, and people.ambiguous when several
// do (an administrator must resolve it; nobody is logged in as either).
func (s *Service) FindByClaim(claim, value string) (Person, bool, error) {
	value = strings.TrimSpace(value)
	if claim == "email" {
		value = strings.ToLower(value)
	}
	if claim != "email" && claim != "personal_id" {
		return Person{}, false, bus.ErrBadRequest.New("claim must be email or personal_id")
	}
	if value == "" {
		return Person{}, false, nil
	}
	list, err := s.o.Store.PeopleByClaim(context.Background(), claim, value)
	if err != nil {
		return Person{}, false, err
	}
	switch len(list) {
	case 0:
		return Person{}, false, nil
	case 1:
		return fromStore(list[0]), true, nil
	}
	return Person{}, false, bus.ErrPersonAmbiguous.New("%d accounts have this %s", len(list), claim)
}
