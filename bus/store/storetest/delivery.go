package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
)

// testOutboxFencing: only the holder of the current lease token records an
// outcome; heartbeats keep a lease; release and a restarted node's release
// give items back without counting an attempt (issue #10).
func testOutboxFencing(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i := range 3 {
		ok(t, s.EnqueueOutbox(ctx, store.OutboxItem{Kind: "webhook", Target: dstA, ExchangeID: fmt.Sprint("ex_", i), DueAt: at(0)}), "enqueueing")
	}
	c1, err := s.ClaimDeliveries(ctx, store.Claim{Now: at(0), Limit: 1, Node: "n1", Lease: time.Minute})
	ok(t, err, "claiming")
	if len(c1) != 1 || c1[0].LeaseToken == "" || c1[0].ClaimedBy != "n1" {
		t.Fatalf("claim = %+v", c1)
	}
	// The lease ends; n2 claims the same item under a new token.
	c2, err := s.ClaimDeliveries(ctx, store.Claim{Now: at(2 * time.Minute), Limit: 1, Node: "n2", Lease: time.Minute})
	ok(t, err, "claiming after the lease")
	if len(c2) != 1 || c2[0].ID != c1[0].ID || c2[0].LeaseToken == c1[0].LeaseToken {
		t.Fatalf("second claim = %+v, first = %+v", c2, c1)
	}
	stale := c1[0]
	stale.Status, stale.Attempts = store.OutboxDone, 1
	isCode(t, s.FinishOutbox(ctx, stale), bus.ErrLeaseLost, "finishing with a stale token")
	isCode(t, s.ReleaseOutbox(ctx, stale.ID, stale.LeaseToken), bus.ErrLeaseLost, "releasing with a stale token")
	if n, err := s.ExtendLease(ctx, stale.LeaseToken, at(time.Hour)); err != nil || n != 0 {
		t.Fatalf("heartbeat with a stale token moved %d leases (%v)", n, err)
	}
	// The holder's heartbeat keeps the item past its first lease.
	if n, err := s.ExtendLease(ctx, c2[0].LeaseToken, at(10*time.Minute)); err != nil || n != 1 {
		t.Fatalf("heartbeat moved %d leases (%v), want 1", n, err)
	}
	if got, _ := s.ClaimDeliveries(ctx, store.Claim{Now: at(5 * time.Minute), Limit: 10, Node: "n3"}); len(got) != 2 || got[0].ID == c2[0].ID || got[1].ID == c2[0].ID {
		t.Fatalf("claim during a heartbeat-kept lease = %+v", got)
	}
	cur := c2[0]
	cur.Status, cur.Attempts = store.OutboxDone, 1
	cur.History = []store.Attempt{{At: us(at(time.Minute)), Node: "n2"}}
	ok(t, s.FinishOutbox(ctx, cur), "finishing with the current token")
	list, _ := s.ListDeliveries(ctx, store.OutboxFilter{ID: cur.ID})
	if len(list) != 1 || list[0].Status != store.OutboxDone || list[0].Attempts != 1 || list[0].LeaseToken != "" || len(list[0].History) != 1 || list[0].History[0].Node != "n2" {
		t.Fatalf("finished item = %+v", list)
	}
	isCode(t, s.FinishOutbox(ctx, cur), bus.ErrLeaseLost, "finishing twice")

	// n3 holds the two others; after its restart it frees them at once.
	n, err := s.ReleaseNodeLeases(ctx, "n3")
	ok(t, err, "releasing a node's leases")
	if n != 2 {
		t.Fatalf("released %d leases of n3, want 2", n)
	}
	got, _ := s.ClaimDeliveries(ctx, store.Claim{Now: at(5 * time.Minute), Limit: 10, Node: "n1"})
	if len(got) != 2 || got[0].Attempts != 0 {
		t.Fatalf("claim after the node's release = %+v", got)
	}
	ok(t, s.ReleaseOutbox(ctx, got[0].ID, got[0].LeaseToken), "releasing one item")
	again, _ := s.ClaimDeliveries(ctx, store.Claim{Now: at(5 * time.Minute), Limit: 10, Node: "n2"})
	if len(again) != 1 || again[0].ID != got[0].ID || again[0].Attempts != 0 {
		t.Fatalf("claim after release = %+v", again)
	}
}

