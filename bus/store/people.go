package store

import (
	"context"
	"time"
)

// Person is an account of a person for the operators' console (issue #12,
// M2): a login, the unit the person belongs to, roles, and the secrets
// that prove it is them. PasswordHash is an argon2id PHC string (never the
// password); TOTPSecret is the TOTP secret sealed by the master key
// (empty: no second factor).
type Person struct {
	ID           int64
	Login        string
	Name         string
	Email        string // lower case; empty when unknown
	PersonalID   string // personal identification number (CCCD); empty when unknown
	Unit         string // the unit, as systems name theirs (System.Unit)
	Roles        []string
	Disabled     bool
	PasswordHash string
	TOTPSecret   []byte
	// TOTPLast is the last TOTP time step accepted, so that a code is not
	// accepted twice.
	TOTPLast  int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ConsoleSession is a logged-in person's session. Only the SHA-256 of the
// cookie's token is stored (TokenHash), so that a copy of the database does
// not let anyone in.
type ConsoleSession struct {
	TokenHash string // lower-case hex SHA-256 of the cookie token
	PersonID  int64
	CreatedAt time.Time // absolute timeout counts from here
	SeenAt    time.Time // idle timeout counts from here
	Remote    string    // client address at login
	Via       string    // how the person logged in: "password", "oidc:<provider>"
}

// LoginLock counts failed logins of one key ("login:<login>" or
// "addr:<ip>") and how long that key is locked.
type LoginLock struct {
	Key         string
	Failures    int
	FirstAt     time.Time // first failure of the current run
	LastAt      time.Time
	LockedUntil time.Time // zero: not locked
}

// PeopleStore keeps people, their console sessions and login lockouts.
type PeopleStore interface {
	// CreatePerson stores a new person and returns its id
	// (bus.ErrPersonExists when the login, or a non-empty e-mail or
	// personal id, is taken).
	CreatePerson(ctx context.Context, p Person) (int64, error)
	// GetPerson returns a person by id (bus.ErrPersonNotFound).
	GetPerson(ctx context.Context, id int64) (Person, error)
	// PersonByLogin returns a person by login (bus.ErrPersonNotFound).
	PersonByLogin(ctx context.Context, login string) (Person, error)
	// PeopleByClaim returns the people whose "email" or "personal_id"
	// equals value (none, one, or — a data error — several).
	PeopleByClaim(ctx context.Context, claim, value string) ([]Person, error)
	// ListPeople returns every person, by login.
	ListPeople(ctx context.Context) ([]Person, error)
	// UpdatePerson changes Name, Email, PersonalID, Unit, Roles and
	// Disabled of the person p.ID (bus.ErrPersonNotFound,
	// bus.ErrPersonExists).
	UpdatePerson(ctx context.Context, p Person) error
	// SetPassword replaces the password hash (bus.ErrPersonNotFound).
	SetPassword(ctx context.Context, id int64, hash string, at time.Time) error
	// SetTOTP replaces the sealed TOTP secret (nil removes it) and resets
	// TOTPLast (bus.ErrPersonNotFound).
	SetTOTP(ctx context.Context, id int64, sealed []byte, at time.Time) error
	// UseTOTPStep records that step was accepted; false when a step at or
	// after it was accepted already (a replayed code).
	UseTOTPStep(ctx context.Context, id int64, step int64) (bool, error)

	// CreateConsoleSession stores a session.
	CreateConsoleSession(ctx context.Context, s ConsoleSession) error
	// ConsoleSessionByHash returns a session (bus.ErrNotLoggedIn).
	ConsoleSessionByHash(ctx context.Context, tokenHash string) (ConsoleSession, error)
	// TouchConsoleSession moves SeenAt of a session to at.
	TouchConsoleSession(ctx context.Context, tokenHash string, at time.Time) error
	// DeleteConsoleSession deletes a session; no error when absent.
	DeleteConsoleSession(ctx context.Context, tokenHash string) error
	// DeletePersonSessions deletes every session of a person.
	DeletePersonSessions(ctx context.Context, personID int64) (int64, error)
	// PurgeConsoleSessions deletes sessions created before createdBefore
	// or seen before seenBefore.
	PurgeConsoleSessions(ctx context.Context, createdBefore, seenBefore time.Time) (int64, error)

	// GetLoginLock returns the lock row of key (a zero LoginLock with Key
	// set when there is none).
	GetLoginLock(ctx context.Context, key string) (LoginLock, error)
	// PutLoginLock inserts or replaces the row of l.Key.
	PutLoginLock(ctx context.Context, l LoginLock) error
	// DeleteLoginLock removes the row of key; no error when absent.
	DeleteLoginLock(ctx context.Context, key string) error
	// PurgeLoginLocks deletes rows whose last failure is before before and
	// whose lock has ended by then, so that guessed logins do not pile up.
	PurgeLoginLocks(ctx context.Context, before time.Time) (int64, error)
}
