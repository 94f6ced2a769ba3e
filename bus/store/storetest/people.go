package storetest

import (
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
)

// testPeople checks people, console sessions and login locks (issue #12).
func testPeople(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := store.Person{Login: "nguyen.van.a", Name: "Nguyễn Văn A", Email: "a@tuyenquang.gov.vn", PersonalID: "001099012345",
		Unit: "Sở Tư pháp", Roles: []string{"operator", "auditor"}, PasswordHash: "$argon2id$x", CreatedAt: at(0), UpdatedAt: at(0)}
	id, err := s.CreatePerson(ctx, p)
	ok(t, err, "creating person")
	if id <= 0 {
		t.Fatalf("person id %d", id)
	}
	want := p
	want.ID, want.CreatedAt, want.UpdatedAt = id, us(p.CreatedAt), us(p.UpdatedAt)
	got, err := s.GetPerson(ctx, id)
	ok(t, err, "getting person")
	check(t, "person by id", got, want)
	got, err = s.PersonByLogin(ctx, "nguyen.van.a")
	ok(t, err, "person by login")
	check(t, "person by login", got, want)
	_, err = s.PersonByLogin(ctx, "NGUYEN.VAN.A") // logins compare exactly (the caller lower-cases)
	isCode(t, err, bus.ErrPersonNotFound, "login in other case")
	_, err = s.GetPerson(ctx, id+100)
	isCode(t, err, bus.ErrPersonNotFound, "missing person")

	// Login, e-mail and personal id are each one account's.
	for name, dup := range map[string]store.Person{
		"login":       {Login: "nguyen.van.a", Name: "x"},
		"email":       {Login: "b", Email: "a@tuyenquang.gov.vn"},
		"personal id": {Login: "c", PersonalID: "001099012345"},
	} {
		_, err := s.CreatePerson(ctx, dup)
		isCode(t, err, bus.ErrPersonExists, "duplicate "+name)
	}
	id2, err := s.CreatePerson(ctx, store.Person{Login: "tran.thi.b", Name: "Trần Thị B", Roles: []string{"admin"}, CreatedAt: at(time.Second)})
	ok(t, err, "second person without e-mail")
	_, err = s.CreatePerson(ctx, store.Person{Login: "le.van.c", Name: "Lê Văn C"})
	ok(t, err, "third person without e-mail (empty values are not unique)")

	list, err := s.ListPeople(ctx)
	ok(t, err, "listing")
	if len(list) != 3 || list[0].Login != "le.van.c" || list[2].Login != "tran.thi.b" {
		t.Fatalf("list %v", list)
	}
	byEmail, err := s.PeopleByClaim(ctx, "email", "a@tuyenquang.gov.vn")
	ok(t, err, "by email")
	byPID, err := s.PeopleByClaim(ctx, "personal_id", "001099012345")
	ok(t, err, "by personal id")
	if len(byEmail) != 1 || byEmail[0].ID != id || len(byPID) != 1 || byPID[0].ID != id {
		t.Fatalf("by claim: %v %v", byEmail, byPID)
	}
	none, err := s.PeopleByClaim(ctx, "email", "")
	ok(t, err, "by empty email")
	if len(none) != 0 {
		t.Fatalf("an empty claim matched %d people", len(none))
	}
	if _, err := s.PeopleByClaim(ctx, "login", "x"); err == nil {
		t.Fatal("an unknown claim column was accepted")
	}

	upd := got
	upd.Name, upd.Unit, upd.Roles, upd.Disabled, upd.UpdatedAt = "Nguyễn Văn Á", "Sở Y tế", []string{"operator"}, true, at(time.Hour)
	ok(t, s.UpdatePerson(ctx, upd), "updating")
	got, _ = s.GetPerson(ctx, id)
	if got.Name != "Nguyễn Văn Á" || got.Unit != "Sở Y tế" || len(got.Roles) != 1 || !got.Disabled || !got.UpdatedAt.Equal(us(at(time.Hour))) || got.PasswordHash != "$argon2id$x" {
		t.Fatalf("after update %+v", got)
	}
	clash := got
	clash.ID = id2
	isCode(t, s.UpdatePerson(ctx, clash), bus.ErrPersonExists, "update to another's e-mail")
	isCode(t, s.UpdatePerson(ctx, store.Person{ID: id + 100}), bus.ErrPersonNotFound, "update missing")

	ok(t, s.SetPassword(ctx, id, "$argon2id$y", at(2*time.Hour)), "password")
	isCode(t, s.SetPassword(ctx, id+100, "h", at(0)), bus.ErrPersonNotFound, "password of missing")
	ok(t, s.SetTOTP(ctx, id, []byte{1, 2, 3}, at(2*time.Hour)), "totp")
	got, _ = s.GetPerson(ctx, id)
	if got.PasswordHash != "$argon2id$y" || string(got.TOTPSecret) != "\x01\x02\x03" || got.TOTPLast != 0 {
		t.Fatalf("after password and totp %+v", got)
	}
	fresh, err := s.UseTOTPStep(ctx, id, 100)
	ok(t, err, "totp step")
	again, _ := s.UseTOTPStep(ctx, id, 100)
	older, _ := s.UseTOTPStep(ctx, id, 99)
	newer, _ := s.UseTOTPStep(ctx, id, 101)
	if !fresh || again || older || !newer {
		t.Fatalf("totp steps: fresh %v again %v older %v newer %v", fresh, again, older, newer)
	}
	ok(t, s.SetTOTP(ctx, id, nil, at(3*time.Hour)), "removing totp")
	got, _ = s.GetPerson(ctx, id)
	if got.TOTPSecret != nil || got.TOTPLast != 0 {
		t.Fatalf("after removing totp %+v", got)
	}

	// Sessions.
	cs := store.ConsoleSession{TokenHash: "cc33", PersonID: id, CreatedAt: at(0), SeenAt: at(time.Minute), Remote: "10.0.0.1", Via: "password"}
	ok(t, s.CreateConsoleSession(ctx, cs), "session")
	ok(t, s.CreateConsoleSession(ctx, store.ConsoleSession{TokenHash: "dd44", PersonID: id, CreatedAt: at(0), Via: "password"}), "second session")
	ok(t, s.CreateConsoleSession(ctx, store.ConsoleSession{TokenHash: "ee55", PersonID: id2, CreatedAt: at(time.Hour), Via: "oidc:vneid"}), "other's session")
	if err := s.CreateConsoleSession(ctx, cs); err == nil {
		t.Fatal("two sessions with one token hash")
	}
	gs, err := s.ConsoleSessionByHash(ctx, "cc33")
	ok(t, err, "session by hash")
	wcs := cs
	wcs.CreatedAt, wcs.SeenAt = us(cs.CreatedAt), us(cs.SeenAt)
	check(t, "session", gs, wcs)
	_, err = s.ConsoleSessionByHash(ctx, "CC33")
	isCode(t, err, bus.ErrNotLoggedIn, "hash in other case")
	ok(t, s.TouchConsoleSession(ctx, "cc33", at(10*time.Minute)), "touch")
	ok(t, s.TouchConsoleSession(ctx, "cc33", at(5*time.Minute)), "touch back in time")
	gs, _ = s.ConsoleSessionByHash(ctx, "cc33")
	check(t, "seen moves forward only", gs.SeenAt, us(at(10*time.Minute)))
	ok(t, s.DeleteConsoleSession(ctx, "cc33"), "delete")
	ok(t, s.DeleteConsoleSession(ctx, "cc33"), "delete again")
	_, err = s.ConsoleSessionByHash(ctx, "cc33")
	isCode(t, err, bus.ErrNotLoggedIn, "deleted session")
	n, err := s.DeletePersonSessions(ctx, id)
	ok(t, err, "delete person's sessions")
	check(t, "deleted sessions", n, int64(1))
	n, err = s.PurgeConsoleSessions(ctx, at(30*time.Minute), at(0))
	ok(t, err, "purge")
	check(t, "purged nothing young", n, int64(0))
	n, _ = s.PurgeConsoleSessions(ctx, at(2*time.Hour), at(0))
	check(t, "purged the old", n, int64(1))

	// Login locks.
	l, err := s.GetLoginLock(ctx, "login:x")
	ok(t, err, "missing lock")
	check(t, "missing lock", l, store.LoginLock{Key: "login:x"})
	lk := store.LoginLock{Key: "addr:10.0.0.1", Failures: 3, FirstAt: at(0), LastAt: at(time.Minute), LockedUntil: at(2 * time.Minute)}
	ok(t, s.PutLoginLock(ctx, lk), "lock")
	lk.Failures = 4
	ok(t, s.PutLoginLock(ctx, lk), "lock replaced")
	l, _ = s.GetLoginLock(ctx, "addr:10.0.0.1")
	check(t, "lock", l, store.LoginLock{Key: lk.Key, Failures: 4, FirstAt: us(lk.FirstAt), LastAt: us(lk.LastAt), LockedUntil: us(lk.LockedUntil)})
	ok(t, s.DeleteLoginLock(ctx, lk.Key), "unlock")
	ok(t, s.DeleteLoginLock(ctx, lk.Key), "unlock again")
	l, _ = s.GetLoginLock(ctx, lk.Key)
	check(t, "unlocked", l.Failures, 0)

	// Purge: old rows whose lock has ended go; a recent one and one still
	// locked stay.
	ok(t, s.PutLoginLock(ctx, store.LoginLock{Key: "login:old", Failures: 1, FirstAt: at(0), LastAt: at(time.Minute)}), "old lock")
	ok(t, s.PutLoginLock(ctx, store.LoginLock{Key: "login:locked", Failures: 9, FirstAt: at(0), LastAt: at(time.Minute), LockedUntil: at(3 * time.Hour)}), "long lock")
	ok(t, s.PutLoginLock(ctx, store.LoginLock{Key: "login:new", Failures: 1, FirstAt: at(time.Hour), LastAt: at(2 * time.Hour)}), "recent lock")
	n, err = s.PurgeLoginLocks(ctx, at(time.Hour))
	ok(t, err, "purging locks")
	check(t, "purged locks", n, int64(1))
	for key, want := range map[string]int{"login:old": 0, "login:locked": 9, "login:new": 1} {
		l, _ := s.GetLoginLock(ctx, key)
		check(t, "after purge "+key, l.Failures, want)
	}
}
