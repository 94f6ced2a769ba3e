package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
)

// gatewayTests cover store.GatewayStore: job leases, last runs and gateway
// documents.
var gatewayTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"Lease", testLease},
	{"LeaseTwoNodes", testLeaseTwoNodes},
	{"LastRun", testLastRun},
	{"GatewayDocs", testGatewayDocs},
	{"GatewayDocConcurrent", testGatewayDocConcurrent},
	{"GatewayDocLongNamesPurge", testGatewayDocLongNamesPurge},
}

func runGateway(t *testing.T, open func(t *testing.T) store.Store) {
	for _, tc := range gatewayTests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func testLease(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.Now()
	got, err := s.TryLease(ctx, "vxp-poll", "node-a", now.Add(time.Minute))
	ok(t, err, "first lease")
	check(t, "node-a gets a free lease", got, true)
	got, err = s.TryLease(ctx, "vxp-poll", "node-b", now.Add(time.Minute))
	ok(t, err, "second lease")
	check(t, "node-b while node-a holds it", got, false)
	got, err = s.TryLease(ctx, "vxp-poll", "node-a", now.Add(2*time.Minute))
	ok(t, err, "renewal")
	check(t, "node-a renews", got, true)
	got, err = s.TryLease(ctx, "other-job", "node-b", now.Add(time.Minute))
	ok(t, err, "other job")
	check(t, "leases are per job", got, true)

	// A release by a non-holder changes nothing; by the holder frees it.
	ok(t, s.ReleaseLease(ctx, "vxp-poll", "node-b"), "release by non-holder")
	got, err = s.TryLease(ctx, "vxp-poll", "node-b", now.Add(time.Minute))
	ok(t, err, "lease after foreign release")
	check(t, "still held by node-a", got, false)
	ok(t, s.ReleaseLease(ctx, "vxp-poll", "node-a"), "release by holder")
	got, err = s.TryLease(ctx, "vxp-poll", "node-b", now.Add(-time.Second))
	ok(t, err, "lease after release")
	check(t, "node-b after release", got, true)
	// node-b's lease ended already (until in the past): node-a takes over.
	got, err = s.TryLease(ctx, "vxp-poll", "node-a", now.Add(time.Minute))
	ok(t, err, "lease after expiry")
	check(t, "node-a after node-b's lease ended", got, true)
}

// testLeaseTwoNodes: two nodes race for a lease many times; each round
// exactly one wins.
func testLeaseTwoNodes(t *testing.T, s store.Store) {
	ctx := t.Context()
	for round := range 20 {
		job := fmt.Sprintf("job-%d", round)
		var wg sync.WaitGroup
		wins := make([]bool, 2)
		errs := make([]error, 2)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				wins[i], errs[i] = s.TryLease(ctx, job, fmt.Sprintf("node-%d", i), time.Now().Add(time.Minute))
			}()
		}
		wg.Wait()
		ok(t, errs[0], "node-0")
		ok(t, errs[1], "node-1")
		if wins[0] == wins[1] {
			t.Fatalf("round %d: wins = %v, want exactly one", round, wins)
		}
	}
}

func testLastRun(t *testing.T, s store.Store) {
	ctx := t.Context()
	got, err := s.LastRun(ctx, "never")
	ok(t, err, "last run of an unknown job")
	check(t, "unknown job", got, time.Time{})
	ok(t, s.SetLastRun(ctx, "vxp-poll", at(time.Hour)), "set last run")
	got, err = s.LastRun(ctx, "vxp-poll")
	ok(t, err, "last run")
	check(t, "last run", got, us(at(time.Hour)))
	// The lease and the last run share a row; one does not reset the other.
	lease, err := s.TryLease(ctx, "vxp-poll", "node-a", time.Now().Add(time.Minute))
	ok(t, err, "lease")
	check(t, "lease", lease, true)
	ok(t, s.SetLastRun(ctx, "vxp-poll", at(2*time.Hour)), "set last run again")
	got, err = s.LastRun(ctx, "vxp-poll")
	ok(t, err, "last run")
	check(t, "last run after lease", got, us(at(2*time.Hour)))
	lease, err = s.TryLease(ctx, "vxp-poll", "node-b", time.Now().Add(time.Minute))
	ok(t, err, "lease")
	check(t, "lease kept by SetLastRun", lease, false)
}

