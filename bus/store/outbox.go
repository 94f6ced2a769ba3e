package store

import (
	"context"
	"time"
)

// Outbox item statuses.
const (
	OutboxPending = "pending"
	OutboxDone    = "done"
	OutboxDead    = "dead" // retries exhausted; an operator sees it
)

// OutboxItem is a durable outbound delivery of one registered kind
// (bus/delivery: webhook, soap_push, vxp_push, ngsp_call …), retried with
// the one retry policy.
type OutboxItem struct {
	ID         int64
	Kind       string // the delivery kind ("webhook", "soap_push" …)
	Target     string // the kind's target (a system code, a gateway name …)
	ExchangeID string
	Payload    []byte // what the kind needs to deliver (metadata only)
	DueAt      time.Time
	FirstAt    time.Time
	Attempts   int
	LastError  string
	Status     string
	// ClaimedBy and LeaseToken name the current claim; only the holder of
	// LeaseToken may finish, release or extend it (fencing).
	ClaimedBy  string
	LeaseToken string
	// History keeps the last attempts, oldest first (FinishOutbox writes it).
	History []Attempt
}

// Attempt is one failed (or final) attempt of an outbox item.
type Attempt struct {
	At    time.Time `json:"at"`
	Node  string    `json:"node"`
	Error string    `json:"error,omitempty"`
}

// OutboxTarget is one destination of one kind.
type OutboxTarget struct{ Kind, Target string }

// Claim asks ClaimDeliveries for up to Limit pending items due at Now,
// leased to Node for Lease under one fresh token, skipping the targets in
// Skip (their slots are full: isolation per destination).
type Claim struct {
	Now   time.Time
	Limit int
	Node  string
	Lease time.Duration
	Skip  []OutboxTarget
}

// OutboxFilter selects outbox items for operators; zero fields match all.
type OutboxFilter struct {
	Status     string
	ID         int64
	Kind       string
	Target     string
	ExchangeID string
	BeforeID   int64 // paging: items older than this id
	Limit      int
}

// OutboxStore is what the delivery engine (bus/delivery) and its operators
// need of the store: claims under a lease token, heartbeats, fenced
// outcomes, the dead-letter actions, and pruning what was delivered.
type OutboxStore interface {
	EnqueueOutbox(ctx context.Context, it OutboxItem) error
	// ClaimDeliveries leases items under one fresh token (it.LeaseToken).
	ClaimDeliveries(ctx context.Context, c Claim) ([]OutboxItem, error)
	// ExtendLease moves the lease of the items still held under token.
	ExtendLease(ctx context.Context, token string, until time.Time) (int64, error)
	// FinishOutbox records an attempt's outcome only for the current lease
	// holder (bus.ErrLeaseLost otherwise).
	FinishOutbox(ctx context.Context, it OutboxItem) error
	// ReleaseOutbox gives a held item back without counting an attempt.
	ReleaseOutbox(ctx context.Context, id int64, token string) error
	// ReleaseNodeLeases frees what node held before it restarted.
	ReleaseNodeLeases(ctx context.Context, node string) (int64, error)
	// ListDeliveries lists items, newest first.
	ListDeliveries(ctx context.Context, f OutboxFilter) ([]OutboxItem, error)
	// RequeueDead and DiscardDead act on dead items and return those acted on.
	RequeueDead(ctx context.Context, f OutboxFilter, now time.Time) ([]OutboxItem, error)
	DiscardDead(ctx context.Context, f OutboxFilter) ([]OutboxItem, error)
	// PruneOutbox deletes up to limit delivered (done) items last due before
	// t and returns how many; dead items stay for operators.
	PruneOutbox(ctx context.Context, before time.Time, limit int) (int64, error)
}
