package store

import (
	"context"
	"time"
)

// Event is one entry of an exchange's ledger (F7, R7): every state change
// with its time. Events are also the feed that notifies live subscribers on
// every node. Detail never holds payload bytes.
type Event struct {
	ID         int64 // assigned by the store, increasing
	ExchangeID string
	At         time.Time
	Kind       string // requested, uploaded, accepted, planned, notified, ready, downloaded, confirmed, rejected, purged, expired, cancelled, failed, webhook_sent, webhook_failed …
	Actor      string // identifier code of the system that caused it, or "lgsp"
	Recipient  string // identifier code the event concerns, if any
	Detail     string // short JSON or text; never payload bytes
	Node       string // node that wrote it
}

// LedgerStore is the ledger of exchanges (F7, R7) and the feed of events
// that nodes share.
type LedgerStore interface {
	// AddEvents appends ledger events.
	AddEvents(ctx context.Context, events ...Event) error
	// Events returns the ledger of one exchange in order.
	Events(ctx context.Context, exchangeID string) ([]Event, error)
	// EventsAfter returns events with ID > after, in order (the notification
	// feed shared by nodes).
	EventsAfter(ctx context.Context, after int64, limit int) ([]Event, error)
	// EventsAfterOrIn is EventsAfter plus the events among ids (all ≤ after)
	// that exist now, in one query and in id order: a feed reader asks again
	// for the ids it saw skipped (not yet committed on MySQL) without
	// re-reading the events it has seen. At most 1000 ids are asked for.
	EventsAfterOrIn(ctx context.Context, after int64, ids []int64, limit int) ([]Event, error)
	// LastEventID returns the highest event id (0 if none).
	LastEventID(ctx context.Context) (int64, error)
}
