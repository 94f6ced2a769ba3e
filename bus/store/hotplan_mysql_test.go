package store_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tuyenquang/lgsp/bus/store"
)

// hotSeedCopies is how many copies of each seeded row the EXPLAIN test
// makes: enough that a full scan costs the optimizer more than any index.
const hotSeedCopies = 2000

const (
	hotSrc    = "000.00.01.H60"
	hotDst    = "000.00.02.H60"
	hotSrcKey = "AKHOTSRC"
)

func hexSHA(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

// hotCycle runs the exchange path as the services do, store call by store
// call: authentication (key, system, nonce, session, bearer token,
// connection), F2 create, F3 upload, F4 accept and plan, the webhook's
// outbox claim, heartbeat and finish, F5–F7 inbox, ready, download,
// confirm, purge with the stats rollup, and the ledger's append and feed
// tail. stop ends it early: "requested" after the upload, "notified" after
// the notification (the seed keeps exchanges in every state).
func hotCycle(t *testing.T, s store.Store, id string, now time.Time, stop string) {
	t.Helper()
	ctx := t.Context()
	must := func(err error, what string) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s %s: %v", what, id, err)
		}
	}
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
	must(s.RecordConnection(ctx, store.Connection{ID: "c-" + id, SystemCode: hotSrc, AccessKey: hotSrcKey, At: now, Remote: "127.0.0.1", ExpiresAt: now.Add(time.Hour)}), "connection")

	// F2, F3.
	must(s.CreateExchange(ctx, store.Exchange{ID: id, Source: hotSrc, Title: "Công văn", Importance: "normal", DataType: "edoc",
		Protocol: "rest", MediaType: "application/xml", Status: store.ExchangeRequested, MaxBytes: 1 << 20, WrappedKey: []byte("wk"),
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(24 * time.Hour),
		Recipients: []store.Recipient{{ExchangeID: id, Code: hotDst, Status: store.RecipientPending}}},
		store.Event{Kind: "requested", Actor: hotSrc, Node: "n1"}), "create")
	_, err = s.GetExchange(ctx, id)
	must(err, "get")
	must(s.AppendChunk(ctx, store.Chunk{ExchangeID: id, Offset: 0, Size: 4, Data: []byte("abcd")}), "chunk 0")
	must(s.AppendChunk(ctx, store.Chunk{ExchangeID: id, Offset: 4, Size: 2, Data: []byte("ef")}), "chunk 1")
	_, err = s.ChunkIndex(ctx, id)
	must(err, "chunk index")
	if stop == store.ExchangeRequested {
		return
	}

	// F4 and the notification through the outbox.
	must(s.AcceptExchange(ctx, store.Accept{ExchangeID: id, Size: 6, SHA256: hexSHA("abcdef"), Route: "r1", At: now,
		DueAt: map[string]time.Time{hotDst: now}, Events: []store.Event{{Kind: "accepted", Actor: hotSrc, Node: "n1"}}}), "accept")
	due, err := s.ClaimDue(ctx, now, 10, "n1")
	must(err, "claim due")
	if len(due) != 1 || due[0].ExchangeID != id {
		t.Fatalf("claim due of %s = %+v", id, due)
	}
	// ClaimDue queued the notification in the outbox: the delivery engine
	// claims it, extends the lease and finishes it.
	items, err := s.ClaimDeliveries(ctx, store.Claim{Now: now, Limit: 10, Node: "n1", Lease: time.Minute})
	must(err, "claim deliveries")
	if len(items) == 0 || items[0].ExchangeID != id {
		t.Fatalf("claimed deliveries of %s = %+v", id, items)
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
	if stop == store.RecipientNotified {
		return
	}

	// F5–F7.
	in, err := s.Inbox(ctx, hotDst, []string{store.RecipientNotified, store.RecipientReady}, 100)
	must(err, "inbox")
	if len(in) == 0 {
		t.Fatalf("inbox of %s is empty", hotDst)
	}
	step := func(from, to string) {
		must(s.Transition(ctx, store.Transition{ExchangeID: id, Recipient: hotDst, From: []string{from}, To: to, At: now,
			Event: store.Event{Kind: to, Actor: hotDst, Recipient: hotDst, Node: "n1"}}), from+"→"+to)
	}
	step(store.RecipientNotified, store.RecipientReady)
	_, err = s.GetChunk(ctx, id, 0)
	must(err, "download")
	step(store.RecipientReady, store.RecipientDownloaded)
	step(store.RecipientDownloaded, store.RecipientConfirmed)
	must(s.Purge(ctx, id, store.ExchangeCompleted, store.RecipientConfirmed, now, store.Event{Kind: "purged", Actor: "lgsp", Node: "n1"}), "purge")

	// The ledger and the shared feed.
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
}

