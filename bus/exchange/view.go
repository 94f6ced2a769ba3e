package exchange

import (
	"time"

	"github.com/tuyenquang/lgsp/bus/store"
)

// View is the JSON form of an exchange shown to senders, recipients,
// operators and authorised services.
type View struct {
	ID         string          `json:"id"`
	Source     string          `json:"source"`
	Title      string          `json:"title"`
	Importance string          `json:"importance"`
	DataType   string          `json:"data_type"`
	Protocol   string          `json:"protocol"`
	MediaType  string          `json:"media_type,omitempty"`
	Route      string          `json:"route"`
	Status     string          `json:"status"`
	Size       int64           `json:"size"`
	Received   int64           `json:"received"`
	MaxBytes   int64           `json:"max_bytes"`
	SHA256     string          `json:"sha256,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
	ExpiresAt  time.Time       `json:"expires_at"`
	PurgedAt   time.Time       `json:"purged_at,omitzero"`
	Recipients []RecipientView `json:"recipients,omitempty"`
	Ledger     []EventView     `json:"ledger,omitempty"`
}

// RecipientView is one destination's state.
type RecipientView struct {
	Code       string    `json:"code"`
	Status     string    `json:"status"`
	DueAt      time.Time `json:"due_at,omitzero"`
	NotifiedAt time.Time `json:"notified_at,omitzero"`
	ReadyAt    time.Time `json:"ready_at,omitzero"`
	DoneAt     time.Time `json:"done_at,omitzero"`
	Outcome    string    `json:"outcome,omitempty"`
}

// EventView is one ledger entry.
type EventView struct {
	ID        int64     `json:"id"`
	At        time.Time `json:"at"`
	Kind      string    `json:"kind"`
	Actor     string    `json:"actor"`
	Recipient string    `json:"recipient,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

// ViewOf converts a stored exchange (and optionally its ledger).
func ViewOf(ex store.Exchange, ledger []store.Event) View {
	v := View{ID: ex.ID, Source: ex.Source, Title: ex.Title, Importance: ex.Importance, DataType: ex.DataType, Protocol: ex.Protocol,
		MediaType: ex.MediaType, Route: ex.Route, Status: ex.Status, Size: ex.Size, Received: ex.Received, MaxBytes: ex.MaxBytes, SHA256: ex.SHA256,
		CreatedAt: ex.CreatedAt, UpdatedAt: ex.UpdatedAt, ExpiresAt: ex.ExpiresAt, PurgedAt: ex.PurgedAt}
	for _, r := range ex.Recipients {
		v.Recipients = append(v.Recipients, RecipientView{Code: r.Code, Status: r.Status, DueAt: r.DueAt, NotifiedAt: r.NotifiedAt, ReadyAt: r.ReadyAt, DoneAt: r.DoneAt, Outcome: r.Outcome})
	}
	for _, e := range ledger {
		v.Ledger = append(v.Ledger, EventView{ID: e.ID, At: e.At, Kind: e.Kind, Actor: e.Actor, Recipient: e.Recipient, Detail: e.Detail})
	}
	return v
}

// InboxView is one item of a destination's inbox.
type InboxView struct {
	ExchangeID string    `json:"exchange_id"`
	Source     string    `json:"source"`
	Title      string    `json:"title"`
	Importance string    `json:"importance"`
	DataType   string    `json:"data_type"`
	MediaType  string    `json:"media_type,omitempty"`
	Size       int64     `json:"size"`
	SHA256     string    `json:"sha256"`
	Status     string    `json:"status"`
	DueAt      time.Time `json:"due_at"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// InboxOf converts inbox items.
func InboxOf(items []store.InboxItem) []InboxView {
	out := make([]InboxView, 0, len(items))
	for _, it := range items {
		e := it.Exchange
		out = append(out, InboxView{ExchangeID: e.ID, Source: e.Source, Title: e.Title, Importance: e.Importance, DataType: e.DataType, MediaType: e.MediaType,
			Size: e.Size, SHA256: e.SHA256, Status: it.Recipient.Status, DueAt: it.Recipient.DueAt, ExpiresAt: e.ExpiresAt})
	}
	return out
}
