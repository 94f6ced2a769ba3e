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
}
