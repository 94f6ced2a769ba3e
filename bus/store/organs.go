package store

import (
	"context"
	"time"
)

// Actions of key events that record changes to the organs a system speaks
// for (AccessKey is "", Detail names the organ).
const (
	KeyEventSpeaksForAdded   = "speaks_for_added"
	KeyEventSpeaksForRemoved = "speaks_for_removed"
)

// SystemOrgan says that System may name Organ as the sender (From/OrganId)
// of the edXML packets it sends and of the status packets it reports, besides
// its own identifier code (R6, Art. 5): a QLVB server that serves several
// units, a gateway acting for others.
type SystemOrgan struct {
	System    string
	Organ     string
	CreatedAt time.Time
	CreatedBy string // actor: "cli:<user>", "admin-api" …
}

// OrganStore persists the organs systems may speak for; none by default.
type OrganStore interface {
	// AddSystemOrgan lists o.Organ for o.System with the audit events, in
	// one transaction (bus.ErrSystemNotFound). It returns the row in force
	// and false when the pair was listed already (nothing is written then).
	AddSystemOrgan(ctx context.Context, o SystemOrgan, events ...KeyEvent) (SystemOrgan, bool, error)
	// RemoveSystemOrgan unlists a pair with the audit events, in one
	// transaction (bus.ErrSpeaksForNotFound when it is not listed).
	RemoveSystemOrgan(ctx context.Context, system, organ string, events ...KeyEvent) error
	// ListSystemOrgans returns the organs of one system ("" for all),
	// ordered by system and organ.
	ListSystemOrgans(ctx context.Context, system string) ([]SystemOrgan, error)
}
