package store

import (
	"context"
	"time"
)

// ActivityEntry is one entry of the activity log (M5): an exchange state
// change, a service call, a gateway pull or push, an admin action. Entries
// of one node form a hash chain by Seq; bus/activity computes Hash and
// PrevHash. Detail is short metadata, never payload.
type ActivityEntry struct {
	Node       string
	Seq        int64
	At         time.Time
	Kind       string // e.g. "exchange.confirmed", "svc.call", "admin.key.revoke"
	Actor      string // system code, "admin" or "lgsp"
	SystemCode string // the system the entry concerns (for M6 reads)
	Unit       string // that system's unit
	Subject    string // exchange id, service name, key id …
	Outcome    string // "ok" or an error code
	Detail     string
	EventID    int64 // ledger event it mirrors, 0 if none
	PrevHash   string
	Hash       string
}

// ActivityCheckpoint is the head of a node's chain signed by the node.
type ActivityCheckpoint struct {
	Node  string
	Seq   int64
	Hash  string
	At    time.Time
	KeyID string
	Sig   []byte
}

// ActivityFilter selects entries for reading (M6).
type ActivityFilter struct {
	Unit       string // required for units; empty for operators
	SystemCode string
	ErrorsOnly bool // only entries whose Outcome is not "ok"
	From, To   time.Time
	Limit      int
}

// ActivityStore keeps the activity log. Entries are only ever appended.
type ActivityStore interface {
	// AppendActivity inserts entries (already chained) in one transaction;
	// a (node, seq) that exists already is an error.
	AppendActivity(ctx context.Context, entries []ActivityEntry) error
	// ActivityHead returns the last entry of node (ok false if none) and the
	// highest EventID the node recorded.
	ActivityHead(ctx context.Context, node string) (last ActivityEntry, ok bool, maxEvent int64, err error)
	// ActivityChain returns up to limit entries of node with Seq > after,
	// by Seq (verification).
	ActivityChain(ctx context.Context, node string, after int64, limit int) ([]ActivityEntry, error)
	// ActivityNodes lists the nodes that wrote entries or checkpoints.
	ActivityNodes(ctx context.Context) ([]string, error)
	// ListActivity returns entries matching f, newest first.
	ListActivity(ctx context.Context, f ActivityFilter) ([]ActivityEntry, error)
	// AddCheckpoint stores a signed checkpoint.
	AddCheckpoint(ctx context.Context, c ActivityCheckpoint) error
	// Checkpoints returns the checkpoints of node by Seq.
	Checkpoints(ctx context.Context, node string) ([]ActivityCheckpoint, error)
}
