package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
)

// testSSO checks the single sign-on records (issue #12, bus/sso): put
// replaces, expired records are invisible, a taken record is gone, lists
// by kind and subject, deletion by subject and client, purge.
func testSSO(t *testing.T, s store.Store) {
	ctx := t.Context()
	put := func(r store.SSORecord) {
		t.Helper()
		ok(t, s.PutSSO(ctx, r), "putting "+r.Kind+" "+r.ID)
	}
	put(store.SSORecord{Kind: "client", ID: "app-a", Data: []byte(`{"v":1}`), CreatedAt: at(0)})
	put(store.SSORecord{Kind: "client", ID: "app-a", Data: []byte(`{"v":2}`), CreatedAt: at(0)})
	got, err := s.GetSSO(ctx, "client", "app-a", at(time.Hour))
	ok(t, err, "getting client")
	check(t, "replaced client", got, store.SSORecord{Kind: "client", ID: "app-a", Data: []byte(`{"v":2}`), CreatedAt: us(at(0))})
	_, err = s.GetSSO(ctx, "client", "app-b", at(0))
	isCode(t, err, bus.ErrSSONotFound, "missing client")
	_, err = s.GetSSO(ctx, "code", "app-a", at(0))
	isCode(t, err, bus.ErrSSONotFound, "same id, other kind")

	put(store.SSORecord{Kind: "refresh", ID: "r1", Subject: "7", Client: "app-a", Data: []byte("x"), CreatedAt: at(1), ExpiresAt: at(time.Hour)})
	put(store.SSORecord{Kind: "refresh", ID: "r2", Subject: "7", Client: "app-b", Data: []byte("x"), CreatedAt: at(2), ExpiresAt: at(time.Hour)})
	put(store.SSORecord{Kind: "refresh", ID: "r3", Subject: "8", Client: "app-a", Data: []byte("x"), CreatedAt: at(3), ExpiresAt: at(time.Minute)})
	_, err = s.GetSSO(ctx, "refresh", "r3", at(time.Minute))
	isCode(t, err, bus.ErrSSONotFound, "expired record")
	list, err := s.ListSSO(ctx, "refresh", "", at(0))
	ok(t, err, "listing")
	if len(list) != 3 || list[0].ID != "r1" || list[2].ID != "r3" {
		t.Fatalf("list %+v", list)
	}
	list, err = s.ListSSO(ctx, "refresh", "", at(2*time.Minute))
	ok(t, err, "listing later")
	if len(list) != 2 {
		t.Fatalf("expired record listed: %+v", list)
	}
	list, err = s.ListSSO(ctx, "refresh", "7", at(0))
	ok(t, err, "listing a subject's")
	if len(list) != 2 || list[0].Subject != "7" || list[1].Subject != "7" {
		t.Fatalf("subject list %+v", list)
	}

	taken, err := s.TakeSSO(ctx, "refresh", "r1", at(0))
	ok(t, err, "taking")
	if taken.Client != "app-a" || taken.Subject != "7" {
		t.Fatalf("taken %+v", taken)
	}
	_, err = s.TakeSSO(ctx, "refresh", "r1", at(0))
	isCode(t, err, bus.ErrSSONotFound, "taking twice")
	_, err = s.TakeSSO(ctx, "refresh", "r3", at(time.Hour))
	isCode(t, err, bus.ErrSSONotFound, "taking an expired record")

	n, err := s.DeleteSSOSubject(ctx, "refresh", "7", "app-a")
	ok(t, err, "deleting by subject and client")
	if n != 0 {
		t.Fatalf("deleted %d, want 0 (r1 was taken)", n)
	}
	n, err = s.DeleteSSOSubject(ctx, "refresh", "7", "")
	ok(t, err, "deleting by subject")
	if n != 1 {
		t.Fatalf("deleted %d, want 1", n)
	}
	deleted, err := s.DeleteSSO(ctx, "client", "app-a")
	ok(t, err, "deleting")
	if !deleted {
		t.Fatal("client not deleted")
	}
	if deleted, _ = s.DeleteSSO(ctx, "client", "app-a"); deleted {
		t.Fatal("deleted twice")
	}
	put(store.SSORecord{Kind: "key", ID: "k1", Data: []byte("sealed"), CreatedAt: at(0)}) // never expires
	n, err = s.PurgeSSO(ctx, at(2*time.Hour))
	ok(t, err, "purging")
	if n != 1 { // r3 (and r1, r2 are gone already)
		t.Fatalf("purged %d, want 1", n)
	}
	if _, err := s.GetSSO(ctx, "key", "k1", at(1000*time.Hour)); err != nil {
		t.Fatalf("a record without expiry was purged: %v", err)
	}
}

// testSSOTakeConcurrent: of many callers taking the same authorization
// code at once, exactly one gets it.
func testSSOTakeConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	ok(t, s.PutSSO(ctx, store.SSORecord{Kind: "code", ID: "c1", Data: []byte("ar_1"), CreatedAt: at(0), ExpiresAt: at(time.Minute)}), "putting code")
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.TakeSSO(ctx, "code", "c1", at(0)); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d callers took the same code", wins)
	}
}
