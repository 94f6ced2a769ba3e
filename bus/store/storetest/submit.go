package storetest

import (
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus/store"
)

// testSubmitExchange: an exchange stored whole (accepted, with its chunks
// and events) reads back as written; a final one is purged in the same
// call and counted in the statistics; a submission that does not hold
// together, or whose id exists, writes nothing.
func testSubmitExchange(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, sys := range []store.System{{Code: src, Unit: "Sở Nội vụ"}, {Code: dstA, Unit: "UBND huyện Na Hang"}} {
		sys.Name = sys.Code
		ok(t, s.CreateSystem(ctx, sys), "creating system")
	}
	e := store.Exchange{
		ID: "ex_sub", Source: src, Title: "Công văn số 12/UBND", Importance: "urgent", DataType: "edxml",
		Protocol: "rest", MediaType: "application/xml", Route: "edoc", Status: store.ExchangeAccepted,
		MaxBytes: 1 << 20, Received: 7, Size: 7, SHA256: "239f59ed", Policy: []byte(`{"note":"n"}`),
		WrappedKey: []byte("wrapped"), CreatedAt: at(0), UpdatedAt: at(time.Second), ExpiresAt: at(72 * time.Hour),
		Recipients: []store.Recipient{
			{ExchangeID: "ex_sub", Code: dstA, Status: store.RecipientPlanned, DueAt: at(time.Second)},
			{ExchangeID: "ex_sub", Code: dstB, Status: store.RecipientPlanned, DueAt: at(time.Hour)},
		},
	}
	chunks := []store.Chunk{{ExchangeID: e.ID, Offset: 0, Size: 4, Data: []byte("payl")}, {ExchangeID: e.ID, Offset: 4, Size: 3, Data: []byte("oad")}}
	evs := []store.Event{{Kind: "requested", Actor: src}, {Kind: "uploaded", Actor: src}, {Kind: "accepted", Actor: "lgsp"},
		{Kind: "planned", Actor: "lgsp", Recipient: dstA}, {Kind: "planned", Actor: "lgsp", Recipient: dstB}}
	ok(t, s.SubmitExchange(ctx, e, chunks, evs...), "submitting")
	got, err := s.GetExchange(ctx, e.ID)
	ok(t, err, "getting exchange")
	want := e
	want.CreatedAt, want.UpdatedAt, want.ExpiresAt = us(e.CreatedAt), us(e.UpdatedAt), us(e.ExpiresAt)
	want.Recipients = []store.Recipient{
		{ExchangeID: e.ID, Code: dstA, Status: store.RecipientPlanned, DueAt: us(at(time.Second))},
		{ExchangeID: e.ID, Code: dstB, Status: store.RecipientPlanned, DueAt: us(at(time.Hour))},
	}
	check(t, "submitted exchange", got, want)
	idx, err := s.ChunkIndex(ctx, e.ID)
	ok(t, err, "chunk index")
	check(t, "chunks", idx, []store.ChunkInfo{{Offset: 0, Size: 4}, {Offset: 4, Size: 3}})
	c, err := s.GetChunk(ctx, e.ID, 4)
	ok(t, err, "getting chunk")
	check(t, "chunk data", string(c.Data), "oad")
	stored, err := s.Events(ctx, e.ID)
	ok(t, err, "events")
	var kinds []string
	for _, ev := range stored {
		kinds = append(kinds, ev.Kind+"/"+ev.Recipient)
	}
	check(t, "events", kinds, []string{"requested/", "uploaded/", "accepted/", "planned/" + dstA, "planned/" + dstB})
	// It is due like an accepted exchange.
	due, err := s.ClaimDue(ctx, at(time.Minute), 10, "n1", nil)
	ok(t, err, "claiming")
	if len(due) != 1 || due[0].Code != dstA {
		t.Fatalf("claimed %+v, want %s of %s only", due, dstA, e.ID)
	}

	// Refused by a step: failed, purged in the same call, counted.
	f := e
	f.ID, f.Status, f.WrappedKey, f.Policy = "ex_sub_failed", store.ExchangeFailed, nil, nil
	f.Recipients = []store.Recipient{{ExchangeID: f.ID, Code: dstA, Status: store.RecipientFailed, DoneAt: at(time.Second)}}
	ok(t, s.SubmitExchange(ctx, f, nil, store.Event{Kind: "requested"}, store.Event{Kind: "failed"}, store.Event{Kind: "purged"}), "submitting a refused exchange")
	got, err = s.GetExchange(ctx, f.ID)
	ok(t, err, "getting the refused exchange")
	if got.Status != store.ExchangeFailed || got.WrappedKey != nil || !got.PurgedAt.Equal(us(f.UpdatedAt)) || got.Received != 7 ||
		len(got.Recipients) != 1 || got.Recipients[0].Status != store.RecipientFailed {
		t.Fatalf("refused exchange reads back as %+v", got)
	}
	day := store.Day(at(0))
	rows, err := s.Stats(ctx, store.StatsQuery{From: day, To: day, By: "system"})
	ok(t, err, "stats")
	var outDocs int64
	for _, r := range rows {
		if r.SystemCode == src && r.Direction == store.DirOut {
			outDocs += r.Docs
		}
	}
	if outDocs != 1 {
		t.Fatalf("stats count %d documents sent by %s, want the refused one: %+v", outDocs, src, rows)
	}

	// Submissions that do not hold together write nothing.
	bad := func(id string, mod func(*store.Exchange, *[]store.Chunk)) {
		t.Helper()
		b := e
		b.ID = id
		b.Recipients = []store.Recipient{{ExchangeID: id, Code: dstA, Status: store.RecipientPlanned, DueAt: at(time.Second)}}
		cs := []store.Chunk{{ExchangeID: id, Offset: 0, Size: 4, Data: []byte("payl")}, {ExchangeID: id, Offset: 4, Size: 3, Data: []byte("oad")}}
		mod(&b, &cs)
		if err := s.SubmitExchange(ctx, b, cs, store.Event{Kind: "requested"}); err == nil {
			t.Fatalf("%s: submission accepted", id)
		}
		if _, err := s.GetExchange(ctx, b.ID); err == nil {
			t.Fatalf("%s: a refused submission left its exchange", id)
		}
	}
	bad("ex_gap", func(_ *store.Exchange, cs *[]store.Chunk) { (*cs)[1].Offset = 5 })
	bad("ex_short", func(b *store.Exchange, _ *[]store.Chunk) { b.Received = 9 })
	bad("ex_other", func(_ *store.Exchange, cs *[]store.Chunk) { (*cs)[1].ExchangeID = "ex_sub" })
	bad("ex_final_content", func(b *store.Exchange, _ *[]store.Chunk) { b.Status = store.ExchangeFailed })
	// The id exists: nothing of the second submission is kept.
	before, err := s.Events(ctx, e.ID)
	ok(t, err, "events")
	dup := e
	dup.Recipients = []store.Recipient{{ExchangeID: e.ID, Code: dstC, Status: store.RecipientPlanned}}
	if err := s.SubmitExchange(ctx, dup, nil, store.Event{Kind: "requested"}); err == nil {
		t.Fatal("a second submission of ex_sub was accepted")
	}
	got, err = s.GetExchange(ctx, e.ID)
	ok(t, err, "getting exchange")
	if len(got.Recipients) != 2 || got.Recipients[0].Code != dstA {
		t.Fatalf("after a refused duplicate, ex_sub has %+v", got.Recipients)
	}
	stored, err = s.Events(ctx, e.ID)
	ok(t, err, "events")
	if len(stored) != len(before) {
		t.Fatalf("after a refused duplicate, ex_sub has %d events, want %d", len(stored), len(before))
	}
}
