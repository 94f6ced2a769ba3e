package people

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/activity"
	"github.com/tuyenquang/lgsp/bus/store"
)

var loginRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{1,63}$`)
var personalIDRE = regexp.MustCompile(`^[0-9]{9,12}$`)

func normLogin(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// MinPassword is the shortest password accepted.
const MinPassword = 12

// checkPassword refuses short passwords, very long ones and the login.
func checkPassword(login, pw string) error {
	if utf8.RuneCountInString(pw) < MinPassword || len(pw) > maxPasswordBytes {
		return bus.ErrPasswordWeak.New("between %d characters and %d bytes", MinPassword, maxPasswordBytes)
	}
	if strings.Contains(strings.ToLower(pw), login) {
		return bus.ErrPasswordWeak.New("the password must not contain the login")
	}
	return nil
}

// validate normalises and checks the fields of p.
func validate(p *Person) error {
	p.Login = normLogin(p.Login)
	p.Name = strings.TrimSpace(p.Name)
	p.Email = strings.ToLower(strings.TrimSpace(p.Email))
	p.PersonalID = strings.TrimSpace(p.PersonalID)
	p.Unit = strings.TrimSpace(p.Unit)
	if !loginRE.MatchString(p.Login) {
		return bus.ErrPersonInvalid.New("login: 2–64 characters a-z 0-9 . _ @ -, starting with a letter or digit")
	}
	for _, f := range []struct{ name, v string }{{"name", p.Name}, {"email", p.Email}, {"unit", p.Unit}} {
		if len(f.v) > 190 || strings.ContainsAny(f.v, "\x00\r\n") || !utf8.ValidString(f.v) {
			return bus.ErrPersonInvalid.New("%s: at most 190 bytes of one line of text", f.name)
		}
	}
	if p.Email != "" && (!strings.Contains(p.Email, "@") || strings.ContainsAny(p.Email, " ,;<>")) {
		return bus.ErrPersonInvalid.New("email is not an e-mail address")
	}
	if p.PersonalID != "" && !personalIDRE.MatchString(p.PersonalID) {
		return bus.ErrPersonInvalid.New("personal_id: 9 to 12 digits")
	}
	seen := map[string]bool{}
	roles := []string{}
	for _, r := range p.Roles {
		r = strings.TrimSpace(r)
		if !KnownRole(r) {
			return bus.ErrPersonInvalid.New("unknown role %q (roles: %s)", r, strings.Join(Roles, ", "))
		}
		if !seen[r] {
			seen[r] = true
			roles = append(roles, r)
		}
	}
	slices.Sort(roles)
	p.Roles = roles
	if seen[RoleOperator] && p.Unit == "" {
		return bus.ErrPersonInvalid.New("an operator needs a unit")
	}
	return nil
}

func toStore(p Person) store.Person {
	return store.Person{ID: p.ID, Login: p.Login, Name: p.Name, Email: p.Email, PersonalID: p.PersonalID, Unit: p.Unit, Roles: p.Roles, Disabled: p.Disabled}
}

// Add creates a person with a password ("" for accounts that only log in
// through an upstream identity provider). by names who did it in the
// activity log.
func (s *Service) Add(ctx context.Context, by string, p Person, password string) (Person, error) {
	if err := validate(&p); err != nil {
		return Person{}, err
	}
	sp := toStore(p)
	sp.ID = 0
	if password != "" {
		if err := checkPassword(p.Login, password); err != nil {
			return Person{}, err
		}
		h, err := HashPassword(password, s.o.Argon2)
		if err != nil {
			return Person{}, err
		}
		sp.PasswordHash = h
	}
	now := s.now()
	sp.CreatedAt, sp.UpdatedAt = now, now
	id, err := s.o.Store.CreatePerson(ctx, sp)
	if err != nil {
		return Person{}, err
	}
	s.recordAdmin(ctx, by, "people.add", p.Login, p.Unit)
	return s.Get(ctx, id)
}

// Get returns a person by id.
func (s *Service) Get(ctx context.Context, id int64) (Person, error) {
	sp, err := s.o.Store.GetPerson(ctx, id)
	if err != nil {
		return Person{}, err
	}
	return fromStore(sp), nil
}

// ByLogin returns a person by login.
func (s *Service) ByLogin(ctx context.Context, login string) (Person, error) {
	sp, err := s.o.Store.PersonByLogin(ctx, normLogin(login))
	if err != nil {
		return Person{}, err
	}
	return fromStore(sp), nil
}

// List returns every person, by login.
func (s *Service) List(ctx context.Context) ([]Person, error) {
	list, err := s.o.Store.ListPeople(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Person, 0, len(list))
	for _, sp := range list {
		out = append(out, fromStore(sp))
	}
	return out, nil
}

// Update replaces name, e-mail, personal id, unit, roles and the disabled
// flag of the person p.ID (p.Login cannot change). Disabling an account,
// or changing its unit or roles, ends its sessions: the person logs in
// again under the new rights.
func (s *Service) Update(ctx context.Context, by string, p Person) (Person, error) {
	old, err := s.Get(ctx, p.ID)
	if err != nil {
		return Person{}, err
	}
	p.Login = old.Login
	if err := validate(&p); err != nil {
		return Person{}, err
	}
	if activeAdmin(old) && !activeAdmin(p) {
		if err := s.keepOneAdmin(ctx, p.ID); err != nil {
			return Person{}, err
		}
	}
	sp := toStore(p)
	sp.UpdatedAt = s.now()
	if err := s.o.Store.UpdatePerson(ctx, sp); err != nil {
		return Person{}, err
	}
	if p.Disabled || p.Unit != old.Unit || !slices.Equal(p.Roles, old.Roles) {
		if _, err := s.o.Store.DeletePersonSessions(ctx, p.ID); err != nil {
			return Person{}, err
		}
	}
	s.recordAdmin(ctx, by, "people.update", p.Login, p.Unit)
	return s.Get(ctx, p.ID)
}

func activeAdmin(p Person) bool { return !p.Disabled && slices.Contains(p.Roles, RoleAdmin) }

// keepOneAdmin refuses a change that would leave no enabled administrator
// (nobody could then manage people from the console). Two administrators
// demoting each other at the same instant can still race; the CLI remains.
func (s *Service) keepOneAdmin(ctx context.Context, except int64) error {
	list, err := s.List(ctx)
	if err != nil {
		return err
	}
	for _, o := range list {
		if o.ID != except && activeAdmin(o) {
			return nil
		}
	}
	return bus.ErrPersonInvalid.New("this is the last enabled administrator")
}

// SetPassword changes a person's password and ends their sessions.
func (s *Service) SetPassword(ctx context.Context, by, login, password string) error {
	p, err := s.ByLogin(ctx, login)
	if err != nil {
		return err
	}
	if err := checkPassword(p.Login, password); err != nil {
		return err
	}
	h, err := HashPassword(password, s.o.Argon2)
	if err != nil {
		return err
	}
	if err := s.o.Store.SetPassword(ctx, p.ID, h, s.now()); err != nil {
		return err
	}
	if _, err := s.o.Store.DeletePersonSessions(ctx, p.ID); err != nil {
		return err
	}
	s.recordAdmin(ctx, by, "people.password", p.Login, p.Unit)
	return nil
}

// EnrollTOTP gives a person a new TOTP secret (replacing any) and returns
// the otpauth:// URI to load into an authenticator application. From then
// on the person's logins need a code.
func (s *Service) EnrollTOTP(ctx context.Context, by, login string) (string, error) {
	if s.o.Vault == nil {
		return "", bus.ErrInternal.New("no master key to seal the secret")
	}
	p, err := s.ByLogin(ctx, login)
	if err != nil {
		return "", err
	}
	secret, err := NewTOTPSecret()
	if err != nil {
		return "", err
	}
	if err := s.o.Store.SetTOTP(ctx, p.ID, s.o.Vault.Seal(secret, totpAAD(p.ID)), s.now()); err != nil {
		return "", err
	}
	s.recordAdmin(ctx, by, "people.totp", p.Login, p.Unit)
	return TOTPURI("LGSP", p.Login, secret), nil
}

// RemoveTOTP removes a person's second factor.
func (s *Service) RemoveTOTP(ctx context.Context, by, login string) error {
	p, err := s.ByLogin(ctx, login)
	if err != nil {
		return err
	}
	if err := s.o.Store.SetTOTP(ctx, p.ID, nil, s.now()); err != nil {
		return err
	}
	s.recordAdmin(ctx, by, "people.totp_remove", p.Login, p.Unit)
	return nil
}

// UnlockLogin lifts the lockout of a login (and of nothing else).
func (s *Service) UnlockLogin(ctx context.Context, by, login string) error {
	if err := s.o.Store.DeleteLoginLock(ctx, "login:"+normLogin(login)); err != nil {
		return err
	}
	s.recordAdmin(ctx, by, "people.unlock", normLogin(login), "")
	return nil
}

func (s *Service) recordAdmin(ctx context.Context, by, kind, login, unit string) {
	if by == "" {
		by = "admin"
	}
	s.o.Activity.Record(ctx, activity.Entry{Kind: kind, Actor: by, Unit: unit, Subject: "person:" + login, Outcome: activity.OK})
}
