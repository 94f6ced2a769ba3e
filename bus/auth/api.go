package auth

import (
	"context"
	"time"
)

// Permissions decides, deny by default, whether a source may send a data
// type to a destination (checked at F2 for every recipient) and whether it
// may call a service with a scope (checked at A2 and on every call through
// the bus). Errors are catalogue errors (bus.ErrForbidden with a detail
// naming what is missing).
type Permissions interface {
	AllowExchange(ctx context.Context, source, destination, dataType string) error
	AllowService(ctx context.Context, source, service, scope string) error
}

// SessionInfo is what a valid session key grants (A2, A5).
type SessionInfo struct {
	ID        string    `json:"session_id"`
	Source    string    `json:"source"`
	Service   string    `json:"service"`
	Scope     string    `json:"scope"`
	AccessKey string    `json:"-"`
	ExpiresAt time.Time `json:"expires_at"`
}

// SessionChecker verifies a session key presented by source for service
// (A3 through the bus, A4–A5 for a destination). A revoked key, a
// suspended source or an expired or revoked session is refused at once.
type SessionChecker interface {
	CheckSession(ctx context.Context, sessionKey, source, service string) (*SessionInfo, error)
}