// testOutboxIsolation: a claim skips the destinations whose slots are full.
func testOutboxIsolation(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i := range 4 {
		ok(t, s.EnqueueOutbox(ctx, store.OutboxItem{Kind: "webhook", Target: dstA, ExchangeID: fmt.Sprint("a", i), DueAt: at(0)}), "enqueueing")
	}
	ok(t, s.EnqueueOutbox(ctx, store.OutboxItem{Kind: "soap_push", Target: dstA, ExchangeID: "p", DueAt: at(time.Second)}), "enqueueing")
	ok(t, s.EnqueueOutbox(ctx, store.OutboxItem{Kind: "webhook", Target: dstB, ExchangeID: "b", DueAt: at(time.Second)}), "enqueueing")
	got, err := s.ClaimDeliveries(ctx, store.Claim{Now: at(time.Minute), Limit: 2, Node: "n1", Skip: []store.OutboxTarget{{Kind: "webhook", Target: dstA}}})
	ok(t, err, "claiming with skipped targets")
	if len(got) != 2 || got[0].ExchangeID != "p" || got[1].ExchangeID != "b" {
		t.Fatalf("claim skipping webhook/%s = %+v", dstA, got)
	}
}

// testDeadLetters: operators list, requeue (one or by filter) and discard
// dead items; live items are never touched by these actions.
func testDeadLetters(t *testing.T, s store.Store) {
	ctx := t.Context()
	kinds := []string{"webhook", "webhook", "soap_push", "vxp_push"}
	for i, k := range kinds {
		ok(t, s.EnqueueOutbox(ctx, store.OutboxItem{Kind: k, Target: dstA, ExchangeID: fmt.Sprint("ex_", i), DueAt: at(0)}), "enqueueing")
	}
	ok(t, s.EnqueueOutbox(ctx, store.OutboxItem{Kind: "webhook", Target: dstB, ExchangeID: "live", DueAt: at(time.Hour)}), "enqueueing")
	got, err := s.ClaimDeliveries(ctx, store.Claim{Now: at(time.Minute), Limit: 10, Node: "n1"})
	ok(t, err, "claiming")
	if len(got) != 4 {
		t.Fatalf("claimed %d, want 4", len(got))
	}
	for _, it := range got {
		it.Status, it.Attempts, it.LastError = store.OutboxDead, 3, "answered 503"
		it.History = []store.Attempt{{At: us(at(time.Minute)), Node: "n1", Error: "answered 503"}}
		ok(t, s.FinishOutbox(ctx, it), "finishing dead")
	}
	dead, err := s.ListDeliveries(ctx, store.OutboxFilter{Status: store.OutboxDead, Kind: "webhook"})
	ok(t, err, "listing dead webhooks")
	if len(dead) != 2 || dead[0].History[0].Error != "answered 503" {
		t.Fatalf("dead webhooks = %+v", dead)
	}
	// Requeue one by id.
	rq, err := s.RequeueDead(ctx, store.OutboxFilter{ID: dead[0].ID}, at(2*time.Minute))
	ok(t, err, "requeueing one")
	if len(rq) != 1 || rq[0].ID != dead[0].ID {
		t.Fatalf("requeued = %+v", rq)
	}
	c, _ := s.ClaimDeliveries(ctx, store.Claim{Now: at(2 * time.Minute), Limit: 10, Node: "n1"})
	if len(c) != 1 || c[0].ID != dead[0].ID || c[0].Attempts != 0 || !c[0].FirstAt.Equal(us(at(2*time.Minute))) || len(c[0].History) != 1 {
		t.Fatalf("claim of the requeued item = %+v", c)
	}
	// Discard by filter (kind): only dead soap pushes go.
	gone, err := s.DiscardDead(ctx, store.OutboxFilter{Kind: "soap_push"})
	ok(t, err, "discarding")
	if len(gone) != 1 || gone[0].Kind != "soap_push" {
		t.Fatalf("discarded = %+v", gone)
	}
	// Requeue by filter (target): the remaining dead ones, not the live one.
	rq, err = s.RequeueDead(ctx, store.OutboxFilter{Target: dstA}, at(3*time.Minute))
	ok(t, err, "requeueing by target")
	if len(rq) != 2 {
		t.Fatalf("requeued by target = %+v", rq)
	}
	if left, _ := s.ListDeliveries(ctx, store.OutboxFilter{Status: store.OutboxDead}); len(left) != 0 {
		t.Fatalf("dead after requeue = %+v", left)
	}
	if all, _ := s.ListDeliveries(ctx, store.OutboxFilter{}); len(all) != 4 {
		t.Fatalf("items left = %d, want 4 (one discarded)", len(all))
	}
}
