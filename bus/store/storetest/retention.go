package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
)

// testAppendChunk: every appended chunk moves Received with it, so what is
// stored is what is reported; a refused part is rolled back whole, but only
// while it is the last one.
func testAppendChunk(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newExchange(t, s, "ex_ap", at(0), dstA)
	put := func(off int64, data string) error {
		return s.AppendChunk(ctx, store.Chunk{ExchangeID: e.ID, Offset: off, Size: int64(len(data)), Data: []byte(data)})
	}
	received := func() int64 {
		t.Helper()
		got, err := s.GetExchange(ctx, e.ID)
		ok(t, err, "getting exchange")
		return got.Received
	}
	ok(t, put(0, "0123456789"), "appending at 0")
	if r := received(); r != 10 {
		t.Fatalf("received after one chunk = %d, want 10", r)
	}
	ok(t, put(10, "abcdefghij"), "appending at 10")
	isCode(t, put(10, "XXXXXXXXXX"), bus.ErrUploadOffset, "appending below Received")
	isCode(t, put(25, "XXXXXXXXXX"), bus.ErrUploadOffset, "appending past Received")
	idx, err := s.ChunkIndex(ctx, e.ID)
	ok(t, err, "chunk index")
	check(t, "chunks after two appends", idx, []store.ChunkInfo{{Offset: 0, Size: 10}, {Offset: 10, Size: 10}})
	c, err := s.GetChunk(ctx, e.ID, 10)
	ok(t, err, "getting chunk")
	check(t, "chunk data", string(c.Data), "abcdefghij")

	// A refused part [20, 30) is rolled back; the earlier parts stay.
	ok(t, put(20, "klmnopqrst"), "appending at 20")
	isCode(t, s.RollbackUpload(ctx, e.ID, 10, 20), bus.ErrUploadOffset, "rolling back a part that is not the last")
	if r := received(); r != 30 {
		t.Fatalf("received after a refused rollback = %d, want 30", r)
	}
	ok(t, s.RollbackUpload(ctx, e.ID, 20, 30), "rolling back the last part")
	if r := received(); r != 20 {
		t.Fatalf("received after rollback = %d, want 20", r)
	}
	_, err = s.GetChunk(ctx, e.ID, 20)
	isCode(t, err, bus.ErrRange, "chunk of a rolled-back part")
	ok(t, put(20, "uvwxyz"), "appending again at 20")

	small := newExchange(t, s, "ex_ap_small", at(0), dstA)
	ok(t, s.AppendChunk(ctx, store.Chunk{ExchangeID: small.ID, Offset: 0, Size: 1 << 20, Data: make([]byte, 1<<20)}), "filling the space")
	isCode(t, s.AppendChunk(ctx, store.Chunk{ExchangeID: small.ID, Offset: 1 << 20, Size: 1, Data: []byte{1}}), bus.ErrSpaceFull, "chunk past MaxBytes")
	isCode(t, s.AppendChunk(ctx, store.Chunk{ExchangeID: "ex_none", Size: 1, Data: []byte{1}}), bus.ErrExchangeNotFound, "chunk of a missing exchange")
	isCode(t, s.RollbackUpload(ctx, "ex_none", 0, 1), bus.ErrExchangeNotFound, "rollback of a missing exchange")

	accept(t, s, e.ID, at(time.Minute), nil)
	isCode(t, put(26, "late"), bus.ErrExchangeState, "append after accept")
	isCode(t, s.RollbackUpload(ctx, e.ID, 20, 26), bus.ErrExchangeState, "rollback after accept")
}

