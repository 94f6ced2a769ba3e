package people

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/store"
)

// Login checks login, password and (when the account has one enrolled)
// the TOTP code, and on success starts a session (StartSession). Every
// failure is one coded error that does not say whether the login exists:
// people.login_failed, people.totp_invalid, or people.locked with a
// Retry-After while the account or the client address is locked out. An
// unknown login costs the same argon2id hash as a known one.
func (s *Service) Login(w http.ResponseWriter, r *http.Request, login, password, totp string) (Person, error) {
	ctx := r.Context()
	login = normLogin(login)
	addr := auth.ClientAddr(r.RemoteAddr)
	keys := []string{"login:" + login, "addr:" + addr}
	now := s.now()
	for _, k := range keys {
		l, err := s.o.Store.GetLoginLock(ctx, k)
		if err != nil {
			return Person{}, err
		}
		if now.Before(l.LockedUntil) {
			s.record(ctx, Person{Login: loggable(login)}, "console.login", "locked "+strings.SplitN(k, ":", 2)[0], string(bus.ErrLoginLocked.Code))
			e := bus.ErrLoginLocked.New("try again in %d s", retryAfter(l.LockedUntil.Sub(now)))
			e.RetryAfter = retryAfter(l.LockedUntil.Sub(now))
			return Person{}, e
		}
	}
	if len(password) > maxPasswordBytes || len(login) > 64 || len(totp) > 16 {
		return Person{}, s.fail(ctx, keys, "", bus.ErrLoginFailed.Err())
	}
	sp, err := s.o.Store.PersonByLogin(ctx, login)
	if err != nil && !errors.Is(err, bus.ErrPersonNotFound) {
		return Person{}, err
	}
	hash := sp.PasswordHash
	if err != nil || hash == "" {
		s.dummyOnce.Do(func() { s.dummy, _ = HashPassword("lgsp-no-such-account", s.o.Argon2) })
		hash = s.dummy
	}
	ok, err := s.verify(ctx, hash, password)
	if err != nil {
		return Person{}, err
	}
	if !ok || sp.ID == 0 || sp.PasswordHash == "" || sp.Disabled {
		return Person{}, s.fail(ctx, keys, sp.Login, bus.ErrLoginFailed.Err())
	}
	if len(sp.TOTPSecret) > 0 {
		if totp == "" {
			// The password was right: the form asks for the code. Not a
			// failure, so that asking does not lock anyone out.
			return Person{}, bus.ErrTOTPInvalid.New("enter the code of your authenticator application")
		}
		if err := s.checkTOTP(ctx, sp, totp, now); err != nil {
			return Person{}, s.fail(ctx, keys, login, err)
		}
	}
	_ = s.o.Store.DeleteLoginLock(ctx, keys[0])
	p := fromStore(sp)
	return p, s.startSession(w, r, p, "password")
}

// loggable returns a login for the activity log, or "(invalid)" when it
// is not a well-formed login: people type passwords into the login field,
// and those must not end up in a log.
func loggable(login string) string {
	if loginRE.MatchString(login) {
		return login
	}
	return "(invalid)"
}

func retryAfter(d time.Duration) int { return int(math.Ceil(d.Seconds())) }

// verify runs one argon2id comparison in a hash slot; a full set of slots
// for 5 s refuses with system.busy rather than queueing memory.
func (s *Service) verify(ctx context.Context, hash, password string) (bool, error) {
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
	case <-t.C:
		e := bus.ErrBusy.New("too many logins at once")
		e.RetryAfter = 1
		return false, e
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-s.slots }()
	return VerifyPassword(hash, password), nil
}

func (s *Service) checkTOTP(ctx context.Context, sp store.Person, code string, now time.Time) error {
	if s.o.Vault == nil {
		return bus.ErrTOTPInvalid.New("this node cannot open second-factor secrets")
	}
	secret, err := s.o.Vault.Open(sp.TOTPSecret, totpAAD(sp.ID))
	if err != nil {
		return bus.ErrInternal.Wrap(err, "opening the second-factor secret")
	}
	step := checkTOTP(secret, strings.TrimSpace(code), now)
	if step < 0 {
		return bus.ErrTOTPInvalid.Err()
	}
	fresh, err := s.o.Store.UseTOTPStep(ctx, sp.ID, step)
	if err != nil {
		return err
	}
	if !fresh {
		return bus.ErrTOTPInvalid.New("this code was already used")
	}
	return nil
}

func totpAAD(id int64) []byte { return []byte("lgsp-totp:" + itoa(id)) }