func testGatewayDocs(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := store.GatewayDoc{Gateway: "vxp", Direction: store.GatewayIn, DocID: "doc-1", Status: "pulling", CreatedAt: at(0)}
	got, created, err := s.ClaimGatewayDoc(ctx, d)
	ok(t, err, "claim")
	check(t, "created", created, true)
	check(t, "claimed", got, store.GatewayDoc{Gateway: "vxp", Direction: store.GatewayIn, DocID: "doc-1", Status: "pulling", CreatedAt: us(at(0)), UpdatedAt: us(at(0))})

	ok(t, s.UpdateGatewayDoc(ctx, store.GatewayDoc{Gateway: "vxp", Direction: store.GatewayIn, DocID: "doc-1", ExchangeID: "ex_1", Status: "delivered", Detail: `{"to":["000.00.01.H60"]}`, UpdatedAt: at(time.Minute)}), "update")
	again, created, err := s.ClaimGatewayDoc(ctx, store.GatewayDoc{Gateway: "vxp", Direction: store.GatewayIn, DocID: "doc-1", Status: "pulling", CreatedAt: at(time.Hour)})
	ok(t, err, "claim again")
	check(t, "created again", created, false)
	check(t, "existing row", again, store.GatewayDoc{Gateway: "vxp", Direction: store.GatewayIn, DocID: "doc-1", ExchangeID: "ex_1", Status: "delivered", Detail: `{"to":["000.00.01.H60"]}`, CreatedAt: us(at(0)), UpdatedAt: us(at(time.Minute))})
	one, err := s.GetGatewayDoc(ctx, "vxp", store.GatewayIn, "doc-1")
	ok(t, err, "get")
	check(t, "get", one, again)

	// The same id in the other direction or another gateway is another row.
	_, created, err = s.ClaimGatewayDoc(ctx, store.GatewayDoc{Gateway: "vxp", Direction: store.GatewayOut, DocID: "doc-1"})
	ok(t, err, "claim out")
	check(t, "other direction created", created, true)
	_, created, err = s.ClaimGatewayDoc(ctx, store.GatewayDoc{Gateway: "bkav", Direction: store.GatewayIn, DocID: "doc-1"})
	ok(t, err, "claim other gateway")
	check(t, "other gateway created", created, true)

	_, err = s.GetGatewayDoc(ctx, "vxp", store.GatewayIn, "nope")
	isCode(t, err, bus.ErrNotFound, "get unknown")
	err = s.UpdateGatewayDoc(ctx, store.GatewayDoc{Gateway: "vxp", Direction: store.GatewayIn, DocID: "nope", Status: "x"})
	isCode(t, err, bus.ErrNotFound, "update unknown")
	if _, _, err := s.ClaimGatewayDoc(ctx, store.GatewayDoc{Gateway: "vxp", Direction: "sideways", DocID: "d"}); err == nil {
		t.Fatal("claim with a bad direction succeeded")
	}
}

// testGatewayDocConcurrent: two nodes pull the same document at once; one
// claims it.
func testGatewayDocConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	for round := range 10 {
		id := fmt.Sprintf("doc-%d", round)
		var wg sync.WaitGroup
		created := make([]bool, 2)
		errs := make([]error, 2)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, created[i], errs[i] = s.ClaimGatewayDoc(ctx, store.GatewayDoc{Gateway: "vxp", Direction: store.GatewayIn, DocID: id, Status: fmt.Sprintf("node-%d", i)})
			}()
		}
		wg.Wait()
		ok(t, errs[0], "node-0")
		ok(t, errs[1], "node-1")
		if created[0] == created[1] {
			t.Fatalf("round %d: created = %v, want exactly one", round, created)
		}
	}
}

// testGatewayDocLongNamesPurge: the VXP endpoint names rows "vxpe/ref/" +
// a system code of up to 35 characters (44 in all; migration 0010 widens
// MySQL's column to 64), and purges its signature rows by age, one gateway
// name at a time.
func testGatewayDocLongNamesPurge(t *testing.T, s store.Store) {
	ctx := t.Context()
	code := strings.Repeat("a1.", 11) + "b1" // 35 characters, a valid dotted code
	if _, err := bus.ParseSystemCode(code); err != nil || len(code) != 35 {
		t.Fatalf("test code %q (%d): %v", code, len(code), err)
	}
	long := "vxpe/ref/" + code
	_, created, err := s.ClaimGatewayDoc(ctx, store.GatewayDoc{Gateway: long, Direction: store.GatewayIn, DocID: "id:doc-1", ExchangeID: "ex_1", Status: "received", CreatedAt: at(0)})
	ok(t, err, "claim with a 44-character gateway")
	check(t, "created", created, true)
	got, err := s.GetGatewayDoc(ctx, long, store.GatewayIn, "id:doc-1")
	ok(t, err, "get")
	check(t, "gateway kept whole", got.Gateway, long)
	_, err = s.GetGatewayDoc(ctx, long[:32], store.GatewayIn, "id:doc-1")
	isCode(t, err, bus.ErrNotFound, "a 32-character prefix is another gateway")

	for i, age := range []time.Duration{0, time.Minute, time.Hour} {
		_, _, err := s.ClaimGatewayDoc(ctx, store.GatewayDoc{Gateway: "vxpe/sig", Direction: store.GatewayIn, DocID: fmt.Sprint("sig-", i), CreatedAt: at(age)})
		ok(t, err, "claim signature")
	}
	n, err := s.PurgeGatewayDocs(ctx, "vxpe/sig", at(30*time.Minute))
	ok(t, err, "purge")
	check(t, "purged", n, int64(2))
	_, err = s.GetGatewayDoc(ctx, "vxpe/sig", store.GatewayIn, "sig-2")
	ok(t, err, "the young signature stays")
	_, err = s.GetGatewayDoc(ctx, long, store.GatewayIn, "id:doc-1")
	ok(t, err, "another gateway's old row stays")
}
