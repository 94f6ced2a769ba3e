package store

import (
	"context"
	"time"
)

// Session is a session key issued at A2: it lets Source call Service with
// Scope until ExpiresAt. Only the SHA-256 of the key is stored (KeyHash);
// the key itself is shown once, to the source. AccessKey is the key that
// signed the A1 request: revoking it kills the session.
type Session struct {
	ID        string
	KeyHash   string // lower-case hex SHA-256 of the session key
	Source    string // identifier code of the calling system
	AccessKey string
	Service   string // name of the service in routes/*.yaml
	Scope     string
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt time.Time // zero: not revoked
}

// Token is an OAuth2 bearer token issued by POST /token (client
// credentials). Only the SHA-256 of the token is stored.
type Token struct {
	Hash       string // lower-case hex SHA-256 of the token
	SystemCode string
	AccessKey  string // the client credentials it was issued for
	CreatedAt  time.Time
	ExpiresAt  time.Time
}

// SessionStore persists session keys (A1–A6) and OAuth2 bearer tokens,
// stored only as hashes, which systems may use the legacy lgspaccesstoken
// header, the nonces of signed requests (replay protection) and the
// history of connections (R7).
type SessionStore interface {
	// CreateSession stores a new session (its ID and KeyHash unique).
	CreateSession(ctx context.Context, s Session) error
	// SessionByHash returns the session whose key hashes to keyHash
	// (bus.ErrSessionInvalid when there is none).
	SessionByHash(ctx context.Context, keyHash string) (Session, error)
	// GetSession returns a session by id (bus.ErrSessionInvalid).
	GetSession(ctx context.Context, id string) (Session, error)
	// RevokeSession marks a session revoked at at, keeping the time of the
	// first revocation (bus.ErrSessionInvalid when there is no such id).
	RevokeSession(ctx context.Context, id string, at time.Time) error
	// PurgeSessions deletes sessions and tokens that expired before t.
	PurgeSessions(ctx context.Context, before time.Time) (int64, error)

	// CreateToken stores a bearer token.
	CreateToken(ctx context.Context, t Token) error
	// TokenByHash returns the token whose value hashes to hash
	// (bus.ErrTokenInvalid when there is none).
	TokenByHash(ctx context.Context, hash string) (Token, error)

	// SetLegacyToken turns the lgspaccesstoken header on or off for a
	// system (bus.ErrSystemNotFound). Off is the default.
	SetLegacyToken(ctx context.Context, code string, on bool, at time.Time) error
	// LegacyToken reports whether a system may use lgspaccesstoken.
	LegacyToken(ctx context.Context, code string) (bool, error)

	// UseNonce records a nonce of an access key until expires. It returns
	// false if the pair was already recorded (a replay).
	UseNonce(ctx context.Context, accessKey, nonce string, expires time.Time) (bool, error)
	// PurgeNonces deletes nonces that expired before t.
	PurgeNonces(ctx context.Context, before time.Time) (int64, error)

	// RecordConnection stores an F1 connect (and counts it in the
	// connection days reports read).
	RecordConnection(ctx context.Context, c Connection) error
}

// Connection records an F1 connect (R7: history and times of connections).
type Connection struct {
	ID         string
	SystemCode string
	AccessKey  string
	At         time.Time
	Remote     string
	ExpiresAt  time.Time
}
