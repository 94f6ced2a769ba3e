package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
)

// accessTests cover store.AccessStore: algorithms per system, grants, the
// audit record of keys and rotation.
var accessTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"SystemAlgs", testSystemAlgs},
	{"Grants", testGrants},
	{"GrantConcurrent", testGrantConcurrent},
	{"KeyEvents", testKeyEvents},
	{"RotateKey", testRotateKey},
}

func runAccess(t *testing.T, open func(t *testing.T) store.Store) {
	for _, tc := range accessTests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func testSystemAlgs(t *testing.T, s store.Store) {
	ctx := t.Context()
	ok(t, s.CreateSystem(ctx, store.System{Code: src, Name: "a"}), "creating system")
	got, err := s.GetSystem(ctx, src)
	ok(t, err, "getting system")
	if got.Algs != nil {
		t.Fatalf("default Algs = %q, want nil (DefaultAlg only)", got.Algs)
	}
	ok(t, s.CreateSystem(ctx, store.System{Code: dstA, Name: "b", Algs: []string{"LGSP-RSA-SHA256"}}), "creating system with algs")
	got, err = s.GetSystem(ctx, dstA)
	ok(t, err, "getting system")
	check(t, "created algs", got.Algs, []string{"LGSP-RSA-SHA256"})

	ev := store.KeyEvent{At: at(time.Minute), System: src, Action: store.KeyEventAlgs, Actor: "cli:test", Detail: "LGSP-HMAC-SHA256,LGSP-HMAC-SHA1"}
	ok(t, s.SetSystemAlgs(ctx, src, []string{"LGSP-HMAC-SHA256", "LGSP-HMAC-SHA1"}, ev), "setting algs")
	got, err = s.GetSystem(ctx, src)
	ok(t, err, "getting system")
	check(t, "algs", got.Algs, []string{"LGSP-HMAC-SHA256", "LGSP-HMAC-SHA1"})
	list, err := s.ListSystems(ctx)
	ok(t, err, "listing systems")
	check(t, "listed algs", list[0].Algs, []string{"LGSP-HMAC-SHA256", "LGSP-HMAC-SHA1"})

	// UpdateSystem leaves the algorithms alone.
	got.Name, got.Algs = "renamed", nil
	ok(t, s.UpdateSystem(ctx, got), "updating system")
	got, err = s.GetSystem(ctx, src)
	ok(t, err, "getting system")
	check(t, "algs after update", got.Algs, []string{"LGSP-HMAC-SHA256", "LGSP-HMAC-SHA1"})

	// Back to the default.
	ok(t, s.SetSystemAlgs(ctx, src, []string{store.DefaultAlg}), "resetting algs")
	got, err = s.GetSystem(ctx, src)
	ok(t, err, "getting system")
	if got.Algs != nil {
		t.Fatalf("reset Algs = %q, want nil", got.Algs)
	}
	isCode(t, s.SetSystemAlgs(ctx, "000.00.99.H60", nil), bus.ErrSystemNotFound, "algs of a missing system")

	evs, err := s.KeyEvents(ctx, src, 0)
	ok(t, err, "reading key events")
	if len(evs) != 1 {
		t.Fatalf("key events = %+v, want the one written with SetSystemAlgs", evs)
	}
	ev.ID = evs[0].ID
	ev.At = us(ev.At)
	check(t, "algs event", evs[0], ev)
}

func testGrants(t *testing.T, s store.Store) {
	ctx := t.Context()
	g1 := store.Grant{ID: "gr_1", Kind: store.GrantExchange, Source: src, Destination: "000.00.*.H60", DataType: "edoc", CreatedAt: at(0), CreatedBy: "cli:ánh"}
	got, err := s.CreateGrant(ctx, g1)
	ok(t, err, "creating grant")
	want := g1
	want.CreatedAt = us(g1.CreatedAt)
	check(t, "created grant", got, want)

	// The same grant again gives the one in force.
	dup := g1
	dup.ID, dup.CreatedAt, dup.CreatedBy = "gr_dup", at(time.Minute), "admin-api"
	got, err = s.CreateGrant(ctx, dup)
	ok(t, err, "creating the same grant")
	check(t, "same grant", got, want)

	g2 := store.Grant{ID: "gr_2", Kind: store.GrantService, Source: "000.00.*.H60", Service: "tra-cuu-ho-so", Scope: "read", CreatedAt: at(2 * time.Second), CreatedBy: "admin-api"}
	_, err = s.CreateGrant(ctx, g2)
	ok(t, err, "creating service grant")
	g3 := store.Grant{ID: "gr_3", Kind: store.GrantExchange, Source: src, Destination: dstA, DataType: "*", CreatedAt: at(3 * time.Second), CreatedBy: "admin-api"}
	_, err = s.CreateGrant(ctx, g3)
	ok(t, err, "creating grant 3")
	w2, w3 := g2, g3
	w2.CreatedAt, w3.CreatedAt = us(g2.CreatedAt), us(g3.CreatedAt)

	all, err := s.ListGrants(ctx, store.GrantFilter{})
	ok(t, err, "listing grants")
	check(t, "all grants", all, []store.Grant{want, w2, w3})
	ex, err := s.ListGrants(ctx, store.GrantFilter{Kind: store.GrantExchange})
	ok(t, err, "listing exchange grants")
	check(t, "exchange grants", ex, []store.Grant{want, w3})
	bySrc, err := s.ListGrants(ctx, store.GrantFilter{Source: "000.00.*.H60"})
	ok(t, err, "listing grants of a pattern")
	check(t, "grants of a pattern", bySrc, []store.Grant{w2})

	ok(t, s.RevokeGrant(ctx, "gr_1", at(time.Hour), "cli:bình"), "revoking grant")
	ok(t, s.RevokeGrant(ctx, "gr_1", at(2*time.Hour), "admin-api"), "revoking again")
	isCode(t, s.RevokeGrant(ctx, "gr_missing", at(time.Hour), "x"), bus.ErrGrantNotFound, "revoking a missing grant")
	active, err := s.ListGrants(ctx, store.GrantFilter{Kind: store.GrantExchange})
	ok(t, err, "listing active grants")
	check(t, "active grants", active, []store.Grant{w3})
	withRevoked, err := s.ListGrants(ctx, store.GrantFilter{Kind: store.GrantExchange, Revoked: true})
	ok(t, err, "listing with revoked")
	revoked := want
	revoked.RevokedAt, revoked.RevokedBy = us(at(time.Hour)), "cli:bình"
	check(t, "with revoked", withRevoked, []store.Grant{revoked, w3})

	// Once revoked, the same grant can be given again, under a new id.
	again := g1
	again.ID, again.CreatedAt = "gr_4", at(3*time.Hour)
	got, err = s.CreateGrant(ctx, again)
	ok(t, err, "granting again")
	if got.ID != "gr_4" || !got.Active() {
		t.Fatalf("granting again = %+v, want the new grant gr_4", got)
	}
}

// testGrantConcurrent adds the same grant from many goroutines: exactly one
// is stored, and every caller gets it.
func testGrantConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 8
	var wg sync.WaitGroup
	ids := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g, err := s.CreateGrant(ctx, store.Grant{ID: fmt.Sprintf("gr_c%d", i), Kind: store.GrantExchange, Source: src, Destination: dstA, DataType: "edoc", CreatedAt: at(time.Duration(i)), CreatedBy: "t"})
			ids[i], errs[i] = g.ID, err
		}()
	}
	wg.Wait()
	for i := range n {
		ok(t, errs[i], "creating grant concurrently")
		if ids[i] != ids[0] {
			t.Fatalf("callers got different grants: %q", ids)
		}
	}
	all, err := s.ListGrants(ctx, store.GrantFilter{})
	ok(t, err, "listing grants")
	if len(all) != 1 {
		t.Fatalf("%d grants stored, want 1: %+v", len(all), all)
	}
}

