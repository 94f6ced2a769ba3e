package delivery

import (
	"context"
	"encoding/json"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
)

// OpsStore is what operators' actions on deliveries need of the store.
type OpsStore interface {
	store.OutboxStore
	AddEvents(ctx context.Context, events ...store.Event) error
}

// Ledger event kinds of operators' actions on dead letters.
const (
	EventRequeued  = "delivery_requeued"
	EventDiscarded = "delivery_discarded"
)

// View is an outbox item as operators see it: no payload (it may hold
// document metadata), the last error and the attempt history.
type View struct {
	ID         int64           `json:"id"`
	Kind       string          `json:"kind"`
	Target     string          `json:"target"`
	ExchangeID string          `json:"exchange_id,omitempty"`
	Status     string          `json:"status"`
	Attempts   int             `json:"attempts"`
	DueAt      time.Time       `json:"due_at"`
	FirstAt    time.Time       `json:"first_at"`
	LastError  string          `json:"last_error,omitempty"`
	ClaimedBy  string          `json:"claimed_by,omitempty"`
	Key        string          `json:"idempotency_key"`
	History    []store.Attempt `json:"history"`
}

// ViewOf is the operator's view of it.
func ViewOf(it store.OutboxItem) View {
	h := it.History
	if h == nil {
		h = []store.Attempt{}
	}
	return View{ID: it.ID, Kind: it.Kind, Target: it.Target, ExchangeID: it.ExchangeID, Status: it.Status, Attempts: it.Attempts,
		DueAt: it.DueAt, FirstAt: it.FirstAt, LastError: it.LastError, ClaimedBy: it.ClaimedBy, Key: Key(it), History: h}
}

// Ops are the operators' actions on deliveries (admin API and CLI alike).
type Ops struct {
	Store OpsStore
	Actor string // who acts ("admin", "cli")
	Node  string
	Now   func() time.Time
}

func (o *Ops) now() time.Time {
	if o.Now != nil {
		return o.Now().UTC()
	}
	return time.Now().UTC()
}

// List lists items, newest first (status "" is any).
func (o *Ops) List(ctx context.Context, f store.OutboxFilter) ([]View, error) {
	items, err := o.Store.ListDeliveries(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]View, 0, len(items))
	for _, it := range items {
		out = append(out, ViewOf(it))
	}
	return out, nil
}

// Requeue makes dead letters pending again with a fresh attempt budget;
// all must be true to act without any filter field.
func (o *Ops) Requeue(ctx context.Context, f store.OutboxFilter, all bool) ([]View, error) {
	if err := needFilter(f, all); err != nil {
		return nil, err
	}
	items, err := o.Store.RequeueDead(ctx, f, o.now())
	return o.record(ctx, items, EventRequeued, err)
}

// Discard deletes dead letters; all must be true to act without a filter.
func (o *Ops) Discard(ctx context.Context, f store.OutboxFilter, all bool) ([]View, error) {
	if err := needFilter(f, all); err != nil {
		return nil, err
	}
	items, err := o.Store.DiscardDead(ctx, f)
	return o.record(ctx, items, EventDiscarded, err)
}

func needFilter(f store.OutboxFilter, all bool) error {
	if !all && f.ID == 0 && f.Kind == "" && f.Target == "" && f.ExchangeID == "" {
		return bus.ErrBadRequest.New("name the dead letters to act on (id, kind, target or exchange), or say all")
	}
	return nil
}

// record writes one ledger event per item acted on (items of an exchange:
// the ledger is per exchange).
func (o *Ops) record(ctx context.Context, items []store.OutboxItem, kind string, err error) ([]View, error) {
	if err != nil {
		return nil, err
	}
	out := make([]View, 0, len(items))
	var evs []store.Event
	for _, it := range items {
		out = append(out, ViewOf(it))
		if it.ExchangeID == "" {
			continue
		}
		d, _ := json.Marshal(map[string]any{"outbox": it.ID, "kind": it.Kind, "attempts": it.Attempts})
		evs = append(evs, store.Event{ExchangeID: it.ExchangeID, At: o.now(), Kind: kind, Actor: o.Actor, Recipient: it.Target, Detail: string(d), Node: o.Node})
	}
	if len(evs) > 0 {
		if err := o.Store.AddEvents(context.WithoutCancel(ctx), evs...); err != nil {
			return out, err
		}
	}
	return out, nil
}
