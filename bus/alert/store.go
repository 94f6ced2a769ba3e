package alert

import (
	"context"
	"time"

	"github.com/tuyenquang/lgsp/bus/store"
)

// Store is what the alert engine needs of the store: its firing alerts and
// the lease that lets one node evaluate the shared rules, the delivery
// backlog and dead letters, and the systems' keys (expiring keys and
// certificates).
type Store interface {
	store.AlertStore
	TryLease(ctx context.Context, job, node string, until time.Time) (bool, error)
	ReleaseLease(ctx context.Context, job, node string) error
	ListDeliveries(ctx context.Context, f store.OutboxFilter) ([]store.OutboxItem, error)
	ListSystems(ctx context.Context) ([]store.System, error)
	ListKeys(ctx context.Context, systemCode string) ([]store.Key, error)
}