// multiplyRows copies every row of every table hotSeedCopies times on one
// connection: string columns that are part of an index get a per-copy
// suffix (the same for every table, so references still match), except
// the few of low cardinality by nature (status, kind …); auto-increment
// columns take new values.
func multiplyRows(t *testing.T, db *sql.DB) {
	t.Helper()
	ctx := t.Context()
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, "SET FOREIGN_KEY_CHECKS = 0"); err != nil {
		t.Fatal(err)
	}
	low := map[string]bool{"status": true, "kind": true, "direction": true, "action": true, "rule": true, "gateway": true}
	rows, err := c.QueryContext(ctx, `SELECT c.table_name, c.column_name, c.data_type, COALESCE(c.character_maximum_length, 0), c.extra,
		EXISTS (SELECT 1 FROM information_schema.statistics s WHERE s.table_schema = c.table_schema AND s.table_name = c.table_name AND s.column_name = c.column_name)
		FROM information_schema.columns c WHERE c.table_schema = DATABASE() AND c.table_name <> 'schema_migrations'
		ORDER BY c.table_name, c.ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	type col struct{ name, expr string }
	tables := map[string][]col{}
	var order []string
	for rows.Next() {
		var table, name, typ, extra string
		var maxLen int64
		var indexed bool
		if err := rows.Scan(&table, &name, &typ, &maxLen, &extra, &indexed); err != nil {
			t.Fatal(err)
		}
		if _, ok := tables[table]; !ok {
			order = append(order, table)
			tables[table] = nil
		}
		if strings.Contains(extra, "auto_increment") {
			continue
		}
		expr := "src_.`" + name + "`"
		if indexed && !low[name] && (typ == "varchar" || typ == "char") {
			expr = fmt.Sprintf("CONCAT(LEFT(%s, %d), '~', LPAD(seq_.seq, 7, '0'))", expr, max(maxLen-8, 0))
		}
		tables[table] = append(tables[table], col{name, expr})
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	for _, table := range order {
		var names, exprs []string
		for _, cl := range tables[table] {
			names = append(names, "`"+cl.name+"`")
			exprs = append(exprs, cl.expr)
		}
		q := fmt.Sprintf("INSERT IGNORE INTO `%s` (%s) SELECT %s FROM (SELECT * FROM `%s`) src_, seq_1_to_%d seq_",
			table, strings.Join(names, ", "), strings.Join(exprs, ", "), table, hotSeedCopies)
		if _, err := c.ExecContext(ctx, q); err != nil {
			t.Fatalf("seeding %s: %v", table, err)
		}
		if _, err := c.ExecContext(ctx, "ANALYZE TABLE `"+table+"`"); err != nil {
			t.Fatalf("analyzing %s: %v", table, err)
		}
	}
}

// hotQuery is one distinct statement recorded during the cycle.
type hotQuery struct {
	q    string
	args []any
}

// TestMySQLHotQueriesUseIndexes (issue #13) records every statement the
// store sends to MariaDB during a whole exchange cycle — through a wrapper
// around the driver, so that no query of the hot path can be missed —
// over a database seeded with thousands of exchanges, recipients, chunks,
// ledger events, outbox items, sessions, nonces, keys and stats rows (and
// analysed), then runs EXPLAIN on each distinct statement with the
// arguments it ran with. It fails when a statement reads a table of the
// seed by a full table scan (type ALL) or a full index scan (type index),
// naming the statement and its plan.
func TestMySQLHotQueriesUseIndexes(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds thousands of rows on MariaDB")
	}
	dsn := freshDatabase(t)
	var (
		mu        sync.Mutex
		recording bool
		seen      = map[string]bool{}
		recorded  []hotQuery
	)
	rec := func(q string, args []driver.NamedValue) {
		mu.Lock()
		defer mu.Unlock()
		if !recording || seen[q] {
			return
		}
		seen[q] = true
		a := make([]any, len(args))
		for i, v := range args {
			a[i] = v.Value
		}
		recorded = append(recorded, hotQuery{q, a})
	}
	s, err := store.OpenMySQLRecorded(t.Context(), dsn, rec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)

	// Seed: systems and a key, then exchanges left in every state.
	for _, code := range []string{hotSrc, hotDst} {
		if err := s.CreateSystem(ctx, store.System{Code: code, Name: code, Unit: "UBND", Status: store.SystemActive, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateKey(ctx, store.Key{AccessKey: hotSrcKey, SystemCode: hotSrc, Alg: "LGSP-HMAC-SHA256", Kind: store.KeyShared,
		SecretEnc: []byte("sealed"), Status: store.KeyActive, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	hotCycle(t, s, "seed_done", now.Add(-time.Hour), "")
	hotCycle(t, s, "seed_notified", now.Add(-time.Hour), store.RecipientNotified)
	hotCycle(t, s, "seed_requested", now.Add(-time.Hour), store.ExchangeRequested)

	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.InterpolateParams = true
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	multiplyRows(t, db)

	counts := map[string]int64{}
	trows, err := db.QueryContext(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for trows.Next() {
		var n string
		if err := trows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	trows.Close()
	for _, n := range names {
		var c int64
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM `"+n+"`").Scan(&c); err != nil {
			t.Fatal(err)
		}
		counts[n] = c
	}
	for _, n := range []string{"exchanges", "recipients", "chunks", "events", "outbox", "sessions", "nonces", "bearer_tokens", "access_keys", "connections", "stats_daily"} {
		if counts[n] < hotSeedCopies {
			t.Fatalf("seed left %s with %d rows, want ≥ %d", n, counts[n], hotSeedCopies)
		}
	}

	// The cycle under test, recorded.
	mu.Lock()
	recording = true
	mu.Unlock()
	hotCycle(t, s, "hot", now, "")
	mu.Lock()
	recording = false
	qs := append([]hotQuery(nil), recorded...)
	mu.Unlock()
	if len(qs) < 20 {
		t.Fatalf("recorded only %d statements of the exchange cycle", len(qs))
	}

	var has0018 bool
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) > 0 FROM schema_migrations WHERE version = 18").Scan(&has0018); err != nil {
		t.Fatal(err)
	}
	// The detector itself: a query on an unindexed column is flagged.
	if plan, err := explain(ctx, db, hotQuery{"SELECT id FROM exchanges WHERE title = ?", []any{"x"}}); err != nil || len(plan) != 1 || plan[0].typ != "ALL" {
		t.Fatalf("a full scan is not recognised: %+v, %v", plan, err)
	}
	explained := 0
	for _, h := range qs {
		verb := strings.ToUpper(strings.Fields(strings.TrimSpace(h.q))[0])
		switch verb {
		case "SELECT", "UPDATE", "DELETE", "INSERT", "REPLACE":
		default:
			continue
		}
		plan, err := explain(ctx, db, h)
		if err != nil {
			t.Errorf("EXPLAIN %s: %v", h.q, err)
			continue
		}
		explained++
		var lines []string
		bad := false
		alias := tableAliases(h.q)
		for _, p := range plan {
			table := p.table
			if real, ok := alias[table]; ok {
				table = real
			}
			if p.selectType == "INSERT" { // INSERT … VALUES: no read
				continue
			}
			lines = append(lines, p.String())
			if (p.typ == "ALL" || p.typ == "index") && counts[table] >= hotSeedCopies {
				bad = true
			}
		}
		if bad && !has0018 && strings.Contains(h.q, "WHERE lease_token = ?") {
			// The heartbeat: migration 0018 (an index on outbox.lease_token,
			// from the delivery engine's branch) fixes it; once that
			// migration is in, this statement is held to the rule too.
			t.Logf("known full scan, fixed by migration 0018 (not in this schema):\n  %s\n  plan: %s", h.q, strings.Join(lines, "; "))
		} else if bad {
			t.Errorf("hot query scans a large table:\n  %s\n  plan: %s", h.q, strings.Join(lines, "; "))
		} else if len(lines) > 0 {
			t.Logf("%s\n    → %s", h.q, strings.Join(lines, "; "))
		}
	}
	if explained < 20 {
		t.Fatalf("explained only %d statements", explained)
	}
	t.Logf("%d distinct statements recorded, %d explained", len(qs), explained)
}

var aliasRE = regexp.MustCompile(`(?i)\b(?:FROM|JOIN)\s+([a-z_]+)\s+(?:AS\s+)?([a-z_]+)`)

// tableAliases maps the aliases of a statement (FROM exchanges e) to their
// tables: EXPLAIN names a table by its alias.
func tableAliases(q string) map[string]string {
	out := map[string]string{}
	for _, m := range aliasRE.FindAllStringSubmatch(q, -1) {
		out[m[2]] = m[1]
	}
	return out
}

type planRow struct {
	selectType, table, typ, key, rows, extra string
}

func (p planRow) String() string {
	if p.table == "" {
		return p.extra
	}
	return fmt.Sprintf("%s type=%s key=%s rows=%s", p.table, p.typ, p.key, p.rows)
}

func explain(ctx context.Context, db *sql.DB, h hotQuery) ([]planRow, error) {
	rows, err := db.QueryContext(ctx, "EXPLAIN "+h.q, h.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []planRow
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		var p planRow
		for i, c := range cols {
			switch strings.ToLower(c) {
			case "select_type":
				p.selectType = vals[i].String
			case "table":
				p.table = vals[i].String
			case "type":
				p.typ = vals[i].String
			case "key":
				p.key = vals[i].String
			case "rows":
				p.rows = vals[i].String
			case "extra":
				p.extra = vals[i].String
			}
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
