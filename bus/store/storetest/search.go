package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus/store"
)

// testSearchExchanges: the console's search (issue #12) — newest first
// across several sources, filtered by route, state and period, limited,
// without payload keys, policies or recipients; no source, nothing.
func testSearchExchanges(t *testing.T, s store.Store) {
	ctx := t.Context()
	mk := func(id, source, route, status string, created time.Time) {
		t.Helper()
		ok(t, s.CreateExchange(ctx, store.Exchange{ID: id, Source: source, Route: route, Status: status, DataType: "edoc", Policy: []byte(`{"x":1}`),
			WrappedKey: []byte("wrapped-" + id), CreatedAt: created, UpdatedAt: created, ExpiresAt: created.Add(time.Hour),
			Recipients: []store.Recipient{{Code: dstB}}}), "creating "+id)
	}
	for i := range 6 {
		route, status := "van-ban", store.ExchangeAccepted
		if i%2 == 1 {
			route, status = "bao-cao", store.ExchangeRequested
		}
		mk(fmt.Sprintf("ex_s%d", i), src, route, status, at(time.Duration(i)*time.Minute))
		mk(fmt.Sprintf("ex_a%d", i), dstA, route, status, at(time.Duration(i)*time.Minute+30*time.Second))
	}
	mk("ex_other", dstB, "van-ban", store.ExchangeAccepted, at(time.Hour))

	search := func(f store.ExchangeFilter) []string {
		t.Helper()
		got, err := s.SearchExchanges(ctx, f)
		ok(t, err, "searching exchanges")
		for _, e := range got {
			if e.WrappedKey != nil || e.Policy != nil || e.Recipients != nil {
				t.Fatalf("search returned more than metadata: %+v", e)
			}
		}
		return ids(got)
	}
	if got := search(store.ExchangeFilter{Sources: []string{src, dstA}, Limit: 3}); !slices.Equal(got, []string{"ex_a5", "ex_s5", "ex_a4"}) {
		t.Fatalf("newest 3 of two sources = %v", got)
	}
	if got := search(store.ExchangeFilter{Sources: []string{src}, Route: "bao-cao"}); !slices.Equal(got, []string{"ex_s5", "ex_s3", "ex_s1"}) {
		t.Fatalf("by route = %v", got)
	}
	if got := search(store.ExchangeFilter{Sources: []string{dstA}, Status: store.ExchangeAccepted, From: at(2 * time.Minute), To: at(5 * time.Minute)}); !slices.Equal(got, []string{"ex_a4", "ex_a2"}) {
		t.Fatalf("by state and period = %v", got)
	}
	if got := search(store.ExchangeFilter{Sources: []string{src, dstA}, Route: "nothing"}); len(got) != 0 {
		t.Fatalf("no match = %v", got)
	}
	if got := search(store.ExchangeFilter{}); len(got) != 0 {
		t.Fatalf("no source = %v", got)
	}
	if got := search(store.ExchangeFilter{Sources: []string{src, dstA, dstB}}); len(got) != 13 || got[0] != "ex_other" {
		t.Fatalf("every source = %v", got)
	}
}
