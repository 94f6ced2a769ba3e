package store

import (
	"context"
	"time"
)

// Grant kinds.
const (
	// GrantExchange lets Source send DataType to Destination (F2).
	GrantExchange = "exchange"
	// GrantService lets Source call Service with Scope (A2 and every call
	// through the bus).
	GrantService = "service"
)

// Grant is one explicit permission (M1, M2, Art. 8); whatever no active
// grant allows is refused. Source and Destination are identifier codes or
// patterns with '*' and '?' (path.Match, as in route files); DataType is a
// data type or "*". The store keeps the text as given: matching is the
// caller's job (auth.Grants).
type Grant struct {
	ID          string // "gr_…", chosen by the caller
	Kind        string // GrantExchange or GrantService
	Source      string
	Destination string // exchange grants; "" for service grants
	DataType    string // exchange grants; "" for service grants
	Service     string // service grants; "" for exchange grants
	Scope       string // service grants; "" for exchange grants
	CreatedAt   time.Time
	CreatedBy   string    // actor: "cli:<user>", "admin-api" …
	RevokedAt   time.Time // zero while the grant is in force
	RevokedBy   string
}

// Active reports whether the grant is in force.
func (g Grant) Active() bool { return g.RevokedAt.IsZero() }

// GrantFilter selects grants in ListGrants; zero fields select all.
type GrantFilter struct {
	Kind   string
	Source string // the stored Source text, exactly (a pattern is not expanded)
	// Revoked includes revoked grants; by default only active ones are listed.
	Revoked bool
}

// Actions of key events.
const (
	KeyEventIssued     = "issued"     // an HMAC key pair was issued
	KeyEventRegistered = "registered" // a public key was registered (RSA)
	KeyEventRotated    = "rotated"    // the key was replaced; detail names the new key and the overlap
	KeyEventRevoked    = "revoked"
	KeyEventLocked     = "locked"       // too many bad signatures (M3)
	KeyEventAlgs       = "algs_changed" // the system's allowed algorithms changed (AccessKey is "")
	KeyEventClientCert = "client_cert"  // a client-certificate binding was added or removed (AccessKey is "")
)

// KeyEvent is one line of the audit record of key operations (M6): who
// issued, rotated, revoked or locked which key, and when.
type KeyEvent struct {
	ID        int64 // assigned by the store, increasing
	At        time.Time
	AccessKey string
	System    string
	Action    string // KeyEvent…
	Actor     string // "cli:<user>", "admin-api", "lgsp" (the platform itself)
	Detail    string // short text; never a secret
}

// Rotation replaces an access key: New is stored, Old's expiry becomes
// OldExpires (or stays, if it was earlier), and Events are recorded, all in
// one transaction.
type Rotation struct {
	Old        string
	New        Key // same system as Old
	OldExpires time.Time
	Events     []KeyEvent
}

// DefaultAlg is the signature algorithm every system may use when nothing
// else was allowed (System.Algs empty).
const DefaultAlg = "LGSP-HMAC-SHA256"

// AccessStore persists who may do what (grants, deny by default) and the
// audit record of key operations (issued, rotated, revoked, locked).
type AccessStore interface {
	// CreateGrant stores g unless an active grant with the same kind,
	// source, destination, data type, service and scope exists; it returns
	// the grant in force (g, or the one found).
	CreateGrant(ctx context.Context, g Grant) (Grant, error)
	// ListGrants returns the grants f selects, oldest first.
	ListGrants(ctx context.Context, f GrantFilter) ([]Grant, error)
	// RevokeGrant ends a grant (bus.ErrGrantNotFound). Revoking a revoked
	// grant keeps the first revocation and is not an error.
	RevokeGrant(ctx context.Context, id string, at time.Time, by string) error

	// AddKeyEvents appends to the audit record of keys.
	AddKeyEvents(ctx context.Context, events ...KeyEvent) error
	// KeyEvents returns the audit record of one system ("" for all), oldest
	// first, at most limit (≤ 0: 100) of the newest entries.
	KeyEvents(ctx context.Context, system string, limit int) ([]KeyEvent, error)
	// RotateKey applies r atomically. bus.ErrKeyNotFound if Old does not
	// exist; bus.ErrBadRequest if it is revoked, already expired at
	// r.New.CreatedAt, or belongs to another system than r.New.
	RotateKey(ctx context.Context, r Rotation) error
	// SetSystemAlgs sets the signature algorithms a system may use
	// (bus.ErrSystemNotFound) and records events with it. Empty means
	// DefaultAlg only.
	SetSystemAlgs(ctx context.Context, code string, algs []string, events ...KeyEvent) error
	// SetClientCerts replaces the client-certificate bindings of a system
	// (bus.ErrSystemNotFound) and records events with it.
	SetClientCerts(ctx context.Context, code string, certs []ClientCert, events ...KeyEvent) error
}
