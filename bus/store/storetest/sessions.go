package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
)

// testSessions checks session keys, bearer tokens and the legacy token
// switch (issue #3, A1–A6).
func testSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	ok(t, s.CreateSystem(ctx, store.System{Code: src, Name: "nguồn"}), "creating system")

	s1 := store.Session{ID: "ss_1", KeyHash: "aa11", Source: src, AccessKey: "AK1", Service: "tra-cuu", Scope: "read",
		CreatedAt: at(0), ExpiresAt: at(15 * time.Minute)}
	ok(t, s.CreateSession(ctx, s1), "creating session")
	if err := s.CreateSession(ctx, store.Session{ID: "ss_2", KeyHash: "aa11", Source: src, CreatedAt: at(0), ExpiresAt: at(time.Minute)}); err == nil {
		t.Fatal("two sessions with one key hash were stored")
	}
	want := s1
	want.CreatedAt, want.ExpiresAt = us(s1.CreatedAt), us(s1.ExpiresAt)
	got, err := s.SessionByHash(ctx, "aa11")
	ok(t, err, "session by hash")
	check(t, "session by hash", got, want)
	got, err = s.GetSession(ctx, "ss_1")
	ok(t, err, "session by id")
	check(t, "session by id", got, want)
	_, err = s.SessionByHash(ctx, "AA11") // hashes compare exactly
	isCode(t, err, bus.ErrSessionInvalid, "hash in other case")
	_, err = s.GetSession(ctx, "ss_nope")
	isCode(t, err, bus.ErrSessionInvalid, "missing session")

	ok(t, s.RevokeSession(ctx, "ss_1", at(time.Minute)), "revoking session")
	ok(t, s.RevokeSession(ctx, "ss_1", at(2*time.Minute)), "revoking session again")
	got, _ = s.GetSession(ctx, "ss_1")
	check(t, "revoked session keeps the first time", got.RevokedAt, us(at(time.Minute)))
	isCode(t, s.RevokeSession(ctx, "ss_nope", at(0)), bus.ErrSessionInvalid, "revoking missing session")

	// Concurrent creation: every session is stored once.
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			errs <- s.CreateSession(ctx, store.Session{KeyHash: string(rune('a'+i)) + "-hash", Source: src, AccessKey: "AK1", Service: "x", Scope: "y", CreatedAt: at(0), ExpiresAt: at(time.Hour)})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		ok(t, err, "concurrent session")
	}

	tok := store.Token{Hash: "bb22", SystemCode: src, AccessKey: "AK1", CreatedAt: at(0), ExpiresAt: at(time.Hour)}
	ok(t, s.CreateToken(ctx, tok), "creating token")
	gt, err := s.TokenByHash(ctx, "bb22")
	ok(t, err, "token by hash")
	wt := tok
	wt.CreatedAt, wt.ExpiresAt = us(tok.CreatedAt), us(tok.ExpiresAt)
	check(t, "token", gt, wt)
	_, err = s.TokenByHash(ctx, "nope")
	isCode(t, err, bus.ErrTokenInvalid, "missing token")

	// Purge: s1 (expires at 15m) and the token (1h) go; the 16 sessions
	// that expire at 1h stay when purging before 30m.
	n, err := s.PurgeSessions(ctx, at(30*time.Minute))
	ok(t, err, "purging sessions")
	if n != 1 {
		t.Fatalf("PurgeSessions removed %d rows, want 1", n)
	}
	_, err = s.GetSession(ctx, "ss_1")
	isCode(t, err, bus.ErrSessionInvalid, "purged session")
	n, err = s.PurgeSessions(ctx, at(2*time.Hour))
	ok(t, err, "purging sessions")
	if n != 17 {
		t.Fatalf("PurgeSessions removed %d rows, want 17 (16 sessions and a token)", n)
	}
	_, err = s.TokenByHash(ctx, "bb22")
	isCode(t, err, bus.ErrTokenInvalid, "purged token")

	on, err := s.LegacyToken(ctx, src)
	ok(t, err, "reading legacy switch")
	if on {
		t.Fatal("legacy token is on by default")
	}
	ok(t, s.SetLegacyToken(ctx, src, true, at(0)), "switching legacy token on")
	ok(t, s.SetLegacyToken(ctx, src, true, at(time.Minute)), "switching legacy token on again")
	if on, err := s.LegacyToken(ctx, src); err != nil || !on {
		t.Fatalf("LegacyToken after on = %v, %v", on, err)
	}
	ok(t, s.SetLegacyToken(ctx, src, false, at(0)), "switching legacy token off")
	if on, err := s.LegacyToken(ctx, src); err != nil || on {
		t.Fatalf("LegacyToken after off = %v, %v", on, err)
	}
	isCode(t, s.SetLegacyToken(ctx, dstC, true, at(0)), bus.ErrSystemNotFound, "legacy token of a missing system")
}
