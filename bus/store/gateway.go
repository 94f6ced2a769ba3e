package store

import (
	"context"
	"time"
)

// Directions of a gateway document.
const (
	GatewayIn  = "in"  // pulled from the gateway into an LGSP exchange
	GatewayOut = "out" // pushed from an LGSP exchange to the gateway
)

// GatewayDoc remembers one document exchanged with an external gateway
// (VXP …) so that a packet pulled twice — a crash between the pull and the
// acknowledgement — is delivered once. For GatewayIn, DocID is the
// gateway's document id and ExchangeID the exchange it became; for
// GatewayOut, DocID is the LGSP exchange id and Detail holds what the
// gateway answered (its document id). Never payload bytes.
type GatewayDoc struct {
	Gateway    string // "vxp"; up to 64 characters
	Direction  string // GatewayIn or GatewayOut
	DocID      string
	ExchangeID string
	Status     string // free text of the adapter: "pulling", "delivered", "acked", "sent" …
	Detail     string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// GatewayStore persists what the gateway pollers need to be idempotent and
// to run on one node at a time: leases and last runs of scheduled jobs
// (bus/schedule.Durable) and the documents exchanged with each gateway.
type GatewayStore interface {
	// TryLease gives job to node until `until` if nobody holds it, node
	// holds it already (renewal), or the holder's lease ended (its
	// lease_until is not after the store's clock). It reports whether node
	// holds the lease now. Several nodes may call it at once: exactly one
	// gets a free lease (an UPDATE … WHERE guarded on the row).
	TryLease(ctx context.Context, job, node string, until time.Time) (bool, error)
	// ReleaseLease ends node's lease of job (no-op if another node holds it).
	ReleaseLease(ctx context.Context, job, node string) error
	// LastRun returns when job last ran (zero if never).
	LastRun(ctx context.Context, job string) (time.Time, error)
	// SetLastRun records that job ran at at.
	SetLastRun(ctx context.Context, job string, at time.Time) error

	// ClaimGatewayDoc stores d unless a document with the same Gateway,
	// Direction and DocID exists. It returns the stored row and whether it
	// was created by this call.
	ClaimGatewayDoc(ctx context.Context, d GatewayDoc) (GatewayDoc, bool, error)
	// UpdateGatewayDoc sets ExchangeID, Status, Detail and UpdatedAt of the
	// document with d's key (bus.ErrNotFound if there is none).
	UpdateGatewayDoc(ctx context.Context, d GatewayDoc) error
	// GetGatewayDoc returns one document (bus.ErrNotFound).
	GetGatewayDoc(ctx context.Context, gateway, direction, docID string) (GatewayDoc, error)
	// PurgeGatewayDocs deletes the documents of gateway (exact name)
	// created before before, and returns how many; for rows that only
	// matter for a while (the VXP endpoint's signatures of the window).
	PurgeGatewayDocs(ctx context.Context, gateway string, before time.Time) (int64, error)
}
