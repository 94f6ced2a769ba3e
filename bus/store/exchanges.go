package store

import (
	"context"
	"time"
)

// Exchange statuses. An exchange moves requested → accepted → completed,
// or to cancelled / expired / failed. Payload chunks and the wrapped data key
// exist only while the status is requested or accepted.
const (
	ExchangeRequested = "requested" // F2 done, upload space open (F3)
	ExchangeAccepted  = "accepted"  // F3 complete, route ran, delivery planned (F4)
	ExchangeCompleted = "completed" // every recipient reached a final state; payload purged
	ExchangeCancelled = "cancelled" // cancelled by the sender; payload purged
	ExchangeExpired   = "expired"   // expiry passed before completion; payload purged
	ExchangeFailed    = "failed"    // a route step refused the content; payload purged
)

// Recipient statuses (per destination of an exchange).
const (
	RecipientPending    = "pending"    // waiting for the upload to complete
	RecipientPlanned    = "planned"    // route ran; delivery due at DueAt (immediate or cron)
	RecipientNotified   = "notified"   // due; destination notified (F4/F5)
	RecipientReady      = "ready"      // destination said ready, space returned (F6)
	RecipientDownloaded = "downloaded" // destination fetched the whole payload (F7)
	RecipientConfirmed  = "confirmed"  // destination confirmed receipt (F7) — final
	RecipientRejected   = "rejected"   // destination refused the content — final
	RecipientExpired    = "expired"    // exchange expired before confirmation — final
	RecipientCancelled  = "cancelled"  // exchange cancelled — final
	RecipientFailed     = "failed"     // route refused the content — final
)

// FinalRecipient reports whether a recipient status is final.
func FinalRecipient(status string) bool {
	switch status {
	case RecipientConfirmed, RecipientRejected, RecipientExpired, RecipientCancelled, RecipientFailed:
		return true
	}
	return false
}

// Exchange is one store-and-forward exchange (F1–F7).
type Exchange struct {
	ID         string
	Source     string
	Title      string
	Importance string
	DataType   string
	Protocol   string
	MediaType  string
	Route      string // name of the route that took it (set at F4)
	Status     string
	MaxBytes   int64  // size limit of the upload space
	Received   int64  // bytes committed to the space so far (upload offset)
	Size       int64  // final size (set at F4)
	SHA256     string // lower-case hex of the payload (declared at F2 or F4; checked)
	Policy     []byte // exchange policy as JSON (F3)
	WrappedKey []byte // per-exchange data key wrapped by the master key; nil once purged
	CreatedAt  time.Time
	UpdatedAt  time.Time
	ExpiresAt  time.Time
	PurgedAt   time.Time // zero while the payload exists
	Recipients []Recipient
}

// Recipient is the delivery state of one destination of an exchange.
type Recipient struct {
	ExchangeID string
	Code       string
	Status     string
	DueAt      time.Time // when delivery is due (immediate: the F4 time)
	NotifiedAt time.Time
	ReadyAt    time.Time
	DoneAt     time.Time // time of the final status
	Outcome    string    // free text from the destination (reason of a rejection …)
}

// InboxItem is what a destination sees of an exchange addressed to it.
type InboxItem struct {
	Exchange  Exchange // without Recipients
	Recipient Recipient
}

// Chunk is one encrypted piece of a payload. Offset is the plaintext offset
// of its first byte; Size its plaintext length; Data the sealed bytes.
type Chunk struct {
	ExchangeID string
	Offset     int64
	Size       int64
	Data       []byte
}

// ChunkInfo describes a chunk without its data.
type ChunkInfo struct {
	Offset int64
	Size   int64
}

// Transition moves recipients of one exchange from one of the allowed
// statuses to a new one, atomically with a ledger event.
type Transition struct {
	ExchangeID string
	Recipient  string   // one recipient's code
	From       []string // allowed current statuses; otherwise ErrExchangeState
	To         string
	At         time.Time
	Outcome    string
	Event      Event
	// Settle, if set, completes the exchange in the same transaction when
	// the transition leaves every recipient in a final state: the Purge
	// to Settle.Status, with Event and then Settle.Events in the ledger
	// (an exchange purged already is left as it is).
	Settle *Settle
}

// Settle is the completion a Transition carries (the last confirmation
// purges the payload in its own transaction).
type Settle struct {
	Status string // final exchange status (completed …)
	Events []Event
}

// Accept is the F4 update: the upload is complete and the route planned
// delivery.
type Accept struct {
	ExchangeID string
	Size       int64
	SHA256     string
	MediaType  string
	Policy     []byte
	Route      string
	At         time.Time
	ExpiresAt  time.Time            // may move the expiry given at F2
	DueAt      map[string]time.Time // per recipient code
	Events     []Event
}

// ExchangeFilter selects exchanges for SearchExchanges: sent by one of
// Sources, with Route and Status if set, created in [From, To) if set; at
// most Limit (default 100).
type ExchangeFilter struct {
	Sources  []string
	Route    string
	Status   string
	From, To time.Time
	Limit    int
}

