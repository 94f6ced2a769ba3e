package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus/store"
)

// statsTests cover store.StatsStore and store.ActivityStore (issue #11).
var statsTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"RollupOnPurge", testRollupOnPurge},
	{"MonthRows", testStatsMonthRows},
	{"ConnDays", testConnDays},
	{"PruneMetadata", testPruneMetadata},
	{"ActivityAppendList", testActivityAppendList},
}

func runStats(t *testing.T, open func(t *testing.T) store.Store) {
	for _, tc := range statsTests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func testRollupOnPurge(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, sys := range []store.System{{Code: src, Unit: "Sở Nội vụ"}, {Code: dstA, Unit: "UBND huyện Na Hang"}, {Code: dstB, Unit: "UBND huyện Na Hang"}} {
		sys.Name = sys.Code
		ok(t, s.CreateSystem(ctx, sys), "creating system")
	}
	e := newExchange(t, s, "ex_st", at(0), dstA, dstB)
	ok(t, s.AcceptExchange(ctx, store.Accept{ExchangeID: e.ID, Size: 1000, SHA256: "ab", Route: "r1", At: at(time.Second)}), "accepting")
	_, _ = s.ClaimDue(ctx, at(time.Second), 10, "n1", nil)
	ok(t, s.Transition(ctx, store.Transition{ExchangeID: e.ID, Recipient: dstA, From: []string{store.RecipientNotified}, To: store.RecipientConfirmed, At: at(90 * time.Second)}), "confirming")
	ok(t, s.Transition(ctx, store.Transition{ExchangeID: e.ID, Recipient: dstB, From: []string{store.RecipientNotified}, To: store.RecipientRejected, At: at(2 * time.Minute)}), "rejecting")
	ok(t, s.Purge(ctx, e.ID, store.ExchangeCompleted, "", at(3*time.Minute)), "purging")
	// A second purge must not count the exchange again.
	ok(t, s.Purge(ctx, e.ID, store.ExchangeCompleted, "", at(4*time.Minute)), "purging again")
	day := store.Day(at(0))

	rows, err := s.Stats(ctx, store.StatsQuery{From: day, To: day, By: "unit"})
	ok(t, err, "stats by unit")
	if len(rows) != 2 {
		t.Fatalf("stats by unit = %+v", rows)
	}
	in, out := rows[0], rows[1] // "Sở…" sorts after "UBND…" in binary order? check by field
	if in.Unit != "UBND huyện Na Hang" {
		in, out = out, in
	}
	if in.Direction != store.DirIn || in.Docs != 2 || in.Confirmed != 1 || in.Failed != 1 || in.Bytes != 1000 {
		t.Fatalf("recipient unit row = %+v", in)
	}
	if out.Unit != "Sở Nội vụ" || out.Direction != store.DirOut || out.Docs != 2 || out.Confirmed != 1 || out.Failed != 1 {
		t.Fatalf("sender unit row = %+v", out)
	}
	b := store.LatencyBucket(90 * time.Second)
	if in.Latency[b] != 1 || out.Latency[b] != 1 {
		t.Fatalf("latency bucket %d: in %v out %v", b, in.Latency, out.Latency)
	}
	rows, err = s.Stats(ctx, store.StatsQuery{From: day, To: day, By: "system", Unit: "UBND huyện Na Hang"})
	ok(t, err, "stats by system of one unit")
	if len(rows) != 2 || rows[0].SystemCode != dstA || rows[0].Confirmed != 1 || rows[1].SystemCode != dstB || rows[1].Failed != 1 {
		t.Fatalf("stats by system = %+v", rows)
	}
	rows, err = s.Stats(ctx, store.StatsQuery{From: day + 1, To: day + 1, By: "route"})
	ok(t, err, "stats of another day")
	if len(rows) != 0 {
		t.Fatalf("stats of another day = %+v", rows)
	}
	rows, err = s.Stats(ctx, store.StatsQuery{From: day, To: day, By: "type"})
	ok(t, err, "stats by type")
	if len(rows) != 2 || rows[0].DataType != "edoc" {
		t.Fatalf("stats by type = %+v", rows)
	}
	rows, err = s.Stats(ctx, store.StatsQuery{From: day - 1, To: day + 1, By: "route", PerDay: true})
	ok(t, err, "stats per day")
	if len(rows) != 2 || rows[0].Day != day || rows[0].Route != "r1" || rows[0].Direction != store.DirIn || rows[1].Docs != 2 {
		t.Fatalf("stats per day = %+v", rows)
	}
	if _, err := s.Stats(ctx, store.StatsQuery{From: day, To: day, By: "title"}); err == nil {
		t.Fatal("grouping by an unknown column accepted")
	}
}

func testConnDays(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i, d := range []time.Duration{time.Hour, 0, 3 * time.Hour, 30 * time.Hour} {
		ok(t, s.RecordConnection(ctx, store.Connection{SystemCode: dstA, AccessKey: "AK", At: at(d), Remote: fmt.Sprint("127.0.0.", i+1)}), "recording connection")
	}
	days, err := s.ConnDays(ctx, store.Day(at(0)), store.Day(at(48*time.Hour)), dstA)
	ok(t, err, "connection days")
	if len(days) != 2 || days[0].Count != 3 || !days[0].First.Equal(us(at(0))) || !days[0].Last.Equal(us(at(3*time.Hour))) || days[1].Count != 1 {
		t.Fatalf("connection days = %+v", days)
	}
	if none, _ := s.ConnDays(ctx, store.Day(at(0)), store.Day(at(48*time.Hour)), dstB); len(none) != 0 {
		t.Fatalf("connection days of another system = %+v", none)
	}
}

func testPruneMetadata(t *testing.T, s store.Store) {
	ctx := t.Context()
	ok(t, s.RecordConnection(ctx, store.Connection{SystemCode: dstA, AccessKey: "AK", At: at(0)}), "old connection")
	ok(t, s.RecordConnection(ctx, store.Connection{SystemCode: dstA, AccessKey: "AK", At: at(400 * 24 * time.Hour)}), "new connection")
	old := newExchange(t, s, "ex_old", at(0), dstA)
	ok(t, s.Purge(ctx, old.ID, store.ExchangeCancelled, store.RecipientCancelled, at(time.Minute)), "purging old")
	live := newExchange(t, s, "ex_live", at(0), dstA) // not purged: stays whatever its age
	n, err := s.PruneMetadata(ctx, at(365*24*time.Hour))
	ok(t, err, "pruning")
	if n == 0 {
		t.Fatal("pruning deleted nothing")
	}
	if _, err := s.GetExchange(ctx, old.ID); err == nil {
		t.Fatal("old purged exchange kept")
	}
	if _, err := s.GetExchange(ctx, live.ID); err != nil {
		t.Fatalf("live exchange pruned: %v", err)
	}
	days, _ := s.ConnDays(ctx, 0, 99999999, "")
	if len(days) != 1 || days[0].Day != store.Day(at(400*24*time.Hour)) {
		t.Fatalf("connection days after pruning = %+v", days)
	}
	rows, _ := s.Stats(ctx, store.StatsQuery{From: 0, To: 99999999, By: "system"})
	if len(rows) != 0 {
		t.Fatalf("rollups after pruning = %+v", rows)
	}
}

func testActivityAppendList(t *testing.T, s store.Store) {
	ctx := t.Context()
	mk := func(node string, seq int64, unit, outcome string) store.ActivityEntry {
		return store.ActivityEntry{Node: node, Seq: seq, At: at(time.Duration(seq) * time.Second), Kind: "exchange.confirmed", Actor: dstA,
			SystemCode: dstA, Unit: unit, Subject: "ex_1", Outcome: outcome, EventID: seq, PrevHash: fmt.Sprintf("%064d", seq-1), Hash: fmt.Sprintf("%064d", seq)}
	}
	ok(t, s.AppendActivity(ctx, []store.ActivityEntry{mk("n1", 1, "U1", "ok"), mk("n1", 2, "U2", "ok"), mk("n2", 1, "U1", "exchange.not_found")}), "appending")
	if err := s.AppendActivity(ctx, []store.ActivityEntry{mk("n1", 3, "U1", "ok"), mk("n1", 2, "U1", "ok")}); err == nil {
		t.Fatal("a duplicate (node, seq) accepted")
	}
	head, found, maxEv, err := s.ActivityHead(ctx, "n1")
	ok(t, err, "head")
	if !found || head.Seq != 2 || maxEv != 2 {
		t.Fatalf("head of n1 = %+v %v %d (the failed append must leave nothing)", head, found, maxEv)
	}
	check(t, "head entry", head, store.ActivityEntry{Node: "n1", Seq: 2, At: us(at(2 * time.Second)), Kind: "exchange.confirmed", Actor: dstA,
		SystemCode: dstA, Unit: "U2", Subject: "ex_1", Outcome: "ok", EventID: 2, PrevHash: fmt.Sprintf("%064d", 1), Hash: fmt.Sprintf("%064d", 2)})
	chain, err := s.ActivityChain(ctx, "n1", 0, 10)
	ok(t, err, "chain")
	if len(chain) != 2 || chain[0].Seq != 1 {
		t.Fatalf("chain = %+v", chain)
	}
	nodes, err := s.ActivityNodes(ctx)
	ok(t, err, "nodes")
	check(t, "nodes", nodes, []string{"n1", "n2"})
	u1, err := s.ListActivity(ctx, store.ActivityFilter{Unit: "U1"})
	ok(t, err, "list U1")
	if len(u1) != 2 {
		t.Fatalf("U1 entries = %+v", u1)
	}
	errs, _ := s.ListActivity(ctx, store.ActivityFilter{Unit: "U1", ErrorsOnly: true})
	if len(errs) != 1 || errs[0].Node != "n2" {
		t.Fatalf("U1 errors = %+v", errs)
	}
	ok(t, s.AddCheckpoint(ctx, store.ActivityCheckpoint{Node: "n1", Seq: 2, Hash: head.Hash, At: at(time.Hour), KeyID: "AK1", Sig: []byte{1, 2}}), "checkpoint")
	cps, err := s.Checkpoints(ctx, "n1")
	ok(t, err, "checkpoints")
	if len(cps) != 1 || cps[0].Seq != 2 || string(cps[0].Sig) != "\x01\x02" {
		t.Fatalf("checkpoints = %+v", cps)
	}
}

// testStatsMonthRows: a report over whole months reads the month rows, one
// over parts of months the day rows; both give the same sums.
func testStatsMonthRows(t *testing.T, s store.Store) {
	ctx := t.Context()
	ok(t, s.CreateSystem(ctx, store.System{Code: src, Name: "s", Unit: "U"}), "creating system")
	for i, d := range []time.Time{time.Date(2026, 1, 31, 23, 0, 0, 0, store.StatsZone), time.Date(2026, 2, 1, 1, 0, 0, 0, store.StatsZone), time.Date(2026, 2, 28, 12, 0, 0, 0, store.StatsZone), time.Date(2026, 3, 1, 0, 30, 0, 0, store.StatsZone)} {
		e := newExchange(t, s, fmt.Sprint("ex_m", i), d, dstA)
		ok(t, s.Purge(ctx, e.ID, store.ExchangeCancelled, store.RecipientCancelled, d.Add(time.Minute)), "purging")
	}
	for _, tc := range []struct {
		from, to int
		days     bool
		want     int64
	}{
		{20260101, 20261231, false, 4}, {20260101, 20261231, true, 4},
		{20260201, 20260228, false, 2}, {20260131, 20260301, false, 4},
		{20260201, 20260227, false, 1}, {20260102, 20260131, false, 1}, {20260301, 20260301, false, 1},
	} {
		rows, err := s.Stats(ctx, store.StatsQuery{From: tc.from, To: tc.to, By: "unit", DaysOnly: tc.days})
		ok(t, err, "stats")
		var docs int64
		for _, r := range rows {
			if r.Direction == store.DirOut {
				docs += r.Docs
			}
		}
		if docs != tc.want {
			t.Fatalf("%d..%d (days only %v): %d documents, want %d (%+v)", tc.from, tc.to, tc.days, docs, tc.want, rows)
		}
	}
}
