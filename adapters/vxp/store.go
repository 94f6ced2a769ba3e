package vxp

import (
	"context"

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