func testKeyEvents(t *testing.T, s store.Store) {
	ctx := t.Context()
	ok(t, s.AddKeyEvents(ctx), "adding no events")
	var want []store.KeyEvent
	for i, a := range []string{store.KeyEventIssued, store.KeyEventLocked, store.KeyEventRevoked} {
		e := store.KeyEvent{At: at(time.Duration(i) * time.Minute), AccessKey: "AK1", System: src, Action: a, Actor: "cli:ánh", Detail: fmt.Sprintf("step %d", i)}
		ok(t, s.AddKeyEvents(ctx, e), "adding key event")
		e.At = us(e.At)
		want = append(want, e)
	}
	ok(t, s.AddKeyEvents(ctx, store.KeyEvent{At: at(time.Hour), AccessKey: "AK2", System: dstA, Action: store.KeyEventIssued, Actor: "admin-api"}), "adding other system's event")
	got, err := s.KeyEvents(ctx, src, 0)
	ok(t, err, "reading key events")
	if len(got) != 3 {
		t.Fatalf("got %d events, want 3: %+v", len(got), got)
	}
	for i := range got {
		if i > 0 && got[i].ID <= got[i-1].ID {
			t.Fatalf("events not in order: %+v", got)
		}
		want[i].ID = got[i].ID
	}
	check(t, "key events", got, want)
	// A limit keeps the newest, still oldest first.
	last, err := s.KeyEvents(ctx, src, 2)
	ok(t, err, "reading the last events")
	check(t, "last events", last, want[1:])
	all, err := s.KeyEvents(ctx, "", 0)
	ok(t, err, "reading all events")
	if len(all) != 4 || all[3].AccessKey != "AK2" {
		t.Fatalf("all events = %+v", all)
	}
}

func testRotateKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	ok(t, s.CreateSystem(ctx, store.System{Code: src, Name: "a"}), "creating system")
	ok(t, s.CreateSystem(ctx, store.System{Code: dstA, Name: "b"}), "creating system")
	old := store.Key{AccessKey: "AKOLD", SystemCode: src, Alg: store.DefaultAlg, Kind: store.KeyShared, SecretEnc: []byte("sealed-old"), Status: store.KeyActive, CreatedAt: at(0)}
	ok(t, s.CreateKey(ctx, old), "creating key")
	nk := store.Key{AccessKey: "AKNEW", SystemCode: src, Alg: store.DefaultAlg, Kind: store.KeyShared, SecretEnc: []byte("sealed-new"), Status: store.KeyActive, CreatedAt: at(time.Hour)}
	evs := []store.KeyEvent{
		{At: at(time.Hour), AccessKey: "AKOLD", System: src, Action: store.KeyEventRotated, Actor: "cli:t", Detail: "new key AKNEW"},
		{At: at(time.Hour), AccessKey: "AKNEW", System: src, Action: store.KeyEventIssued, Actor: "cli:t"},
	}
	ok(t, s.RotateKey(ctx, store.Rotation{Old: "AKOLD", New: nk, OldExpires: at(73 * time.Hour), Events: evs}), "rotating")
	gotOld, err := s.GetKey(ctx, "AKOLD")
	ok(t, err, "getting old key")
	wantOld := old
	wantOld.CreatedAt, wantOld.ExpiresAt = us(old.CreatedAt), us(at(73*time.Hour))
	check(t, "old key", gotOld, wantOld)
	gotNew, err := s.GetKey(ctx, "AKNEW")
	ok(t, err, "getting new key")
	wantNew := nk
	wantNew.CreatedAt = us(nk.CreatedAt)
	check(t, "new key", gotNew, wantNew)
	got, err := s.KeyEvents(ctx, src, 0)
	ok(t, err, "reading events")
	if len(got) != 2 || got[0].Action != store.KeyEventRotated || got[1].Action != store.KeyEventIssued {
		t.Fatalf("events = %+v", got)
	}

	// A second rotation never extends the old key's life.
	nk2 := nk
	nk2.AccessKey, nk2.CreatedAt = "AKNEW2", at(2*time.Hour)
	ok(t, s.RotateKey(ctx, store.Rotation{Old: "AKOLD", New: nk2, OldExpires: at(1000 * time.Hour)}), "rotating again")
	gotOld, err = s.GetKey(ctx, "AKOLD")
	ok(t, err, "getting old key")
	check(t, "old key's expiry", gotOld.ExpiresAt, us(at(73*time.Hour)))

	// Refusals change nothing.
	bad := nk
	bad.AccessKey = "AKBAD"
	isCode(t, s.RotateKey(ctx, store.Rotation{Old: "AKMISSING", New: bad, OldExpires: at(100 * time.Hour)}), bus.ErrKeyNotFound, "rotating a missing key")
	other := bad
	other.SystemCode = dstA
	isCode(t, s.RotateKey(ctx, store.Rotation{Old: "AKNEW", New: other, OldExpires: at(100 * time.Hour)}), bus.ErrBadRequest, "rotating into another system")
	late := bad
	late.CreatedAt = at(80 * time.Hour)
	isCode(t, s.RotateKey(ctx, store.Rotation{Old: "AKOLD", New: late, OldExpires: at(100 * time.Hour)}), bus.ErrBadRequest, "rotating an expired key")
	ok(t, s.RevokeKey(ctx, "AKNEW", at(3*time.Hour)), "revoking")
	isCode(t, s.RotateKey(ctx, store.Rotation{Old: "AKNEW", New: bad, OldExpires: at(100 * time.Hour)}), bus.ErrBadRequest, "rotating a revoked key")
	if _, err := s.GetKey(ctx, "AKBAD"); !isErr(err, bus.ErrKeyNotFound) {
		t.Fatalf("a refused rotation stored its new key: %v", err)
	}
}

func isErr(err error, def *bus.ErrorDef) bool {
	e := bus.AsError(err)
	return e != nil && e.Def.Code == def.Code
}