// testDeleteStrayChunks: chunks past Received and chunks of purged
// exchanges go; committed chunks of live exchanges stay.
func testDeleteStrayChunks(t *testing.T, s store.Store, plant Planter) {
	ctx := t.Context()
	live := newExchange(t, s, "ex_sc_live", at(0), dstA)
	upload(t, s, live.ID, 0, []byte("committed-bytes!"), 8)
	// Strays: an uncommitted part (as an older node or a crash leaves it).
	plant(t, s, store.Chunk{ExchangeID: live.ID, Offset: 16, Size: 4, Data: []byte("lost")})
	plant(t, s, store.Chunk{ExchangeID: live.ID, Offset: 40, Size: 4, Data: []byte("gone")})
	other := newExchange(t, s, "ex_sc_other", at(0), dstA)
	ok(t, s.AppendChunk(ctx, store.Chunk{ExchangeID: other.ID, Offset: 0, Size: 3, Data: []byte("abc")}), "appending")

	n, err := s.DeleteStrayChunks(ctx)
	ok(t, err, "deleting stray chunks")
	if n != 2 {
		t.Fatalf("DeleteStrayChunks = %d, want 2", n)
	}
	for _, off := range []int64{16, 40} {
		_, err := s.GetChunk(ctx, live.ID, off)
		isCode(t, err, bus.ErrRange, fmt.Sprintf("stray chunk at %d", off))
	}
	idx, err := s.ChunkIndex(ctx, live.ID)
	ok(t, err, "chunk index")
	check(t, "committed chunks after the sweep", idx, []store.ChunkInfo{{Offset: 0, Size: 8}, {Offset: 8, Size: 8}})
	if idx, _ := s.ChunkIndex(ctx, other.ID); len(idx) != 1 {
		t.Fatalf("chunks of another exchange after the sweep = %v", idx)
	}
	if n, err := s.DeleteStrayChunks(ctx); err != nil || n != 0 {
		t.Fatalf("second sweep = %d, %v; want 0, nil", n, err)
	}
}

// testSettled: an accepted exchange whose recipients are all final but
// which was not purged is listed, once purged it is not; several sweepers
// completing it at once write one purge.
func testSettled(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newExchange(t, s, "ex_st", at(0), dstA, dstB)
	upload(t, s, e.ID, 0, []byte("payload"), 4)
	pending := newExchange(t, s, "ex_st_pending", at(0), dstA)
	upload(t, s, pending.ID, 0, []byte("x"), 4)
	accept(t, s, e.ID, at(time.Minute), nil)
	accept(t, s, pending.ID, at(time.Minute), nil)
	if _, err := s.ClaimDue(ctx, at(time.Minute), 10, "n1", nil); err != nil {
		t.Fatal(err)
	}
	settled := func() []string {
		t.Helper()
		ids, err := s.Settled(ctx, 10)
		ok(t, err, "listing settled exchanges")
		return ids
	}
	if ids := settled(); len(ids) != 0 {
		t.Fatalf("settled before any confirmation = %v", ids)
	}
	ok(t, s.Transition(ctx, store.Transition{ExchangeID: e.ID, Recipient: dstA, From: []string{store.RecipientNotified}, To: store.RecipientRejected, At: at(2 * time.Minute)}), "rejecting")
	if ids := settled(); len(ids) != 0 {
		t.Fatalf("settled with one recipient still notified = %v", ids)
	}
	ok(t, s.Transition(ctx, store.Transition{ExchangeID: e.ID, Recipient: dstB, From: []string{store.RecipientNotified}, To: store.RecipientConfirmed, At: at(2 * time.Minute)}), "confirming")
	check(t, "settled after the last confirmation", settled(), []string{e.ID})

	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Purge(ctx, e.ID, store.ExchangeCompleted, store.RecipientConfirmed, at(3*time.Minute),
				store.Event{Kind: "completed", Actor: "lgsp"}, store.Event{Kind: "purged", Actor: "lgsp", Detail: fmt.Sprint(i)})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		ok(t, err, fmt.Sprintf("sweeper %d purging", i))
	}
	evs, err := s.Events(ctx, e.ID)
	ok(t, err, "events")
	purges := 0
	for _, ev := range evs {
		if ev.Kind == "purged" {
			purges++
		}
	}
	if purges != 1 {
		t.Fatalf("%d purged events after concurrent sweepers, want 1", purges)
	}
	if ids := settled(); len(ids) != 0 {
		t.Fatalf("settled after the purge = %v", ids)
	}
	if idx, _ := s.ChunkIndex(ctx, e.ID); len(idx) != 0 {
		t.Fatalf("chunks after the purge: %v", idx)
	}
}
