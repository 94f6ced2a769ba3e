package store

import (
	"context"
	"time"
)

// System statuses.
const (
	SystemActive    = "active"
	SystemSuspended = "suspended"
)

// System is a connected information system (R7), identified by its
// QCVN 102 identifier code.
type System struct {
	Code       string
	Name       string
	Unit       string // the owning unit (cơ quan, đơn vị)
	Contact    string // person, e-mail or phone to reach about this system
	Status     string // SystemActive or SystemSuspended
	WebhookURL string // optional: signed push notifications (F4)
	// Algs are the signature algorithms the system may use; empty means
	// DefaultAlg only. CreateSystem stores them; UpdateSystem leaves them
	// alone (SetSystemAlgs changes them).
	Algs []string
	// ClientCerts bind the system to TLS client certificates (mutual
	// TLS): when not empty, its requests must arrive over TLS presenting a
	// certificate one of them matches. CreateSystem stores them;
	// UpdateSystem leaves them alone (SetClientCerts changes them).
	ClientCerts []ClientCert
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// ClientCert is one binding of a system to client certificates: either
// one certificate by its SHA-256 fingerprint, or every certificate issued
// by CA (a PEM certificate) with exactly Subject (RFC 2253 form, as
// x509.Certificate.Subject.String() prints it).
type ClientCert struct {
	ID          string    `json:"id"`
	SHA256      string    `json:"sha256,omitempty"`  // lower-case hex of the DER certificate's SHA-256
	CA          string    `json:"ca,omitempty"`      // PEM of the issuing CA certificate
	Subject     string    `json:"subject,omitempty"` // subject the certificate must have (with CA)
	Description string    `json:"description,omitempty"`
	AddedAt     time.Time `json:"added_at"`
}

// Key statuses.
const (
	KeyActive  = "active"
	KeyRevoked = "revoked"
)

// Key kinds: what the key material of a key is. The kind is stored with
// the key, so that no code has to guess it from the algorithm's name.
const (
	// KeyShared is a shared secret (HMAC algorithms): SecretEnc holds it,
	// sealed by the master key; PublicKey is empty.
	KeyShared = "shared"
	// KeyPublic is a public key (LGSP-RSA-SHA256): PublicKey holds it as
	// PEM; there is no secret and SecretEnc is empty.
	KeyPublic = "public"
)

// Key is an access key of a system with its key material: either a shared
// secret, stored sealed by the master key (vault), never in clear, or a
// public key. Kind says which; CreateKey refuses a key whose fields do not
// match its kind. An empty Kind is KeyShared.
type Key struct {
	AccessKey  string
	SystemCode string
	Alg        string // signature algorithm, e.g. "LGSP-HMAC-SHA256"
	Kind       string // KeyShared or KeyPublic
	SecretEnc  []byte // sealed shared secret (KeyShared only); open it with auth.SharedSecret
	PublicKey  []byte // PEM public key (KeyPublic only)
	Status     string // KeyActive or KeyRevoked
	CreatedAt  time.Time
	ExpiresAt  time.Time // zero: no expiry
	RevokedAt  time.Time // zero: not revoked
}

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

// Connection records an F1 connect (R7: history and times of connections).
type Connection struct {
	ID         string
	SystemCode string
	AccessKey  string
	At         time.Time
	Remote     string
	ExpiresAt  time.Time
}

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

// Store is the persistence of LGSP. Every method is safe for concurrent use
// and, on MariaDB/MySQL, by several nodes at once. Methods that change state
// are atomic: they either apply whole or not at all. Errors from the bus
// catalogue (bus.ErrSystemNotFound, bus.ErrExchangeState …) tell the caller
// what went wrong; others are faults of the database.
type Store interface {
	// AccessStore: grants and the audit of key operations (access.go).
	AccessStore
	// SessionStore: session keys and bearer tokens (sessions.go).
	SessionStore
	// GatewayStore: job leases and last runs, gateway documents (gateway.go).
	GatewayStore
	// OrganStore: the organs a system may speak for in packets (organs.go).
	OrganStore
	// MetaStore: installation facts such as the master key check (meta.go).
	MetaStore
	// AlertStore: firing alerts and the delivery backlog (alerts.go).
	AlertStore
	// StatsStore: rollups and connection history for reports (stats.go).
	StatsStore
	// ActivityStore: the hash-chained activity log (activity.go).
	ActivityStore
	// PeopleStore: people of the console, their sessions and login
	// lockouts (people.go).
	PeopleStore

	// Dialect returns "sqlite" or "mysql".
	Dialect() string
	// Ping checks that the database answers (readiness).
	Ping(ctx context.Context) error
	// Close releases the database; the store is unusable afterwards.
	Close() error

	// Systems (registry).
	CreateSystem(ctx context.Context, s System) error           // bus.ErrSystemExists
	GetSystem(ctx context.Context, code string) (System, error) // bus.ErrSystemNotFound
	ListSystems(ctx context.Context) ([]System, error)
	UpdateSystem(ctx context.Context, s System) error // by Code; bus.ErrSystemNotFound

	// Keys.
	CreateKey(ctx context.Context, k Key) error
	GetKey(ctx context.Context, accessKey string) (Key, error) // bus.ErrKeyNotFound
	ListKeys(ctx context.Context, systemCode string) ([]Key, error)
	RevokeKey(ctx context.Context, accessKey string, at time.Time) error // bus.ErrKeyNotFound
	// MoveLegacyPublicKey completes migration 0005 for one KeyPublic key
	// whose public key was stored sealed in SecretEnc: it sets PublicKey
	// and empties SecretEnc (bus.ErrKeyNotFound; a key that is not of kind
	// KeyPublic, or already has its PublicKey, is left alone).
	MoveLegacyPublicKey(ctx context.Context, accessKey string, pemBytes []byte) error

	// PlatformKeyStore: the platform's own signing keys (platform.go).
	PlatformKeyStore

	// UseNonce records a nonce of an access key until expires. It returns
	// false if the pair was already recorded (a replay).
	UseNonce(ctx context.Context, accessKey, nonce string, expires time.Time) (bool, error)
	// PurgeNonces deletes nonces that expired before t.
	PurgeNonces(ctx context.Context, before time.Time) (int64, error)

	// RecordConnection stores an F1 connect.
	RecordConnection(ctx context.Context, c Connection) error

	// CreateExchange stores a new exchange (status requested) with its
	// recipients (status pending) and the given ledger events.
	CreateExchange(ctx context.Context, e Exchange, events ...Event) error
	// GetExchange returns an exchange with its recipients.
	GetExchange(ctx context.Context, id string) (Exchange, error) // bus.ErrExchangeNotFound
	// ListSent returns the newest exchanges sent by source, newest first.
	ListSent(ctx context.Context, source string, limit int) ([]Exchange, error)
	// SearchExchanges lists the metadata of exchanges sent by one of
	// f.Sources (none: nothing), newest first, without recipients,
	// policy or wrapped key (the console's search, issue #12).
	SearchExchanges(ctx context.Context, f ExchangeFilter) ([]Exchange, error)

	// PutChunk stores a sealed chunk. Chunks at or past the exchange's
	// Received offset are uncommitted until CommitUpload moves Received
	// past them — and DeleteStrayChunks deletes them, so uploads use
	// AppendChunk; PutChunk and CommitUpload stay for tools and tests.
	PutChunk(ctx context.Context, c Chunk) error
	// CommitUpload moves Received from `from` to `to` if the exchange is
	// still requested and Received equals from (bus.ErrUploadOffset
	// otherwise; bus.ErrExchangeState if no longer requested), with events.
	CommitUpload(ctx context.Context, id string, from, to int64, events ...Event) error
	// DeleteChunksFrom deletes chunks whose Offset is ≥ offset (an aborted
	// or rolled-back upload part).
	DeleteChunksFrom(ctx context.Context, id string, offset int64) error
	// AppendChunk stores a sealed chunk at the exchange's Received offset
	// and moves Received past it in the same transaction, so that what is
	// durable and what Received says never differ (an upload interrupted by
	// a crash resumes from there). bus.ErrUploadOffset if c.Offset is not
	// Received, bus.ErrExchangeState if the exchange is no longer
	// requested, bus.ErrSpaceFull past MaxBytes.
	AppendChunk(ctx context.Context, c Chunk) error
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
	// DueAt ≤ now to notified, writes a "notified" event for each, enqueues
	// a webhook outbox item for each (Kind "webhook", Target = recipient),
	// and returns them. Several nodes may call it at once; each recipient is
	// claimed by exactly one.
	ClaimDue(ctx context.Context, now time.Time, limit int, node string) ([]Recipient, error)
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

	// AddEvents appends ledger events.
	AddEvents(ctx context.Context, events ...Event) error
	// Events returns the ledger of one exchange in order.
	Events(ctx context.Context, exchangeID string) ([]Event, error)
	// EventsAfter returns events with ID > after, in order (the notification
	// feed shared by nodes).
	EventsAfter(ctx context.Context, after int64, limit int) ([]Event, error)
	// LastEventID returns the highest event id (0 if none).
	LastEventID(ctx context.Context) (int64, error)

	// EnqueueOutbox adds a pending outbox item.
	EnqueueOutbox(ctx context.Context, it OutboxItem) error
	// ClaimOutbox leases up to limit pending items due at now for lease, so
	// that no other node takes them meanwhile.
	ClaimOutbox(ctx context.Context, now time.Time, limit int, node string, lease time.Duration) ([]OutboxItem, error)
	// FinishOutbox records the outcome of an attempt: status done, dead, or
	// pending again with the next due time.
	FinishOutbox(ctx context.Context, it OutboxItem) error
	// ListOutbox lists items with the given status, newest first (operators).
	ListOutbox(ctx context.Context, status string, limit int) ([]OutboxItem, error)
	OutboxStore
	// PruneOutbox deletes up to limit delivered (done) items last due before
	// t and returns how many; dead items stay for operators.
	PruneOutbox(ctx context.Context, before time.Time, limit int) (int64, error)
}

// OutboxStore is what the delivery engine (bus/delivery) and its operators
// need of the store: claims under a lease token, heartbeats, fenced
// outcomes, and the dead-letter actions.
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
}
