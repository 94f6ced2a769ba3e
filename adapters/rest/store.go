package rest

import (
	"context"

	"github.com/tuyenquang/lgsp/bus/store"
)

// Store is what the REST adapter reads of the store itself: the ledger
// (notifications replayed to a subscriber that reconnects) and the keys of
// a service's owner (which sign forwarded calls). Everything else goes
// through the exchange service and bus/auth.
type Store interface {
	EventsAfter(ctx context.Context, after int64, limit int) ([]store.Event, error)
	ListKeys(ctx context.Context, systemCode string) ([]store.Key, error)
}
