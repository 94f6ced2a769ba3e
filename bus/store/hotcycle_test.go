package store_test

import (
	"crypto/sha256"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
)

// The scaffolding shared by the hot-path tests: the seed, one exchange
// cycle run store call by store call as the services run it, and a log of
// the statements it sends through the driver (TestSQLiteHotQueriesUseIndexes,
// TestMySQLHotQueriesUseIndexes, TestExchangeCycleStatements*).

const (
	hotSrc    = "000.00.01.H60"
	hotDst    = "000.00.02.H60"
	hotSrcKey = "AKHOTSRC"
)

func hexSHA(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

type hotQuery struct {
	q    string
	args []any
}

// seedHot registers the two systems and the sender's key.
func seedHot(t testing.TB, s store.Store, now time.Time) {
	t.Helper()
	ctx := t.Context()
	for _, code := range []string{hotSrc, hotDst} {
		if err := s.CreateSystem(ctx, store.System{Code: code, Name: code, Unit: "UBND", Status: store.SystemActive, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateKey(ctx, store.Key{AccessKey: hotSrcKey, SystemCode: hotSrc, Alg: "LGSP-HMAC-SHA256", Kind: store.KeyShared,
		SecretEnc: []byte("sealed"), Status: store.KeyActive, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
}

// stmtCount is what one step of the cycle sent to the database.
type stmtCount struct {
	statements int // statements run (transaction markers excluded)
	writeTx    int // write transactions committed (each one a durable commit: an fsync)
	readTx     int // read-only transactions
	rollbacks  int // write transactions rolled back
}

// stmtLog records the statements of a cycle: the distinct ones with their
// first arguments (for EXPLAIN) and, per step named by mark, how many
// statements and transactions ran.
type stmtLog struct {
	mu       sync.Mutex
	on       bool
	seen     map[string]bool
	distinct []hotQuery
	step     string
	steps    []string
	counts   map[string]*stmtCount
	inTx     bool
	inRead   bool
}

func newStmtLog() *stmtLog {
	return &stmtLog{seen: map[string]bool{}, counts: map[string]*stmtCount{}}
}

func (l *stmtLog) rec(q string, args []driver.NamedValue) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.on || strings.HasPrefix(q, "PRAGMA") {
		return // PRAGMA: the WAL wiper's background checkpoint
	}
	c := l.counts[l.step]
	if c == nil {
		c = &stmtCount{}
		l.counts[l.step] = c
		l.steps = append(l.steps, l.step)
	}
	switch q {
	case store.TxBegin:
		l.inTx, l.inRead = true, false
		return
	case store.TxBeginRead:
		l.inTx, l.inRead = true, true
		return
	case store.TxCommit, store.TxRollback:
		switch {
		case l.inRead:
			c.readTx++
		case q == store.TxCommit:
			c.writeTx++
		default:
			c.rollbacks++
		}
		l.inTx, l.inRead = false, false
		return
	}
	c.statements++
	if !l.inTx {
		// A statement outside a transaction is one of its own; a write
		// so is a durable commit.
		switch strings.ToUpper(strings.Fields(strings.TrimSpace(q))[0]) {
		case "INSERT", "UPDATE", "DELETE", "REPLACE":
			c.writeTx++
		default:
			c.readTx++
		}
	}
	if l.seen[q] {
		return
	}
	l.seen[q] = true
	a := make([]any, len(args))
	for i, v := range args {
		a[i] = v.Value
	}
	l.distinct = append(l.distinct, hotQuery{q, a})
}

func (l *stmtLog) start() {
	l.mu.Lock()
	l.on, l.step = true, "other"
	l.mu.Unlock()
}

// mark names the step the next statements belong to.
func (l *stmtLog) mark(step string) {
	l.mu.Lock()
	l.step = step
	l.mu.Unlock()
}

// stop ends the recording and returns the distinct statements.
func (l *stmtLog) stop() []hotQuery {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.on = false
	return append([]hotQuery(nil), l.distinct...)
}

// table renders the counts per step and their total.
func (l *stmtLog) table() (string, stmtCount) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	var tot stmtCount
	fmt.Fprintf(&b, "%-16s %10s %9s %8s %9s\n", "step", "statements", "write tx", "read tx", "rollbacks")
	for _, st := range l.steps {
		c := l.counts[st]
		fmt.Fprintf(&b, "%-16s %10d %9d %8d %9d\n", st, c.statements, c.writeTx, c.readTx, c.rollbacks)
		tot.statements += c.statements
		tot.writeTx += c.writeTx
		tot.readTx += c.readTx
		tot.rollbacks += c.rollbacks
	}
	fmt.Fprintf(&b, "%-16s %10d %9d %8d %9d\n", "total", tot.statements, tot.writeTx, tot.readTx, tot.rollbacks)
	return b.String(), tot
}

// hotCycle runs the exchange path as the services do, store call by store
// call (bus/exchange, bus/delivery, bus/auth): authentication (key, system,
// nonce, session, bearer token, connection), F2 create, F3 upload, F4
// complete (accept and plan), the dispatcher's claim (no webhook item: the
// destination has no webhook URL), a webhook of another system through the
// outbox (claim, heartbeat, finish; not counted per exchange), F5–F7 inbox, ready, download,
// confirm with the purge and its stats rollup, and the ledger's append
// and feed tail, then the sweeps. stop ends it early: "requested" after
// the upload, "notified" after the notification (the seed keeps exchanges
// in every state). mark, if set, is told the step that starts.
// exchangeOnly, as hotCycle's stop, runs the exchange path alone: the auth
// reads, F1–F7 and the dispatcher's claim, without the webhook of another
// system, the ledger reads and the sweeps. inParallel is the same for
// cycles that run at once: the dispatcher's claim may take other cycles'
// recipients, and this cycle's may be taken by another's.
const (
	exchangeOnly = "exchange-only"
	inParallel   = "in-parallel"
)

func hotCycle(t testing.TB, s store.Store, id string, now time.Time, stop string, mark func(step string)) {
	t.Helper()
	if mark == nil {
		mark = func(string) {}
	}
	ctx := t.Context()
	must := func(err error, what string) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s %s: %v", what, id, err)
		}
	}
	parallel := stop == inParallel
	if parallel {
		stop = exchangeOnly
	}
	mark("auth")
	_, err := s.GetKey(ctx, hotSrcKey)
	must(err, "key")
	_, err = s.GetSystem(ctx, hotSrc)
	must(err, "system")
	fresh, err := s.UseNonce(ctx, hotSrcKey, "n-"+id, now.Add(5*time.Minute))
	must(err, "nonce")
	if !fresh {
		t.Fatalf("nonce of %s already used", id)
	}
	must(s.CreateSession(ctx, store.Session{ID: "s-" + id, KeyHash: hexSHA("s" + id), Source: hotSrc, AccessKey: hotSrcKey,
		Service: "exchange", Scope: "edoc", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}), "session")
	_, err = s.SessionByHash(ctx, hexSHA("s"+id))
	must(err, "session by hash")
	must(s.CreateToken(ctx, store.Token{Hash: hexSHA("t" + id), SystemCode: hotSrc, AccessKey: hotSrcKey, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}), "token")
	_, err = s.TokenByHash(ctx, hexSHA("t"+id))
	must(err, "token by hash")
	mark("F1 connect")
	must(s.RecordConnection(ctx, store.Connection{ID: "c-" + id, SystemCode: hotSrc, AccessKey: hotSrcKey, At: now, Remote: "127.0.0.1", ExpiresAt: now.Add(time.Hour)}), "connection")

	// F2: Service.Request.
	mark("F2 request")
	must(s.CreateExchange(ctx, store.Exchange{ID: id, Source: hotSrc, Title: "Công văn", Importance: "normal", DataType: "edoc",
		Protocol: "rest", MediaType: "application/xml", Status: store.ExchangeRequested, MaxBytes: 1 << 20, WrappedKey: []byte("wk"),
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(24 * time.Hour),
		Recipients: []store.Recipient{{ExchangeID: id, Code: hotDst, Status: store.RecipientPending}}},
		store.Event{Kind: "requested", Actor: hotSrc, Node: "n1"}), "create")

	// F3: Service.Upload of a body smaller than a chunk.
	mark("F3 upload")
	_, err = s.GetExchange(ctx, id)
	must(err, "get")
	must(s.AppendChunk(ctx, store.Chunk{ExchangeID: id, Offset: 0, Size: 6, Data: []byte("abcdef")},
		store.Event{ExchangeID: id, Kind: "uploaded", Actor: hotSrc, Node: "n1"}), "chunk")
	if stop == store.ExchangeRequested {
		return
	}

	// F3 close and F4: Service.Complete.
	mark("F4 complete")
	_, err = s.GetExchange(ctx, id)
	must(err, "get")
	_, err = s.ChunkIndex(ctx, id)
	must(err, "chunk index")
	_, err = s.GetChunk(ctx, id, 0)
	must(err, "hash the content")
	must(s.AcceptExchange(ctx, store.Accept{ExchangeID: id, Size: 6, SHA256: hexSHA("abcdef"), Route: "r1", At: now,
		DueAt: map[string]time.Time{hotDst: now}, Events: []store.Event{{Kind: "accepted", Actor: hotSrc, Node: "n1"}, {Kind: "planned", Recipient: hotDst, Actor: "lgsp", Node: "n1"}}}), "accept")
	// Complete answers with what the accept wrote: no read after it.

	// The dispatcher's claim and the notification through the outbox.
	mark("notify")
	due, err := s.ClaimDue(ctx, now, 10, "n1", nil)
	must(err, "claim due")
	if !parallel && (len(due) != 1 || due[0].ExchangeID != id) {
		t.Fatalf("claim due of %s = %+v", id, due)
	}
	// The recipient's system has no webhook URL and nothing diverts it:
	// ClaimDue queued no outbox item (it polls or subscribes).
	mark("other")
	if stop != exchangeOnly {
		webhookRound(t, s, id, now, must)
	}
	if stop == store.RecipientNotified {
		return
	}

	// F5–F7: Service.Inbox, Ready, Fetch, Confirm.
	mark("F5 inbox")
	in, err := s.Inbox(ctx, hotDst, []string{store.RecipientNotified, store.RecipientReady}, 100)
	must(err, "inbox")
	if len(in) == 0 && !parallel {
		t.Fatalf("inbox of %s is empty", hotDst)
	}
	step := func(from, to string, settle *store.Settle) {
		must(s.Transition(ctx, store.Transition{ExchangeID: id, Recipient: hotDst, From: []string{from}, To: to, At: now,
			Event: store.Event{Kind: to, Actor: hotDst, Recipient: hotDst, Node: "n1"}, Settle: settle}), from+"→"+to)
	}
	mark("F6 ready")
	_, err = s.GetExchange(ctx, id)
	must(err, "get")
	for deadline := time.Now().Add(5 * time.Second); ; {
		// In parallel, another cycle's claim of this recipient may commit
		// after this cycle's claim returned (MariaDB skips locked rows).
		err := s.Transition(ctx, store.Transition{ExchangeID: id, Recipient: hotDst, From: []string{store.RecipientNotified}, To: store.RecipientReady, At: now,
			Event: store.Event{Kind: store.RecipientReady, Actor: hotDst, Recipient: hotDst, Node: "n1"}})
		if err == nil {
			break
		}
		if !parallel || !errors.Is(err, bus.ErrExchangeState) || time.Now().After(deadline) {
			must(err, "notified→ready")
		}
		runtime.Gosched()
	}
	mark("F7 download")
	_, err = s.GetExchange(ctx, id)
	must(err, "get")
	_, err = s.ChunkIndex(ctx, id)
	must(err, "chunk index")
	_, err = s.GetChunk(ctx, id, 0)
	must(err, "download")
	step(store.RecipientReady, store.RecipientDownloaded, nil)
	mark("F7 confirm")
	_, err = s.GetExchange(ctx, id)
	must(err, "get")
	// The last confirmation purges in its own transaction.
	step(store.RecipientDownloaded, store.RecipientConfirmed, &store.Settle{Status: store.ExchangeCompleted,
		Events: []store.Event{{Kind: "completed", Actor: "lgsp", Node: "n1"}, {Kind: "purged", Actor: "lgsp", Node: "n1"}}})
	done, err := s.GetExchange(ctx, id)
	must(err, "get")
	if done.Status != store.ExchangeCompleted || done.PurgedAt.IsZero() {
		t.Fatalf("after the last confirmation %s is %s, purged at %v", id, done.Status, done.PurgedAt)
	}
	if stop == exchangeOnly {
		return
	}

	// The ledger and the shared feed.
	mark("ledger")
	must(s.AddEvents(ctx, store.Event{ExchangeID: id, Kind: "note", Actor: "lgsp", Node: "n1", At: now}), "ledger append")
	_, err = s.Events(ctx, id)
	must(err, "ledger")
	last, err := s.LastEventID(ctx)
	must(err, "last event")
	_, err = s.EventsAfter(ctx, max(last-5, 0), 100)
	must(err, "feed tail")
	_, err = s.ListSent(ctx, hotSrc, 20)
	must(err, "sent")

	// The sweeps that run all the time beside the path: expiry, settled
	// exchanges, nonces, sessions, delivered outbox items, the activity
	// log's head.
	mark("sweeps")
	old := now.Add(-72 * time.Hour)
	_, err = s.Expired(ctx, now, 100)
	must(err, "expired sweep")
	_, err = s.Settled(ctx, 100)
	must(err, "settled sweep")
	_, err = s.PurgeNonces(ctx, old)
	must(err, "nonce purge")
	_, err = s.PurgeSessions(ctx, old)
	must(err, "session purge")
	_, err = s.PruneOutbox(ctx, old, 100)
	must(err, "outbox prune")
	_, _, _, err = s.ActivityHead(ctx, "n1")
	must(err, "activity head")
	mark("other")
}

// webhookRound is a webhook of another system through the outbox (not per
// exchange of the path): the delivery engine claims its item, extends the
// lease and finishes it; a later delivery stays pending in the seed.
func webhookRound(t testing.TB, s store.Store, id string, now time.Time, must func(err error, what string)) {
	t.Helper()
	ctx := t.Context()
	must(s.EnqueueOutbox(ctx, store.OutboxItem{Kind: "webhook", Target: hotSrc, ExchangeID: id, Payload: []byte(`{}`),
		DueAt: now, FirstAt: now, Status: store.OutboxPending}), "enqueue webhook")
	items, err := s.ClaimDeliveries(ctx, store.Claim{Now: now, Limit: 10, Node: "n1", Lease: time.Minute})
	must(err, "claim deliveries")
	if len(items) == 0 {
		t.Fatalf("claimed no deliveries of %s", id)
	}
	for _, it := range items {
		if it.ExchangeID == id && it.Target == hotDst {
			t.Fatalf("ClaimDue queued a webhook item for %s, which has no webhook URL: %+v", hotDst, it)
		}
	}
	_, err = s.ExtendLease(ctx, items[0].LeaseToken, now.Add(2*time.Minute))
	must(err, "heartbeat")
	for _, it := range items {
		it.Status, it.Attempts = store.OutboxDone, 1
		must(s.FinishOutbox(ctx, it), "finish")
	}
	// A later delivery stays pending in the seed.
	must(s.EnqueueOutbox(ctx, store.OutboxItem{Kind: "webhook", Target: hotDst, ExchangeID: id, Payload: []byte(`{}`),
		DueAt: now.Add(48 * time.Hour), FirstAt: now, Status: store.OutboxPending}), "enqueue later")
}