// fail counts a failed login against every key, locking those that
// reached their limit with exponential backoff, records it and returns
// err (which never says which check failed beyond password or code).
// login is the account's login, "" when no account has the login tried:
// what was typed is not logged (people type passwords into the login
// field).
func (s *Service) fail(ctx context.Context, keys []string, login string, err error) error {
	now := s.now()
	for _, k := range keys {
		l, gerr := s.o.Store.GetLoginLock(ctx, k)
		if gerr != nil {
			return gerr
		}
		if l.LastAt.IsZero() || now.Sub(l.LastAt) > s.o.LockoutWindow {
			l = store.LoginLock{Key: k, FirstAt: now}
		}
		l.Failures++
		l.LastAt = now
		limit := s.o.LockoutFailures
		if strings.HasPrefix(k, "addr:") {
			limit = s.o.AddressFailures
		}
		if over := l.Failures - limit; over >= 0 {
			d := s.o.LockoutBase << min(over, 20)
			if d > s.o.LockoutMax || d <= 0 {
				d = s.o.LockoutMax
			}
			l.LockedUntil = now.Add(d)
		}
		if perr := s.o.Store.PutLoginLock(ctx, l); perr != nil {
			return perr
		}
	}
	if login == "" {
		login = "(unknown)"
	}
	s.record(ctx, Person{Login: login}, "console.login", "failed", string(bus.CodeOf(err)))
	return err
}

// LoginHandler serves the login form (GET) and logs in (POST, form fields
// login, password, totp, csrf, next). Success sends the browser to next
// (a path on this host only) or /console/. page renders the form with the
// hidden csrf and next fields; after a failed login err is set and page
// answers with its status (bus.AsError(err).Def.Status). nil: a minimal
// built-in form.
func (s *Service) LoginHandler(page LoginPage) http.Handler {
	if page == nil {
		page = minimalLoginPage
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			tok := randomToken()
			http.SetCookie(w, s.cookie(r, loginCookie, tok, 3600))
			page(w, r, tok, SafeNext(r.URL.Query().Get("next")), nil)
		case http.MethodPost:
			// A declared length past the limit is refused before a byte is
			// read; a body that lies about its length is cut at the limit, and
			// one that trickles is cut by the node's body deadline.
			tooLarge := bus.ErrBodyTooLarge.New("a login form is at most %d bytes", s.o.MaxLoginBytes)
			if r.ContentLength > s.o.MaxLoginBytes {
				s.o.WriteError(w, r, tooLarge)
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, s.o.MaxLoginBytes)
			if err := r.ParseForm(); err != nil {
				var mbe *http.MaxBytesError
				var be *bus.Error
				switch {
				case errors.As(err, &mbe):
					s.o.WriteError(w, r, tooLarge)
				case errors.As(err, &be):
					s.o.WriteError(w, r, be)
				default:
					s.o.WriteError(w, r, bus.ErrBadRequest.New("unreadable login form"))
				}
				return
			}
			next := SafeNext(r.PostForm.Get("next"))
			c, cerr := r.Cookie(loginCookie)
			got := r.PostForm.Get(CSRFField)
			if cerr != nil || len(c.Value) != 43 || got != c.Value {
				s.o.WriteError(w, r, bus.ErrCSRF.New("reload the login page and try again"))
				return
			}
			_, err := s.Login(w, r, r.PostForm.Get("login"), r.PostForm.Get("password"), r.PostForm.Get("totp"))
			if err != nil {
				if strings.Contains(r.Header.Get("Accept"), "text/html") {
					tok := randomToken()
					http.SetCookie(w, s.cookie(r, loginCookie, tok, 3600))
					page(w, r, tok, next, err) // answers with err's status
					return
				}
				s.o.WriteError(w, r, err)
				return
			}
			http.Redirect(w, r, next, http.StatusSeeOther)
		default:
			w.Header().Set("Allow", "GET, POST")
			s.o.WriteError(w, r, bus.ErrBadRequest.New("method %s not allowed", r.Method))
		}
	})
}

// LogoutHandler ends the session (POST with the CSRF token) and sends the
// browser to the login form.
func (s *Service) LogoutHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			s.o.WriteError(w, r, bus.ErrBadRequest.New("log out with POST"))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.o.MaxLoginBytes)
		if err := s.checkCSRF(r); err != nil {
			s.o.WriteError(w, r, err)
			return
		}
		s.Logout(w, r)
		http.Redirect(w, r, LoginPath, http.StatusSeeOther)
	})
}

// SafeNext returns next when it is a path on this host ("/console/…"),
// else "/console/": "//evil", "https://evil", "/\evil" and anything with a
// scheme or host are refused (no open redirect).
func SafeNext(next string) string {
	const home = "/console/"
	if next == "" || len(next) > 2048 || next[0] != '/' || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return home
	}
	u, err := parseRef(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return home
	}
	return next
}
