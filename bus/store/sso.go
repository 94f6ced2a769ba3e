package store

import (
	"context"
	"time"
)

// SSORecord is one object of the single sign-on provider (issue #12, C6,
// M7; bus/sso): a registered application ("client"), a pending
// authorization request ("authreq"), an authorization code ("code"), an
// access token ("access"), a refresh token ("refresh"), a signing key
// ("key", its private part sealed by the master key), the provider's
// sealed secret ("secret"), an upstream login in flight ("upstream") or a
// person waiting for an administrator ("pending"). Data is the object as
// bus/sso encodes it; codes and refresh tokens are keyed by their SHA-256,
// never by their value.
type SSORecord struct {
	Kind      string
	ID        string
	Subject   string // the person's id as text, or "" when none
	Client    string // the application's client id, or ""
	Data      []byte
	CreatedAt time.Time
	ExpiresAt time.Time // zero: until deleted
}

// SSOStore keeps the single sign-on provider's records.
type SSOStore interface {
	// PutSSO stores r, replacing any record of the same kind and id.
	PutSSO(ctx context.Context, r SSORecord) error
	// GetSSO returns a record that has not expired at now
	// (bus.ErrSSONotFound otherwise).
	GetSSO(ctx context.Context, kind, id string, now time.Time) (SSORecord, error)
	// TakeSSO returns a record that has not expired at now and deletes it
	// in the same transaction, so that two callers never both get it (a
	// single-use authorization code); bus.ErrSSONotFound otherwise.
	TakeSSO(ctx context.Context, kind, id string, now time.Time) (SSORecord, error)
	// DeleteSSO deletes a record; false when there was none.
	DeleteSSO(ctx context.Context, kind, id string) (bool, error)
	// ListSSO lists the unexpired records of a kind, oldest first; a
	// non-empty subject keeps only that person's.
	ListSSO(ctx context.Context, kind, subject string, now time.Time) ([]SSORecord, error)
	// DeleteSSOSubject deletes the records of a kind that belong to
	// subject (and to client, when it is not empty) and returns how many.
	DeleteSSOSubject(ctx context.Context, kind, subject, client string) (int64, error)
	// PurgeSSO deletes the records that expired before t.
	PurgeSSO(ctx context.Context, before time.Time) (int64, error)
}
