package vxp

import (
	"context"
	"time"

	"github.com/tuyenquang/lgsp/bus/store"
)

// PollerStore is what the Poller needs of the store: the gateway documents
// that make pulls and pushes idempotent, the exchanges it pushes, and the
// ledger it records their outcomes in.
type PollerStore interface {
	store.GatewayStore
	store.LedgerStore
	GetExchange(ctx context.Context, id string) (store.Exchange, error)
	// EnqueueOutbox queues the adapter's deliveries (vxp_pull, vxp_status,
	// vxp_push) for the node's delivery engine.
	EnqueueOutbox(ctx context.Context, it store.OutboxItem) error
}

// EndpointStore is what the drop-in Endpoint needs of the store: the
// gateway documents that remember signatures, references, sent exchanges
// and acknowledged statuses, and the keys of the calling system (to check
// an SDK call's HMAC signature).
type EndpointStore interface {
	ClaimGatewayDoc(ctx context.Context, d store.GatewayDoc) (store.GatewayDoc, bool, error)
	UpdateGatewayDoc(ctx context.Context, d store.GatewayDoc) error
	GetGatewayDoc(ctx context.Context, gateway, direction, docID string) (store.GatewayDoc, error)
	PurgeGatewayDocs(ctx context.Context, gateway string, before time.Time) (int64, error)
	ListKeys(ctx context.Context, systemCode string) ([]store.Key, error)
}