// ExchangeStore is the store-and-forward exchanges (F1–F7): their
// recipients' delivery state and their encrypted payload chunks. Writes
// that change an exchange's state append its ledger events in the same
// transaction.
type ExchangeStore interface {
	// CreateExchange stores a new exchange (status requested) with its
	// recipients (status pending) and the given ledger events.
	CreateExchange(ctx context.Context, e Exchange, events ...Event) error
	// SubmitExchange stores an exchange made whole by one call (F2–F4 at
	// once, exchange.Service.Submit): e in the status it reached (accepted,
	// its recipients planned with their due times), its sealed chunks —
	// one after the other from offset 0, ending at e.Received — and the
	// ledger events, in one transaction. An e in a final status (a route
	// step refused the content) carries no chunks and is purged in the
	// same transaction, as Purge would (statistics included).
	SubmitExchange(ctx context.Context, e Exchange, chunks []Chunk, events ...Event) error
	// GetExchange returns an exchange with its recipients.
	GetExchange(ctx context.Context, id string) (Exchange, error) // bus.ErrExchangeNotFound
	// ListSent returns the newest exchanges sent by source, newest first.
	ListSent(ctx context.Context, source string, limit int) ([]Exchange, error)
	// SearchExchanges lists the metadata of exchanges sent by one of
	// f.Sources (none: nothing), newest first, without recipients,
	// policy or wrapped key (the console's search, issue #12).
	SearchExchanges(ctx context.Context, f ExchangeFilter) ([]Exchange, error)

	// AppendChunk stores a sealed chunk at the exchange's Received offset
	// and moves Received past it in the same transaction, so that what is
	// durable and what Received says never differ (an upload interrupted by
	// a crash resumes from there). bus.ErrUploadOffset if c.Offset is not
	// Received, bus.ErrExchangeState if the exchange is no longer
	// requested, bus.ErrSpaceFull past MaxBytes. Chunks left past Received
	// by an older writer inside the new chunk's range are deleted with it.
	// The events, if any, are appended in the same transaction (the upload
	// part's last chunk carries its "uploaded" event).
	AppendChunk(ctx context.Context, c Chunk, events ...Event) error
	// DeleteChunksFrom deletes chunks whose Offset is ≥ offset (an aborted
	// or rolled-back upload part), never below Received.
	DeleteChunksFrom(ctx context.Context, id string, offset int64) error
	// RollbackUpload undoes a refused upload part: if Received is still
	// `to` (nothing was appended after the part), it deletes the chunks
	// from `from` on and moves Received back to `from`; otherwise it
	// returns bus.ErrUploadOffset and changes nothing.
	RollbackUpload(ctx context.Context, id string, from, to int64) error
	// DeleteStrayChunks deletes chunks no exchange can read: those at or
	// past their exchange's Received offset (remains of an upload of an
	// earlier version, or of a crash between writes) and those of purged
	// exchanges. It returns how many it deleted. Safe on several nodes at
	// once and at any time: every writer keeps its chunks below Received.
	DeleteStrayChunks(ctx context.Context) (int64, error)
	// ChunkIndex lists the chunks below the Received offset, ordered by offset.
	ChunkIndex(ctx context.Context, id string) ([]ChunkInfo, error)
	// GetChunk returns the chunk that starts at offset.
	GetChunk(ctx context.Context, id string, offset int64) (Chunk, error)
	// ReplaceContent atomically swaps the payload of an accepted or
	// requested exchange: deletes all chunks, stores the given ones, and sets
	// WrappedKey, Size, SHA256, MediaType and Received (= size).
	ReplaceContent(ctx context.Context, id string, wrappedKey []byte, size int64, sha256, mediaType string, chunks []Chunk, events ...Event) error

	// AcceptExchange applies F4: status requested → accepted, recipients
	// pending → planned with their due times (bus.ErrExchangeState if the
	// exchange is not requested).
	AcceptExchange(ctx context.Context, a Accept) error
	// ClaimDue moves up to limit recipients whose status is planned and
	// DueAt ≤ now to notified, writes a "notified" event for each, and
	// returns them. In the same transaction it enqueues a webhook outbox
	// item (Kind "webhook", Target = recipient) for each recipient that has
	// something to be delivered: its system has a webhook URL at the claim,
	// or is not registered, or pushed (nil: none) reports that another kind
	// takes its notifications; a system that only polls or subscribes gets
	// none. Several nodes may call it at once; each recipient is claimed by
	// exactly one.
	ClaimDue(ctx context.Context, now time.Time, limit int, node string, pushed func(code string) bool) ([]Recipient, error)
	// Transition applies one recipient transition (F6, F7, rejections …).
	Transition(ctx context.Context, t Transition) error
	// Inbox lists exchanges addressed to code whose recipient status is one
	// of statuses, oldest due first.
	Inbox(ctx context.Context, code string, statuses []string, limit int) ([]InboxItem, error)

	// Purge deletes every chunk and the wrapped key of an exchange, sets its
	// status (completed, cancelled, expired, failed) and PurgedAt, moves its
	// non-final recipients to recipientStatus, and writes the events — all
	// in one transaction. Purging an already purged exchange is a no-op that
	// returns nil.
	Purge(ctx context.Context, id, status, recipientStatus string, at time.Time, events ...Event) error
	// Expired returns ids of exchanges not yet purged whose ExpiresAt ≤ now.
	Expired(ctx context.Context, now time.Time, limit int) ([]string, error)
	// Settled returns ids of accepted exchanges, not yet purged, whose
	// recipients are all in a final state: their completion and purge were
	// interrupted (a crash after the last confirmation) and must be resumed.
	Settled(ctx context.Context, limit int) ([]string, error)
}
