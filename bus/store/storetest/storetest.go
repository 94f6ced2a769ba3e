// Package storetest is the conformance suite of store.Store: every
// implementation runs it (store's own tests run it on SQLite and on a real
// MariaDB).
package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
)

// Planter writes a chunk past the Store interface (which only ever writes
// below Received): the stray an older version or a crash between writes
// leaves behind. The stray-chunk and purge tests need one.
type Planter func(t testing.TB, s store.Store, c store.Chunk)

// Run runs the suite. open returns a fresh, empty store for each subtest
// and closes it (and drops what it created) at the test's cleanup; plant
// writes stray chunks into such a store.
func Run(t *testing.T, open func(t *testing.T) store.Store, plant Planter) {
	if plant == nil {
		t.Fatal("storetest.Run needs a Planter")
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Dialect", testDialect},
		{"Systems", testSystems},
		{"Keys", testKeys},
		{"Nonces", testNonces},
		{"NonceConcurrent", testNonceConcurrent},
		{"Connections", testConnections},
		{"CreateGetExchange", testCreateGetExchange},
		{"ListSent", testListSent},
		{"SearchExchanges", testSearchExchanges},
		{"Upload", func(t *testing.T, s store.Store) { testUpload(t, s, plant) }},
		{"AppendChunkConcurrent", testAppendConcurrent},
		{"AppendChunk", testAppendChunk},
		{"DeleteStrayChunks", func(t *testing.T, s store.Store) { testDeleteStrayChunks(t, s, plant) }},
		{"Settled", testSettled},
		{"ReplaceContent", testReplaceContent},
		{"Accept", testAccept},
		{"SubmitExchange", testSubmitExchange},
		{"ClaimDue", testClaimDue},
		{"ClaimDueConcurrent", testClaimDueConcurrent},
		{"ClaimDueWebhooks", testClaimDueWebhooks},
		{"Transition", testTransition},
		{"Inbox", testInbox},
		{"Purge", func(t *testing.T, s store.Store) { testPurge(t, s, plant) }},
		{"Expired", testExpired},
		{"Events", testEvents},
		{"Outbox", testOutbox},
		{"ClaimDeliveriesConcurrent", testClaimDeliveriesConcurrent},
		{"OutboxFencing", testOutboxFencing},
		{"OutboxIsolation", testOutboxIsolation},
		{"DeadLetters", testDeadLetters},
		{"Sessions", testSessions},
		{"People", testPeople},
		{"SSO", testSSO},
		{"SSOTakeConcurrent", testSSOTakeConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
	t.Run("Access", func(t *testing.T) { runAccess(t, open) })
	t.Run("Gateway", func(t *testing.T) { runGateway(t, open) })
	t.Run("Organs", func(t *testing.T) { runOrgans(t, open) })
	t.Run("Meta", func(t *testing.T) { runMeta(t, open) })
	t.Run("Stats", func(t *testing.T) { runStats(t, open) })
}

// t0 has nanoseconds and a non-UTC zone: the store keeps microseconds and
// returns UTC.
var (
	ict = time.FixedZone("ICT", 7*3600)
	t0  = time.Date(2025, 3, 14, 9, 26, 53, 123456789, ict)
)

func at(d time.Duration) time.Time { return t0.Add(d) }

// us is what the store gives back for t.
func us(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Truncate(time.Microsecond).UTC()
}

// diff compares got and want deeply: times by instant (got must be UTC or
// zero), byte slices by content (nil equals empty). It returns "" when equal.
func diff(got, want any) string {
	return diffValue("", reflect.ValueOf(got), reflect.ValueOf(want))
}

var timeType = reflect.TypeFor[time.Time]()

func diffValue(path string, g, w reflect.Value) string {
	if g.Type() != w.Type() {
		return fmt.Sprintf("%s: type %s, want %s", path, g.Type(), w.Type())
	}
	if g.Type() == timeType {
		gt, wt := g.Interface().(time.Time), w.Interface().(time.Time)
		if !gt.Equal(wt) {
			return fmt.Sprintf("%s: %s, want %s", path, gt.Format(time.RFC3339Nano), wt.Format(time.RFC3339Nano))
		}
		if !gt.IsZero() && gt.Location() != time.UTC {
			return fmt.Sprintf("%s: location %s, want UTC", path, gt.Location())
		}
		return ""
	}
	switch g.Kind() {
	case reflect.Struct:
		for i := range g.NumField() {
			if d := diffValue(path+"."+g.Type().Field(i).Name, g.Field(i), w.Field(i)); d != "" {
				return d
			}
		}
		return ""
	case reflect.Slice:
		if g.Type().Elem().Kind() == reflect.Uint8 {
			if !bytes.Equal(g.Bytes(), w.Bytes()) {
				return fmt.Sprintf("%s: %q, want %q", path, g.Bytes(), w.Bytes())
			}
			return ""
		}
		if g.Len() != w.Len() {
			return fmt.Sprintf("%s: %d elements, want %d", path, g.Len(), w.Len())
		}
		for i := range g.Len() {
			if d := diffValue(fmt.Sprintf("%s[%d]", path, i), g.Index(i), w.Index(i)); d != "" {
				return d
			}
		}
		return ""
	case reflect.Map:
		if g.Len() != w.Len() {
			return fmt.Sprintf("%s: %d entries, want %d", path, g.Len(), w.Len())
		}
		for _, k := range w.MapKeys() {
			gv := g.MapIndex(k)
			if !gv.IsValid() {
				return fmt.Sprintf("%s[%v]: missing", path, k)
			}
			if d := diffValue(fmt.Sprintf("%s[%v]", path, k), gv, w.MapIndex(k)); d != "" {
				return d
			}
		}
		return ""
	}
	if !reflect.DeepEqual(g.Interface(), w.Interface()) {
		return fmt.Sprintf("%s: %#v, want %#v", path, g.Interface(), w.Interface())
	}
	return ""
}

func check(t *testing.T, what string, got, want any) {
	t.Helper()
	if d := diff(got, want); d != "" {
		t.Fatalf("%s: %s", what, d)
	}
}

func ok(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// isCode fails unless err carries the catalogue error def.
func isCode(t *testing.T, err error, def *bus.ErrorDef, what string) {
	t.Helper()
	if !errors.Is(err, def.Err()) {
		t.Fatalf("%s: got %v, want %s", what, err, def.Code)
	}
}

const (
	src  = "000.00.01.H60"
	dstA = "000.00.02.H60"
	dstB = "000.00.03.H60"
	dstC = "000.00.04.H60"
)

// newExchange stores a requested exchange with the given recipients.
func newExchange(t *testing.T, s store.Store, id string, created time.Time, codes ...string) store.Exchange {
	t.Helper()
	e := store.Exchange{
		ID: id, Source: src, Title: "Công văn số 12/UBND", Importance: "normal", DataType: "edoc",
		Protocol: "rest", MediaType: "application/xml", Status: store.ExchangeRequested,
		MaxBytes: 1 << 20, SHA256: "", WrappedKey: []byte("wrapped-" + id),
		CreatedAt: created, UpdatedAt: created, ExpiresAt: created.Add(24 * time.Hour),
	}
	for _, c := range codes {
		e.Recipients = append(e.Recipients, store.Recipient{ExchangeID: id, Code: c, Status: store.RecipientPending})
	}
	ok(t, s.CreateExchange(t.Context(), e, store.Event{Kind: "requested", Actor: src, Node: "n1"}), "creating "+id)
	return e
}

// upload appends data as chunks of n bytes at from.
func upload(t *testing.T, s store.Store, id string, from int64, data []byte, n int) {
	t.Helper()
	for off := 0; off < len(data); off += n {
		end := min(off+n, len(data))
		ok(t, s.AppendChunk(t.Context(), store.Chunk{ExchangeID: id, Offset: from + int64(off), Size: int64(end - off), Data: data[off:end]}), "appending chunk")
	}
}

// accept uploads nothing more and plans every recipient at due (or the
// map's times).
func accept(t *testing.T, s store.Store, id string, when time.Time, due map[string]time.Time) {
	t.Helper()
	ok(t, s.AcceptExchange(t.Context(), store.Accept{ExchangeID: id, Size: 0, SHA256: "e3b0", Route: "r1", At: when, DueAt: due}), "accepting "+id)
}

func testDialect(t *testing.T, s store.Store) {
	if d := s.Dialect(); d != "sqlite" && d != "mysql" {
		t.Fatalf("Dialect() = %q", d)
	}
	ok(t, s.Ping(t.Context()), "ping")
}

func testSystems(t *testing.T, s store.Store) {
	ctx := t.Context()
	s1 := store.System{
		Code: "000.00.02.H60", Name: "Hệ thống quản lý văn bản và điều hành", Unit: "Sở Thông tin và Truyền thông tỉnh Tuyên Quang",
		Contact: "Nguyễn Văn Ánh <anh@tuyenquang.gov.vn>", Status: store.SystemActive, WebhookURL: "https://qlvb.example/hook",
		CreatedAt: at(0), UpdatedAt: at(time.Second),
	}
	ok(t, s.CreateSystem(ctx, s1), "creating system")
	got, err := s.GetSystem(ctx, s1.Code)
	ok(t, err, "getting system")
	want := s1
	want.CreatedAt, want.UpdatedAt = us(s1.CreatedAt), us(s1.UpdatedAt)
	check(t, "system", got, want)

	isCode(t, s.CreateSystem(ctx, store.System{Code: s1.Code, Name: "other"}), bus.ErrSystemExists, "duplicate system")
	_, err = s.GetSystem(ctx, "000.00.99.H60")
	isCode(t, err, bus.ErrSystemNotFound, "missing system")

	// Zero times and status get defaults.
	ok(t, s.CreateSystem(ctx, store.System{Code: "000.00.01.H60", Name: "Cổng dịch vụ công"}), "creating system with defaults")
	s0, err := s.GetSystem(ctx, "000.00.01.H60")
	ok(t, err, "getting system")
	if s0.Status != store.SystemActive || s0.CreatedAt.IsZero() || s0.UpdatedAt.IsZero() {
		t.Fatalf("defaults not filled: %+v", s0)
	}

	list, err := s.ListSystems(ctx)
	ok(t, err, "listing systems")
	if len(list) != 2 || list[0].Code != "000.00.01.H60" || list[1].Code != s1.Code {
		t.Fatalf("ListSystems = %+v", list)
	}
	check(t, "listed system", list[1], want)

	upd := s1
	upd.Name, upd.Status, upd.WebhookURL, upd.UpdatedAt = "Hệ thống mới", store.SystemSuspended, "", at(time.Hour)
	upd.CreatedAt = at(99 * time.Hour) // ignored: creation time does not change
	ok(t, s.UpdateSystem(ctx, upd), "updating system")
	got, err = s.GetSystem(ctx, s1.Code)
	ok(t, err, "getting system")
	want.Name, want.Status, want.WebhookURL, want.UpdatedAt = upd.Name, upd.Status, "", us(at(time.Hour))
	check(t, "updated system", got, want)
	// Updating with identical values still finds the row.
	ok(t, s.UpdateSystem(ctx, upd), "updating system again")

	isCode(t, s.UpdateSystem(ctx, store.System{Code: "000.00.98.H60"}), bus.ErrSystemNotFound, "updating missing system")
}

func testKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	secret := make([]byte, 256)
	for i := range secret {
		secret[i] = byte(i)
	}
	k1 := store.Key{AccessKey: "AK1ABCDEF", SystemCode: dstA, Alg: "LGSP-HMAC-SHA256", Kind: store.KeyShared, SecretEnc: secret,
		Status: store.KeyActive, CreatedAt: at(0), ExpiresAt: at(90 * 24 * time.Hour)}
	isCode(t, s.CreateKey(ctx, k1), bus.ErrSystemNotFound, "key of a missing system")
	ok(t, s.CreateSystem(ctx, store.System{Code: dstA, Name: "A"}), "creating system")
	ok(t, s.CreateSystem(ctx, store.System{Code: dstB, Name: "B"}), "creating system")
	ok(t, s.CreateKey(ctx, k1), "creating key")
	k2 := store.Key{AccessKey: "AK2", SystemCode: dstA, Alg: "LGSP-HMAC-SHA256", SecretEnc: []byte{0}, CreatedAt: at(time.Minute)}
	ok(t, s.CreateKey(ctx, k2), "creating key")
	if err := s.CreateKey(ctx, k2); err == nil {
		t.Fatal("duplicate access key was stored")
	}

	got, err := s.GetKey(ctx, k1.AccessKey)
	ok(t, err, "getting key")
	w1 := k1
	w1.CreatedAt, w1.ExpiresAt = us(k1.CreatedAt), us(k1.ExpiresAt)
	check(t, "key", got, w1)

	_, err = s.GetKey(ctx, "ak1abcdef") // keys compare exactly
	isCode(t, err, bus.ErrKeyNotFound, "key in other case")
	_, err = s.GetKey(ctx, "nope")
	isCode(t, err, bus.ErrKeyNotFound, "missing key")

	list, err := s.ListKeys(ctx, dstA)
	ok(t, err, "listing keys")
	if len(list) != 2 || list[0].AccessKey != "AK1ABCDEF" || list[1].AccessKey != "AK2" || list[1].Status != store.KeyActive {
		t.Fatalf("ListKeys = %+v", list)
	}
	if list, err := s.ListKeys(ctx, dstB); err != nil || len(list) != 0 {
		t.Fatalf("ListKeys of a system without keys = %v, %v", list, err)
	}

	ok(t, s.RevokeKey(ctx, k1.AccessKey, at(time.Hour)), "revoking key")
	got, err = s.GetKey(ctx, k1.AccessKey)
	ok(t, err, "getting key")
	w1.Status, w1.RevokedAt = store.KeyRevoked, us(at(time.Hour))
	check(t, "revoked key", got, w1)
	ok(t, s.RevokeKey(ctx, k1.AccessKey, at(2*time.Hour)), "revoking key again")
	got, _ = s.GetKey(ctx, k1.AccessKey)
	check(t, "key revoked twice keeps the first time", got.RevokedAt, us(at(time.Hour)))
	isCode(t, s.RevokeKey(ctx, "nope", at(0)), bus.ErrKeyNotFound, "revoking missing key")

	testKeyKinds(t, s)
}

// testKeyKinds: a key's material is stored in the column of its kind only,
// and comes back with its kind; a key whose material does not match its
// kind is refused and nothing is stored.
func testKeyKinds(t *testing.T, s store.Store) {
	ctx := t.Context()
	pub := []byte("-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n")
	rk := store.Key{AccessKey: "RKPUBLIC1", SystemCode: dstA, Alg: "LGSP-RSA-SHA256", Kind: store.KeyPublic, PublicKey: pub,
		Status: store.KeyActive, CreatedAt: at(2 * time.Minute)}
	ok(t, s.CreateKey(ctx, rk), "creating public key")
	got, err := s.GetKey(ctx, rk.AccessKey)
	ok(t, err, "getting public key")
	w := rk
	w.CreatedAt = us(rk.CreatedAt)
	check(t, "public key", got, w)
	if len(got.SecretEnc) != 0 {
		t.Fatalf("a public key came back with a secret: %q", got.SecretEnc)
	}
	for _, bad := range []store.Key{
		{AccessKey: "RKBAD1", SystemCode: dstA, Alg: "LGSP-RSA-SHA256", Kind: store.KeyPublic, SecretEnc: []byte("sealed-pem")},
		{AccessKey: "RKBAD2", SystemCode: dstA, Alg: "LGSP-RSA-SHA256", Kind: store.KeyPublic, PublicKey: pub, SecretEnc: []byte("x")},
		{AccessKey: "AKBAD3", SystemCode: dstA, Alg: "LGSP-HMAC-SHA256", Kind: store.KeyShared, PublicKey: pub},
		{AccessKey: "AKBAD4", SystemCode: dstA, Alg: "LGSP-HMAC-SHA256", Kind: store.KeyShared},
		{AccessKey: "AKBAD5", SystemCode: dstA, Alg: "LGSP-HMAC-SHA256", Kind: "secret", SecretEnc: []byte("x")},
	} {
		isCode(t, s.CreateKey(ctx, bad), bus.ErrBadRequest, "key "+bad.AccessKey+" whose material does not match its kind")
		_, err := s.GetKey(ctx, bad.AccessKey)
		isCode(t, err, bus.ErrKeyNotFound, "refused key "+bad.AccessKey)
	}
	// A rotation stores its new key under the same rule.
	isCode(t, s.RotateKey(ctx, store.Rotation{Old: "AK2", New: store.Key{AccessKey: "AKBAD6", SystemCode: dstA, Alg: "LGSP-HMAC-SHA256", Kind: store.KeyShared, PublicKey: pub}, OldExpires: at(time.Hour)}),
		bus.ErrBadRequest, "rotation to a key without a secret")

	// MoveLegacyPublicKey leaves alone a key that is not a legacy public key.
	ok(t, s.MoveLegacyPublicKey(ctx, "AK2", pub), "moving on a shared key")
	got, _ = s.GetKey(ctx, "AK2")
	if got.Kind != store.KeyShared || len(got.PublicKey) != 0 || len(got.SecretEnc) == 0 {
		t.Fatalf("MoveLegacyPublicKey changed a shared key: %+v", got)
	}
	ok(t, s.MoveLegacyPublicKey(ctx, rk.AccessKey, []byte("other")), "moving on a key that has its public key")
	got, _ = s.GetKey(ctx, rk.AccessKey)
	check(t, "public key after a second move", got, w)
	isCode(t, s.MoveLegacyPublicKey(ctx, "nope", pub), bus.ErrKeyNotFound, "moving on a missing key")

	// Platform keys: the first one stored for a name stays.
	_, err = s.PlatformKey(ctx, "webhook")
	isCode(t, err, bus.ErrKeyNotFound, "missing platform key")
	p1 := store.PlatformKey{Name: "webhook", KeyID: "RKP1", Alg: "LGSP-RSA-SHA256", PrivateEnc: []byte("sealed-1"), PublicKey: []byte("pub-1"), CreatedAt: at(0)}
	p2 := store.PlatformKey{Name: "webhook", KeyID: "RKP2", Alg: "LGSP-RSA-SHA256", PrivateEnc: []byte("sealed-2"), PublicKey: []byte("pub-2"), CreatedAt: at(time.Hour)}
	wp := p1
	wp.CreatedAt = us(p1.CreatedAt)
	in, err := s.CreatePlatformKey(ctx, p1)
	ok(t, err, "creating platform key")
	check(t, "platform key created", in, wp)
	in, err = s.CreatePlatformKey(ctx, p2)
	ok(t, err, "creating platform key again")
	check(t, "platform key in force", in, wp)
	got2, err := s.PlatformKey(ctx, "webhook")
	ok(t, err, "reading platform key")
	check(t, "platform key read", got2, wp)
	_, err = s.CreatePlatformKey(ctx, store.PlatformKey{Name: "x"})
	isCode(t, err, bus.ErrBadRequest, "empty platform key")
}

func testNonces(t *testing.T, s store.Store) {
	ctx := t.Context()
	steps := []struct {
		key, nonce string
		want       bool
	}{
		{"AK1", "n-1", true},
		{"AK1", "n-1", false}, // replay
		{"AK2", "n-1", true},  // same nonce, other key
		{"AK1", "N-1", true},  // nonces compare exactly
		{"AK1", "n-2", true},
	}
	for i, st := range steps {
		got, err := s.UseNonce(ctx, st.key, st.nonce, at(5*time.Minute))
		ok(t, err, "using nonce")
		if got != st.want {
			t.Fatalf("step %d: UseNonce(%s, %s) = %v, want %v", i, st.key, st.nonce, got, st.want)
		}
	}
	fresh, err := s.UseNonce(ctx, "AK1", "n-3", at(time.Hour))
	ok(t, err, "using nonce")
	if !fresh {
		t.Fatal("new nonce refused")
	}
	n, err := s.PurgeNonces(ctx, at(10*time.Minute))
	ok(t, err, "purging nonces")
	if n != 4 {
		t.Fatalf("PurgeNonces removed %d, want 4", n)
	}
	if again, _ := s.UseNonce(ctx, "AK1", "n-1", at(time.Hour)); !again {
		t.Fatal("purged nonce still recorded")
	}
	if again, _ := s.UseNonce(ctx, "AK1", "n-3", at(time.Hour)); again {
		t.Fatal("unexpired nonce was purged")
	}
}

func testNonceConcurrent(t *testing.T, s store.Store) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, errs := 0, []error(nil)
	for range 8 {
		wg.Go(func() {
			fresh, err := s.UseNonce(t.Context(), "AK1", "racy", at(time.Minute))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if fresh {
				wins++
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 || wins != 1 {
		t.Fatalf("%d goroutines saw a fresh nonce (errors %v), want exactly 1", wins, errs)
	}
	// Many nonces at once (MariaDB records concurrent ones in one
	// statement): each fresh one is won once, a used one never.
	for i := range 4 {
		ok(t, func() error {
			_, err := s.UseNonce(t.Context(), "AK2", fmt.Sprintf("used-%d", i), at(time.Minute))
			return err
		}(), "using a nonce")
	}
	won := map[string]int{}
	for i := range 64 {
		n := fmt.Sprintf("n-%d", i%8)
		if i%8 >= 4 {
			n = fmt.Sprintf("used-%d", i%4)
		}
		wg.Go(func() {
			fresh, err := s.UseNonce(t.Context(), "AK2", n, at(time.Minute))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if fresh {
				won[n]++
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 || len(won) != 4 || won["n-0"] != 1 || won["n-1"] != 1 || won["n-2"] != 1 || won["n-3"] != 1 {
		t.Fatalf("fresh nonces won %v (errors %v), want n-0 … n-3 once each and no used one", won, errs)
	}
}

func testConnections(t *testing.T, s store.Store) {
	ctx := t.Context()
	ok(t, s.RecordConnection(ctx, store.Connection{ID: "cn_1", SystemCode: dstA, AccessKey: "AK1", At: at(0), Remote: "10.0.0.1:5555", ExpiresAt: at(time.Hour)}), "recording connection")
	ok(t, s.RecordConnection(ctx, store.Connection{SystemCode: dstA, AccessKey: "AK1", Remote: "[::1]:1"}), "recording connection without id")
	ok(t, s.RecordConnection(ctx, store.Connection{SystemCode: dstA, AccessKey: "AK1", Remote: "[::1]:1"}), "recording another connection without id")
	if err := s.RecordConnection(ctx, store.Connection{ID: "cn_1", SystemCode: dstA}); err == nil {
		t.Fatal("duplicate connection id was stored")
	}
}

func testCreateGetExchange(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := store.Exchange{
		ID: "ex_1", Source: src, Title: "Công văn số 12/UBND về việc triển khai Đề án 06", Importance: "urgent",
		DataType: "edoc", Protocol: "soap", MediaType: "application/xml", Route: "", Status: store.ExchangeRequested,
		MaxBytes: 10 << 20, SHA256: "ab12", Policy: []byte(`{"encrypt":true}`), WrappedKey: []byte{0, 1, 2, 255},
		CreatedAt: at(0), UpdatedAt: at(0), ExpiresAt: at(48 * time.Hour),
		// Not in code order: recipients keep the order given.
		Recipients: []store.Recipient{
			{ExchangeID: "ex_1", Code: dstC, Status: store.RecipientPending},
			{ExchangeID: "ex_1", Code: dstA, Status: store.RecipientPending},
			{ExchangeID: "ex_1", Code: dstB, Status: store.RecipientPending},
		},
	}
	ok(t, s.CreateExchange(ctx, e,
		store.Event{Kind: "requested", Actor: src, Detail: `{"title":"Công văn"}`, Node: "n1"},
		store.Event{Kind: "planned", Actor: "lgsp", Recipient: dstA, At: at(time.Second), Node: "n1"}), "creating exchange")

	got, err := s.GetExchange(ctx, "ex_1")
	ok(t, err, "getting exchange")
	want := e
	want.CreatedAt, want.UpdatedAt, want.ExpiresAt = us(e.CreatedAt), us(e.UpdatedAt), us(e.ExpiresAt)
	check(t, "exchange", got, want)

	evs, err := s.Events(ctx, "ex_1")
	ok(t, err, "reading events")
	if len(evs) != 2 || evs[0].Kind != "requested" || evs[1].Kind != "planned" || evs[0].ID >= evs[1].ID {
		t.Fatalf("events = %+v", evs)
	}
	check(t, "event without time gets the creation time", evs[0].At, us(e.CreatedAt))
	check(t, "event", evs[1], store.Event{ID: evs[1].ID, ExchangeID: "ex_1", At: us(at(time.Second)), Kind: "planned", Actor: "lgsp", Recipient: dstA, Node: "n1"})
	if evs[0].Detail != `{"title":"Công văn"}` {
		t.Fatalf("detail = %q", evs[0].Detail)
	}

	_, err = s.GetExchange(ctx, "ex_missing")
	isCode(t, err, bus.ErrExchangeNotFound, "missing exchange")
	if err := s.CreateExchange(ctx, store.Exchange{ID: "ex_1", Source: src}, store.Event{Kind: "requested"}); err == nil {
		t.Fatal("duplicate exchange id was stored")
	}
	// A failed create leaves nothing behind: its events are not written.
	if evs, _ := s.Events(ctx, "ex_1"); len(evs) != 2 {
		t.Fatalf("events after a failed create = %d, want 2", len(evs))
	}

	// Defaults: status requested, recipients pending.
	ok(t, s.CreateExchange(ctx, store.Exchange{ID: "ex_2", Source: src, Recipients: []store.Recipient{{Code: dstA}}}), "creating exchange with defaults")
	got, err = s.GetExchange(ctx, "ex_2")
	ok(t, err, "getting exchange")
	if got.Status != store.ExchangeRequested || len(got.Recipients) != 1 || got.Recipients[0].Status != store.RecipientPending ||
		got.Recipients[0].ExchangeID != "ex_2" || got.CreatedAt.IsZero() || got.WrappedKey != nil || got.Policy != nil {
		t.Fatalf("defaults not filled: %+v", got)
	}
}

func testListSent(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i := range 3 {
		newExchange(t, s, fmt.Sprintf("ex_%d", i), at(time.Duration(i)*time.Minute), dstA, dstB)
	}
	ok(t, s.CreateExchange(ctx, store.Exchange{ID: "ex_other", Source: dstA, CreatedAt: at(time.Hour)}), "creating exchange")

	got, err := s.ListSent(ctx, src, 2)
	ok(t, err, "listing sent")
	if len(got) != 2 || got[0].ID != "ex_2" || got[1].ID != "ex_1" {
		t.Fatalf("ListSent(2) = %v", ids(got))
	}
	if len(got[0].Recipients) != 2 || got[0].Recipients[0].Code != dstA || got[0].Recipients[1].Code != dstB {
		t.Fatalf("ListSent recipients = %+v", got[0].Recipients)
	}
	got, err = s.ListSent(ctx, src, 0)
	ok(t, err, "listing sent")
	if len(got) != 3 {
		t.Fatalf("ListSent(0) = %v", ids(got))
	}
	got, err = s.ListSent(ctx, "000.00.77.H60", 10)
	ok(t, err, "listing sent")
	if len(got) != 0 {
		t.Fatalf("ListSent of a silent source = %v", ids(got))
	}
}

func ids(es []store.Exchange) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

// testUpload: appended chunks are listed and read back; committed bytes
// are never deleted or overwritten; a stray past Received is neither listed
// nor kept by DeleteChunksFrom; the space closes at F4.
func testUpload(t *testing.T, s store.Store, plant Planter) {
	ctx := t.Context()
	e := newExchange(t, s, "ex_u", at(0), dstA)

	put := func(off int64, data string) error {
		return s.AppendChunk(ctx, store.Chunk{ExchangeID: e.ID, Offset: off, Size: int64(len(data)), Data: []byte(data)})
	}
	ok(t, put(0, "0123456789"), "appending chunk")
	ok(t, put(10, "abcdefghij"), "appending chunk")
	idx, err := s.ChunkIndex(ctx, e.ID)
	ok(t, err, "chunk index")
	check(t, "chunk index", idx, []store.ChunkInfo{{Offset: 0, Size: 10}, {Offset: 10, Size: 10}})
	c, err := s.GetChunk(ctx, e.ID, 10)
	ok(t, err, "getting chunk")
	check(t, "chunk", c, store.Chunk{ExchangeID: e.ID, Offset: 10, Size: 10, Data: []byte("abcdefghij")})
	got, _ := s.GetExchange(ctx, e.ID)
	if got.Received != 20 {
		t.Fatalf("Received = %d, want 20", got.Received)
	}
	isCode(t, put(5, "xxxxx"), bus.ErrUploadOffset, "overwriting committed bytes")
	isCode(t, put(0, "xxxxx"), bus.ErrUploadOffset, "overwriting the first chunk")

	// Strays past Received (an older writer's remains) are not listed, and
	// an append at their offset replaces them.
	plant(t, s, store.Chunk{ExchangeID: e.ID, Offset: 20, Size: 10, Data: []byte("stale-part")})
	plant(t, s, store.Chunk{ExchangeID: e.ID, Offset: 25, Size: 5, Data: []byte("PQRST")})
	idx, _ = s.ChunkIndex(ctx, e.ID)
	check(t, "strays are not listed", idx, []store.ChunkInfo{{Offset: 0, Size: 10}, {Offset: 10, Size: 10}})
	ok(t, put(20, "KLMNO"), "appending over a stray")
	c, err = s.GetChunk(ctx, e.ID, 20)
	ok(t, err, "getting chunk")
	if string(c.Data) != "KLMNO" || c.Size != 5 {
		t.Fatalf("replaced chunk = %+v", c)
	}
	// An aborted part is deleted; committed chunks survive even when the
	// caller asks from a lower offset.
	ok(t, s.DeleteChunksFrom(ctx, e.ID, 25), "deleting chunks")
	_, err = s.GetChunk(ctx, e.ID, 25)
	isCode(t, err, bus.ErrRange, "deleted chunk")
	ok(t, s.DeleteChunksFrom(ctx, e.ID, 0), "deleting chunks")
	idx, _ = s.ChunkIndex(ctx, e.ID)
	check(t, "committed chunks survive DeleteChunksFrom", idx, []store.ChunkInfo{{Offset: 0, Size: 10}, {Offset: 10, Size: 10}, {Offset: 20, Size: 5}})
	_, err = s.GetChunk(ctx, e.ID, 3)
	isCode(t, err, bus.ErrRange, "offset inside a chunk")

	// Missing exchanges.
	_, err = s.ChunkIndex(ctx, "ex_none")
	isCode(t, err, bus.ErrExchangeNotFound, "index of a missing exchange")
	_, err = s.GetChunk(ctx, "ex_none", 0)
	isCode(t, err, bus.ErrExchangeNotFound, "chunk of a missing exchange")
	isCode(t, s.DeleteChunksFrom(ctx, "ex_none", 0), bus.ErrExchangeNotFound, "deleting chunks of a missing exchange")

	// Once accepted, the upload space is closed.
	ok(t, s.AcceptExchange(ctx, store.Accept{ExchangeID: e.ID, Size: 25, At: at(time.Minute)}), "accepting")
	isCode(t, put(25, "late"), bus.ErrExchangeState, "chunk after accept")
}

// testAppendConcurrent: of several appends at the same offset exactly one
// wins; the others are told the offset moved.
func testAppendConcurrent(t *testing.T, s store.Store) {
	e := newExchange(t, s, "ex_cc", at(0), dstA)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.AppendChunk(t.Context(), store.Chunk{ExchangeID: e.ID, Offset: 0, Size: 4, Data: []byte(fmt.Sprintf("ab%02d", i))})
		})
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, bus.ErrUploadOffset.Err()):
		default:
			t.Fatalf("concurrent append: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d concurrent appends at 0 succeeded, want 1", wins)
	}
	got, _ := s.GetExchange(t.Context(), e.ID)
	idx, _ := s.ChunkIndex(t.Context(), e.ID)
	if got.Received != 4 || len(idx) != 1 {
		t.Fatalf("after concurrent appends: received %d, chunks %v", got.Received, idx)
	}
}

func testReplaceContent(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newExchange(t, s, "ex_r", at(0), dstA)
	upload(t, s, e.ID, 0, []byte("original content"), 5)
	accept(t, s, e.ID, at(time.Minute), nil)
	chunks := []store.Chunk{
		{Offset: 0, Size: 3, Data: []byte("NEW")},
		{Offset: 3, Size: 4, Data: []byte("DATA")},
	}
	ok(t, s.ReplaceContent(ctx, e.ID, []byte("key2"), 7, "cafe", "application/json", chunks, store.Event{Kind: "transformed", Actor: "lgsp"}), "replacing content")
	got, err := s.GetExchange(ctx, e.ID)
	ok(t, err, "getting exchange")
	if string(got.WrappedKey) != "key2" || got.Size != 7 || got.Received != 7 || got.SHA256 != "cafe" || got.MediaType != "application/json" || got.Status != store.ExchangeAccepted {
		t.Fatalf("after ReplaceContent: %+v", got)
	}
	idx, _ := s.ChunkIndex(ctx, e.ID)
	check(t, "chunks after replace", idx, []store.ChunkInfo{{Offset: 0, Size: 3}, {Offset: 3, Size: 4}})
	c, err := s.GetChunk(ctx, e.ID, 3)
	ok(t, err, "getting chunk")
	if string(c.Data) != "DATA" || c.ExchangeID != e.ID {
		t.Fatalf("chunk = %+v", c)
	}
	_, err = s.GetChunk(ctx, e.ID, 5)
	isCode(t, err, bus.ErrRange, "old chunk after replace")
	evs, _ := s.Events(ctx, e.ID)
	if evs[len(evs)-1].Kind != "transformed" {
		t.Fatalf("events = %+v", evs)
	}

	// A requested exchange can be replaced too; a purged one cannot.
	newExchange(t, s, "ex_r2", at(0), dstA)
	ok(t, s.ReplaceContent(ctx, "ex_r2", []byte("k"), 1, "00", "text/plain", []store.Chunk{{Offset: 0, Size: 1, Data: []byte("x")}}), "replacing requested content")
	ok(t, s.Purge(ctx, e.ID, store.ExchangeCancelled, store.RecipientCancelled, at(time.Hour)), "purging")
	isCode(t, s.ReplaceContent(ctx, e.ID, []byte("k"), 1, "00", "text/plain", nil), bus.ErrExchangeState, "replacing purged content")
	isCode(t, s.ReplaceContent(ctx, "ex_none", nil, 0, "", "", nil), bus.ErrExchangeNotFound, "replacing missing exchange")
}

func testAccept(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newExchange(t, s, "ex_a", at(0), dstA, dstB, dstC)
	upload(t, s, e.ID, 0, []byte("payload"), 4)
	a := store.Accept{
		ExchangeID: e.ID, Size: 7, SHA256: "239f59ed", MediaType: "application/pdf", Policy: []byte(`{"keep":"7d"}`),
		Route: "edoc-ubnd", At: at(time.Minute), ExpiresAt: at(72 * time.Hour),
		DueAt:  map[string]time.Time{dstA: at(2 * time.Hour), dstB: at(30 * time.Second)},
		Events: []store.Event{{Kind: "accepted", Actor: src}, {Kind: "planned", Actor: "lgsp", Recipient: dstA}},
	}
	ok(t, s.AcceptExchange(ctx, a), "accepting")
	got, err := s.GetExchange(ctx, e.ID)
	ok(t, err, "getting exchange")
	want := store.Exchange{
		ID: e.ID, Source: src, Title: e.Title, Importance: e.Importance, DataType: e.DataType, Protocol: e.Protocol,
		MediaType: "application/pdf", Route: "edoc-ubnd", Status: store.ExchangeAccepted, MaxBytes: e.MaxBytes,
		Received: 7, Size: 7, SHA256: "239f59ed", Policy: a.Policy, WrappedKey: e.WrappedKey,
		CreatedAt: us(e.CreatedAt), UpdatedAt: us(a.At), ExpiresAt: us(a.ExpiresAt),
		Recipients: []store.Recipient{
			{ExchangeID: e.ID, Code: dstA, Status: store.RecipientPlanned, DueAt: us(at(2 * time.Hour))},
			{ExchangeID: e.ID, Code: dstB, Status: store.RecipientPlanned, DueAt: us(at(30 * time.Second))},
			{ExchangeID: e.ID, Code: dstC, Status: store.RecipientPlanned, DueAt: us(a.At)}, // no entry: due at F4
		},
	}
	check(t, "accepted exchange", got, want)
	evs, _ := s.Events(ctx, e.ID)
	if len(evs) != 3 || evs[1].Kind != "accepted" || !evs[1].At.Equal(us(a.At)) || evs[2].Recipient != dstA {
		t.Fatalf("events = %+v", evs)
	}

	isCode(t, s.AcceptExchange(ctx, a), bus.ErrExchangeState, "accepting twice")
	isCode(t, s.AcceptExchange(ctx, store.Accept{ExchangeID: "ex_none"}), bus.ErrExchangeNotFound, "accepting a missing exchange")

	// Empty fields keep what F2 declared.
	e2 := newExchange(t, s, "ex_a2", at(0), dstA)
	ok(t, s.AcceptExchange(ctx, store.Accept{ExchangeID: e2.ID, Size: 0, At: at(time.Minute)}), "accepting")
	got, _ = s.GetExchange(ctx, e2.ID)
	if got.MediaType != e2.MediaType || !got.ExpiresAt.Equal(us(e2.ExpiresAt)) {
		t.Fatalf("accept without values changed them: %+v", got)
	}
}

func testClaimDue(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newExchange(t, s, "ex_d", at(0), dstA, dstB, dstC)
	accept(t, s, e.ID, at(time.Minute), map[string]time.Time{dstA: at(10 * time.Minute), dstB: at(5 * time.Minute), dstC: at(time.Hour)})
	e2 := newExchange(t, s, "ex_d2", at(0), dstA)
	accept(t, s, e2.ID, at(time.Minute), map[string]time.Time{dstA: at(7 * time.Minute)})
	newExchange(t, s, "ex_pending", at(0), dstA) // not accepted: never claimed

	if got, err := s.ClaimDue(ctx, at(time.Minute), 10, "n1", nil); err != nil || len(got) != 0 {
		t.Fatalf("ClaimDue before anything is due = %+v, %v", got, err)
	}
	now := at(10 * time.Minute)
	got, err := s.ClaimDue(ctx, now, 2, "n1", nil)
	ok(t, err, "claiming")
	check(t, "claimed (limit 2, oldest due first)", got, []store.Recipient{
		{ExchangeID: e.ID, Code: dstB, Status: store.RecipientNotified, DueAt: us(at(5 * time.Minute)), NotifiedAt: us(now)},
		{ExchangeID: e2.ID, Code: dstA, Status: store.RecipientNotified, DueAt: us(at(7 * time.Minute)), NotifiedAt: us(now)},
	})
	got, err = s.ClaimDue(ctx, now, 0, "n2", nil)
	ok(t, err, "claiming")
	if len(got) != 1 || got[0].Code != dstA || got[0].ExchangeID != e.ID {
		t.Fatalf("second claim = %+v", got)
	}
	if got, _ := s.ClaimDue(ctx, now, 10, "n1", nil); len(got) != 0 {
		t.Fatalf("claimed again: %+v", got)
	}

	ex, _ := s.GetExchange(ctx, e.ID)
	check(t, "recipient state", ex.Recipients[1], store.Recipient{ExchangeID: e.ID, Code: dstB, Status: store.RecipientNotified, DueAt: us(at(5 * time.Minute)), NotifiedAt: us(now)})
	if ex.Recipients[2].Status != store.RecipientPlanned {
		t.Fatalf("recipient not yet due was claimed: %+v", ex.Recipients[2])
	}

	evs, _ := s.Events(ctx, e.ID)
	var notified []store.Event
	for _, ev := range evs {
		if ev.Kind == "notified" {
			notified = append(notified, ev)
		}
	}
	if len(notified) != 2 {
		t.Fatalf("notified events = %+v", notified)
	}
	check(t, "notified event", notified[0], store.Event{ID: notified[0].ID, ExchangeID: e.ID, At: us(now), Kind: "notified", Actor: "lgsp", Recipient: dstB, Detail: `{"source":"` + e.Source + `"}`, Node: "n1"})
	if notified[1].Node != "n2" {
		t.Fatalf("second claim's event node = %q", notified[1].Node)
	}

	items, err := s.ListDeliveries(ctx, store.OutboxFilter{Status: store.OutboxPending, Limit: 10})
	ok(t, err, "listing outbox")
	if len(items) != 3 {
		t.Fatalf("outbox = %+v", items)
	}
	slices.Reverse(items) // oldest first
	it := items[0]
	check(t, "outbox item", it, store.OutboxItem{ID: it.ID, Kind: "webhook", Target: dstB, ExchangeID: e.ID, Payload: it.Payload,
		DueAt: us(now), FirstAt: us(now), Status: store.OutboxPending})
	var body map[string]string
	if err := json.Unmarshal(it.Payload, &body); err != nil {
		t.Fatalf("outbox payload %q: %v", it.Payload, err)
	}
	check(t, "outbox payload", body, map[string]string{"exchange_id": e.ID, "recipient": dstB, "event": "notified"})
}

// testClaimDueWebhooks: ClaimDue queues a webhook item only for the
// recipients that have something to be delivered — a webhook URL at the
// claim (also one set after the plan), an unregistered system, or one that
// pushed takes — and none for systems that poll or subscribe; every
// recipient is notified and gets its ledger event all the same.
func testClaimDueWebhooks(t *testing.T, s store.Store) {
	ctx := t.Context()
	const hook, later, polls, pushed, unknown = "000.00.10.H60", "000.00.11.H60", "000.00.12.H60", "000.00.13.H60", "000.00.14.H60"
	for _, c := range []string{hook, later, polls, pushed} {
		sys := store.System{Code: c, Name: c, Unit: "UBND", Status: store.SystemActive, CreatedAt: at(0), UpdatedAt: at(0)}
		if c == hook {
			sys.WebhookURL = "https://hook.example/lgsp"
		}
		ok(t, s.CreateSystem(ctx, sys), "creating "+c)
	}
	e := newExchange(t, s, "ex_wh", at(0), hook, later, polls, pushed, unknown)
	accept(t, s, e.ID, at(time.Minute), nil)
	// The URL is set after the plan, before the delivery is due.
	sys, err := s.GetSystem(ctx, later)
	ok(t, err, "reading "+later)
	sys.WebhookURL, sys.UpdatedAt = "https://later.example/lgsp", at(2*time.Minute)
	ok(t, s.UpdateSystem(ctx, sys), "setting the webhook URL of "+later)

	got, err := s.ClaimDue(ctx, at(3*time.Minute), 10, "n1", func(code string) bool { return code == pushed })
	ok(t, err, "claiming")
	if len(got) != 5 {
		t.Fatalf("claimed %d recipients, want 5: %+v", len(got), got)
	}
	items, err := s.ListDeliveries(ctx, store.OutboxFilter{ExchangeID: e.ID, Limit: 10})
	ok(t, err, "listing outbox")
	var targets []string
	for _, it := range items {
		if it.Kind != "webhook" {
			t.Fatalf("outbox item of kind %q: %+v", it.Kind, it)
		}
		targets = append(targets, it.Target)
	}
	slices.Sort(targets)
	check(t, "webhook items' targets", targets, []string{hook, later, pushed, unknown})
	evs, _ := s.Events(ctx, e.ID)
	n := 0
	for _, ev := range evs {
		if ev.Kind == store.RecipientNotified {
			n++
		}
	}
	if n != 5 {
		t.Fatalf("%d notified events, want 5", n)
	}
}

func testClaimDueConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const exchanges, perExchange, workers = 10, 3, 4
	codes := []string{dstA, dstB, dstC}[:perExchange]
	for i := range exchanges {
		id := fmt.Sprintf("ex_c%02d", i)
		newExchange(t, s, id, at(0), codes...)
		due := map[string]time.Time{}
		for j, c := range codes {
			due[c] = at(time.Duration(i*perExchange+j) * time.Second)
		}
		accept(t, s, id, at(0), due)
	}
	now := at(time.Hour)
	var mu sync.Mutex
	seen := map[string]string{}
	var wg sync.WaitGroup
	var errs []error
	for w := range workers {
		node := fmt.Sprintf("node-%d", w)
		wg.Go(func() {
			for {
				got, err := s.ClaimDue(ctx, now, 3, node, nil)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				for _, r := range got {
					k := r.ExchangeID + "/" + r.Code
					if prev, dup := seen[k]; dup {
						errs = append(errs, fmt.Errorf("%s claimed by %s and %s", k, prev, node))
					}
					seen[k] = node
				}
				mu.Unlock()
				if err != nil || len(got) == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("concurrent claims: %v", errs)
	}
	if len(seen) != exchanges*perExchange {
		t.Fatalf("claimed %d recipients, want %d", len(seen), exchanges*perExchange)
	}
	items, err := s.ListDeliveries(ctx, store.OutboxFilter{Status: store.OutboxPending, Limit: 1000})
	ok(t, err, "listing outbox")
	if len(items) != exchanges*perExchange {
		t.Fatalf("%d outbox items, want %d", len(items), exchanges*perExchange)
	}
	evs, err := s.EventsAfter(ctx, 0, 1000)
	ok(t, err, "reading events")
	n := 0
	for _, ev := range evs {
		if ev.Kind == "notified" {
			n++
			if seen[ev.ExchangeID+"/"+ev.Recipient] != ev.Node {
				t.Fatalf("event %+v names the wrong node", ev)
			}
		}
	}
	if n != exchanges*perExchange {
		t.Fatalf("%d notified events, want %d", n, exchanges*perExchange)
	}
}

func testTransition(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := newExchange(t, s, "ex_t", at(0), dstA, dstB)
	accept(t, s, e.ID, at(0), nil)
	if _, err := s.ClaimDue(ctx, at(time.Minute), 10, "n1", nil); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		tr   store.Transition
		want *bus.ErrorDef
	}{
		{"ready", store.Transition{ExchangeID: e.ID, Recipient: dstA, From: []string{store.RecipientNotified}, To: store.RecipientReady, At: at(2 * time.Minute),
			Event: store.Event{Actor: dstA, Node: "n1"}}, nil},
		{"ready again", store.Transition{ExchangeID: e.ID, Recipient: dstA, From: []string{store.RecipientNotified}, To: store.RecipientReady, At: at(3 * time.Minute)}, bus.ErrExchangeState},
		{"downloaded", store.Transition{ExchangeID: e.ID, Recipient: dstA, From: []string{store.RecipientReady, store.RecipientDownloaded}, To: store.RecipientDownloaded, At: at(4 * time.Minute),
			Event: store.Event{Kind: "downloaded", Actor: dstA, Detail: "bytes=0-"}}, nil},
		{"downloaded twice", store.Transition{ExchangeID: e.ID, Recipient: dstA, From: []string{store.RecipientReady, store.RecipientDownloaded}, To: store.RecipientDownloaded, At: at(5 * time.Minute)}, nil},
		{"confirmed", store.Transition{ExchangeID: e.ID, Recipient: dstA, From: []string{store.RecipientDownloaded}, To: store.RecipientConfirmed, At: at(6 * time.Minute),
			Outcome: "Đã nhận đủ", Event: store.Event{Actor: dstA}}, nil},
		{"confirmed again", store.Transition{ExchangeID: e.ID, Recipient: dstA, From: []string{store.RecipientDownloaded}, To: store.RecipientConfirmed, At: at(7 * time.Minute)}, bus.ErrExchangeState},
		{"rejected", store.Transition{ExchangeID: e.ID, Recipient: dstB, From: []string{store.RecipientNotified, store.RecipientReady}, To: store.RecipientRejected, At: at(8 * time.Minute),
			Outcome: "Sai định dạng văn bản", Event: store.Event{Kind: "rejected", Actor: dstB}}, nil},
		{"no allowed status", store.Transition{ExchangeID: e.ID, Recipient: dstB, To: store.RecipientReady}, bus.ErrExchangeState},
		{"unknown recipient", store.Transition{ExchangeID: e.ID, Recipient: dstC, From: []string{store.RecipientNotified}, To: store.RecipientReady}, bus.ErrExchangeNotFound},
		{"unknown exchange", store.Transition{ExchangeID: "ex_none", Recipient: dstA, From: []string{store.RecipientNotified}, To: store.RecipientReady}, bus.ErrExchangeNotFound},
	}
	for _, st := range steps {
		err := s.Transition(ctx, st.tr)
		if st.want == nil {
			ok(t, err, st.name)
		} else {
			isCode(t, err, st.want, st.name)
		}
	}
	got, _ := s.GetExchange(ctx, e.ID)
	check(t, "confirmed recipient", got.Recipients[0], store.Recipient{ExchangeID: e.ID, Code: dstA, Status: store.RecipientConfirmed,
		DueAt: us(at(0)), NotifiedAt: us(at(time.Minute)), ReadyAt: us(at(2 * time.Minute)), DoneAt: us(at(6 * time.Minute)), Outcome: "Đã nhận đủ"})
	check(t, "rejected recipient", got.Recipients[1], store.Recipient{ExchangeID: e.ID, Code: dstB, Status: store.RecipientRejected,
		DueAt: us(at(0)), NotifiedAt: us(at(time.Minute)), DoneAt: us(at(8 * time.Minute)), Outcome: "Sai định dạng văn bản"})

	evs, _ := s.Events(ctx, e.ID)
	var kinds []string
	for _, ev := range evs[3:] { // after requested and the two notified
		kinds = append(kinds, ev.Kind+"/"+ev.Recipient)
	}
	check(t, "transition events", kinds, []string{"ready/" + dstA, "downloaded/" + dstA, "downloaded/" + dstA, "confirmed/" + dstA, "rejected/" + dstB})
	check(t, "event time defaults to the transition's", evs[3].At, us(at(2*time.Minute)))
	if evs[3].Node != "n1" || evs[3].Actor != dstA || evs[4].Detail != "bytes=0-" {
		t.Fatalf("events = %+v", evs[3:])
	}
}

func testInbox(t *testing.T, s store.Store) {
	ctx := t.Context()
	newExchange(t, s, "ex_i1", at(0), dstA, dstB)
	accept(t, s, "ex_i1", at(0), map[string]time.Time{dstA: at(20 * time.Minute), dstB: at(time.Minute)})
	newExchange(t, s, "ex_i2", at(0), dstA)
	accept(t, s, "ex_i2", at(0), map[string]time.Time{dstA: at(10 * time.Minute)})
	newExchange(t, s, "ex_i3", at(0), dstA) // pending
	newExchange(t, s, "ex_i4", at(0), dstB)
	accept(t, s, "ex_i4", at(0), map[string]time.Time{dstB: at(5 * time.Minute)})

	got, err := s.Inbox(ctx, dstA, []string{store.RecipientPlanned, store.RecipientNotified}, 10)
	ok(t, err, "inbox")
	if len(got) != 2 || got[0].Exchange.ID != "ex_i2" || got[1].Exchange.ID != "ex_i1" {
		t.Fatalf("inbox = %+v", got)
	}
	it := got[1]
	if it.Exchange.Recipients != nil {
		t.Fatalf("inbox exchange has recipients: %+v", it.Exchange.Recipients)
	}
	if it.Exchange.Title != "Công văn số 12/UBND" || it.Exchange.Status != store.ExchangeAccepted || !it.Exchange.CreatedAt.Equal(us(at(0))) {
		t.Fatalf("inbox exchange = %+v", it.Exchange)
	}
	check(t, "inbox recipient", it.Recipient, store.Recipient{ExchangeID: "ex_i1", Code: dstA, Status: store.RecipientPlanned, DueAt: us(at(20 * time.Minute))})

	got, _ = s.Inbox(ctx, dstA, []string{store.RecipientPlanned}, 1)
	if len(got) != 1 || got[0].Exchange.ID != "ex_i2" {
		t.Fatalf("inbox limit 1 = %+v", got)
	}
	got, _ = s.Inbox(ctx, dstA, []string{store.RecipientPending}, 10)
	if len(got) != 1 || got[0].Exchange.ID != "ex_i3" {
		t.Fatalf("pending inbox = %+v", got)
	}
	got, _ = s.Inbox(ctx, dstA, nil, 10)
	if len(got) != 3 {
		t.Fatalf("inbox of every status = %d items", len(got))
	}
	if _, err := s.ClaimDue(ctx, at(15*time.Minute), 10, "n1", nil); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Inbox(ctx, dstB, []string{store.RecipientNotified}, 10)
	if len(got) != 2 || got[0].Exchange.ID != "ex_i1" || got[1].Exchange.ID != "ex_i4" || !got[0].Recipient.NotifiedAt.Equal(us(at(15*time.Minute))) {
		t.Fatalf("notified inbox of B = %+v", got)
	}
	got, _ = s.Inbox(ctx, dstC, []string{store.RecipientNotified}, 10)
	if len(got) != 0 {
		t.Fatalf("inbox of a stranger = %+v", got)
	}
}

func testPurge(t *testing.T, s store.Store, plant Planter) {
	ctx := t.Context()
	e := newExchange(t, s, "ex_p", at(0), dstA, dstB, dstC)
	upload(t, s, e.ID, 0, bytes.Repeat([]byte("bí mật "), 100), 64)
	// A stray past Received is purged too.
	plant(t, s, store.Chunk{ExchangeID: e.ID, Offset: 1000, Size: 3, Data: []byte("xyz")})
	accept(t, s, e.ID, at(time.Minute), nil)
	_, _ = s.ClaimDue(ctx, at(time.Minute), 10, "n1", nil)
	ok(t, s.Transition(ctx, store.Transition{ExchangeID: e.ID, Recipient: dstA, From: []string{store.RecipientNotified}, To: store.RecipientRejected, At: at(2 * time.Minute), Outcome: "no"}), "rejecting")
	ok(t, s.Transition(ctx, store.Transition{ExchangeID: e.ID, Recipient: dstB, From: []string{store.RecipientNotified}, To: store.RecipientReady, At: at(2 * time.Minute)}), "ready")
	before, _ := s.Events(ctx, e.ID)

	pat := at(time.Hour)
	ok(t, s.Purge(ctx, e.ID, store.ExchangeExpired, store.RecipientExpired, pat, store.Event{Kind: "expired", Actor: "lgsp"}, store.Event{Kind: "purged", Actor: "lgsp"}), "purging")
	got, err := s.GetExchange(ctx, e.ID)
	ok(t, err, "getting exchange")
	if got.WrappedKey != nil || got.Status != store.ExchangeExpired || !got.PurgedAt.Equal(us(pat)) || got.PurgedAt.Location() != time.UTC {
		t.Fatalf("purged exchange = %+v", got)
	}
	check(t, "final recipient untouched", got.Recipients[0], store.Recipient{ExchangeID: e.ID, Code: dstA, Status: store.RecipientRejected,
		DueAt: us(at(time.Minute)), NotifiedAt: us(at(time.Minute)), DoneAt: us(at(2 * time.Minute)), Outcome: "no"})
	for _, r := range got.Recipients[1:] {
		if r.Status != store.RecipientExpired || !r.DoneAt.Equal(us(pat)) {
			t.Fatalf("non-final recipient after purge = %+v", r)
		}
	}
	idx, err := s.ChunkIndex(ctx, e.ID)
	ok(t, err, "chunk index")
	if len(idx) != 0 {
		t.Fatalf("chunks after purge: %v", idx)
	}
	for _, off := range []int64{0, 64, 832, 1000} {
		_, err := s.GetChunk(ctx, e.ID, off)
		isCode(t, err, bus.ErrRange, fmt.Sprintf("chunk %d after purge", off))
	}
	after, _ := s.Events(ctx, e.ID)
	if len(after) != len(before)+2 || after[len(after)-1].Kind != "purged" || !after[len(after)-1].At.Equal(us(pat)) {
		t.Fatalf("events after purge = %+v", after[len(before):])
	}

	// Idempotent: a second purge changes nothing and writes nothing.
	ok(t, s.Purge(ctx, e.ID, store.ExchangeCompleted, store.RecipientConfirmed, at(2*time.Hour), store.Event{Kind: "purged"}), "purging again")
	again, _ := s.GetExchange(ctx, e.ID)
	check(t, "exchange after a second purge", again, got)
	if evs, _ := s.Events(ctx, e.ID); len(evs) != len(after) {
		t.Fatalf("second purge wrote %d events", len(evs)-len(after))
	}
	if ids, _ := s.Expired(ctx, at(1000*time.Hour), 10); len(ids) != 0 {
		t.Fatalf("purged exchange listed as expired: %v", ids)
	}
	isCode(t, s.Purge(ctx, "ex_none", store.ExchangeCancelled, store.RecipientCancelled, pat), bus.ErrExchangeNotFound, "purging a missing exchange")
	if err := s.Purge(ctx, "ex_p", store.ExchangeAccepted, store.RecipientCancelled, pat); err == nil {
		t.Fatal("purge to a non-final status accepted")
	}

	// Purging a requested exchange (cancel during upload).
	e2 := newExchange(t, s, "ex_p2", at(0), dstA)
	ok(t, s.AppendChunk(ctx, store.Chunk{ExchangeID: e2.ID, Offset: 0, Size: 1, Data: []byte{1}}), "appending chunk")
	ok(t, s.Purge(ctx, e2.ID, store.ExchangeCancelled, store.RecipientCancelled, pat), "cancelling")
	_, err = s.GetChunk(ctx, e2.ID, 0)
	isCode(t, err, bus.ErrRange, "chunk after cancel")
	isCode(t, s.AppendChunk(ctx, store.Chunk{ExchangeID: e2.ID, Offset: 0, Size: 1, Data: []byte{1}}), bus.ErrExchangeState, "chunk after purge")
	got, _ = s.GetExchange(ctx, e2.ID)
	if got.Recipients[0].Status != store.RecipientCancelled {
		t.Fatalf("pending recipient after cancel = %+v", got.Recipients[0])
	}
}

func testExpired(t *testing.T, s store.Store) {
	ctx := t.Context()
	mk := func(id string, expires time.Time) {
		ok(t, s.CreateExchange(ctx, store.Exchange{ID: id, Source: src, CreatedAt: at(0), ExpiresAt: expires}), "creating "+id)
	}
	mk("ex_e1", at(2*time.Hour))
	mk("ex_e2", at(time.Hour))
	mk("ex_e3", at(5*time.Hour))
	mk("ex_e4", time.Time{}) // never expires
	got, err := s.Expired(ctx, at(2*time.Hour), 10)
	ok(t, err, "listing expired")
	check(t, "expired", got, []string{"ex_e2", "ex_e1"})
	got, _ = s.Expired(ctx, at(100*time.Hour), 1)
	check(t, "expired limit 1", got, []string{"ex_e2"})
	got, _ = s.Expired(ctx, at(0), 10)
	if len(got) != 0 {
		t.Fatalf("expired before anything expires = %v", got)
	}
}

func testEvents(t *testing.T, s store.Store) {
	ctx := t.Context()
	last, err := s.LastEventID(ctx)
	ok(t, err, "last event id")
	if last != 0 {
		t.Fatalf("LastEventID of an empty store = %d", last)
	}
	ok(t, s.AddEvents(ctx), "adding no events")
	before := time.Now().Add(-time.Second)
	ok(t, s.AddEvents(ctx,
		store.Event{ExchangeID: "ex_1", Kind: "webhook_sent", Actor: "lgsp", Recipient: dstA, Detail: "200", Node: "n1"},
		store.Event{ExchangeID: "ex_2", Kind: "webhook_failed", Actor: "lgsp", Detail: "Lỗi kết nối", At: at(0)},
		store.Event{ExchangeID: "ex_1", Kind: "confirmed", Actor: dstA, At: at(time.Minute)},
	), "adding events")
	evs, err := s.Events(ctx, "ex_1")
	ok(t, err, "reading events")
	if len(evs) != 2 || evs[0].Kind != "webhook_sent" || evs[1].Kind != "confirmed" || evs[0].ID >= evs[1].ID {
		t.Fatalf("events of ex_1 = %+v", evs)
	}
	if evs[0].At.Before(before) || evs[0].At.Location() != time.UTC {
		t.Fatalf("event without time got %v", evs[0].At)
	}
	all, err := s.EventsAfter(ctx, 0, 10)
	ok(t, err, "events after 0")
	if len(all) != 3 || all[1].Detail != "Lỗi kết nối" || !all[1].At.Equal(us(at(0))) {
		t.Fatalf("EventsAfter(0) = %+v", all)
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID <= all[i-1].ID {
			t.Fatalf("ids not increasing: %+v", all)
		}
	}
	last, _ = s.LastEventID(ctx)
	if last != all[2].ID {
		t.Fatalf("LastEventID = %d, want %d", last, all[2].ID)
	}
	tail, _ := s.EventsAfter(ctx, all[0].ID, 1)
	if len(tail) != 1 || tail[0].ID != all[1].ID {
		t.Fatalf("EventsAfter(first, 1) = %+v", tail)
	}
	if none, _ := s.EventsAfter(ctx, last, 10); len(none) != 0 {
		t.Fatalf("EventsAfter(last) = %+v", none)
	}
	// The skipped ids of a feed reader are asked for with the tail: the
	// first and an unknown id, plus everything after the second.
	some, err := s.EventsAfterOrIn(ctx, all[1].ID, []int64{all[0].ID, last + 1000}, 10)
	ok(t, err, "events after or in")
	if len(some) != 2 || some[0].ID != all[0].ID || some[1].ID != all[2].ID {
		t.Fatalf("EventsAfterOrIn(second, [first, unknown]) = %+v", some)
	}
	if one, _ := s.EventsAfterOrIn(ctx, 0, []int64{all[2].ID}, 1); len(one) != 1 || one[0].ID != all[0].ID {
		t.Fatalf("EventsAfterOrIn(0, [last], 1) = %+v", one)
	}
	if none, _ := s.Events(ctx, "ex_none"); len(none) != 0 {
		t.Fatalf("events of an unknown exchange = %+v", none)
	}
}

func testOutbox(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i, due := range []time.Time{at(0), at(time.Minute), at(time.Hour)} {
		ok(t, s.EnqueueOutbox(ctx, store.OutboxItem{Kind: "webhook", Target: dstA, ExchangeID: fmt.Sprintf("ex_%d", i),
			Payload: []byte(`{"n":` + fmt.Sprint(i) + `}`), DueAt: due, FirstAt: at(0), Status: "ignored"}), "enqueueing")
	}
	now := at(2 * time.Minute)
	got, err := s.ClaimDeliveries(ctx, store.Claim{Now: now, Limit: 10, Node: "n1", Lease: time.Minute})
	ok(t, err, "claiming outbox")
	if len(got) != 2 {
		t.Fatalf("claimed %d items, want 2: %+v", len(got), got)
	}
	check(t, "claimed item", got[0], store.OutboxItem{ID: got[0].ID, Kind: "webhook", Target: dstA, ExchangeID: "ex_0", Payload: []byte(`{"n":0}`),
		DueAt: us(at(0)), FirstAt: us(at(0)), Status: store.OutboxPending, ClaimedBy: "n1", LeaseToken: got[0].LeaseToken})
	if got[0].LeaseToken == "" || got[0].LeaseToken != got[1].LeaseToken {
		t.Fatalf("a claim's items carry its one lease token: %q, %q", got[0].LeaseToken, got[1].LeaseToken)
	}
	if again, _ := s.ClaimDeliveries(ctx, store.Claim{Now: now.Add(30 * time.Second), Limit: 10, Node: "n2", Lease: time.Minute}); len(again) != 0 {
		t.Fatalf("leased items claimed again: %+v", again)
	}
	// The lease ran out (node n1 died): another node takes them.
	again, err := s.ClaimDeliveries(ctx, store.Claim{Now: now.Add(time.Minute), Limit: 10, Node: "n2", Lease: time.Minute})
	ok(t, err, "claiming outbox")
	if len(again) != 2 || again[0].ID != got[0].ID {
		t.Fatalf("items after lease = %+v", again)
	}

	first, second := again[0], again[1]
	first.Status, first.Attempts, first.LastError = store.OutboxDone, 1, ""
	ok(t, s.FinishOutbox(ctx, first), "finishing outbox item")
	second.Attempts, second.LastError, second.DueAt = 1, "503 Service Unavailable", at(10*time.Minute)
	ok(t, s.FinishOutbox(ctx, second), "rescheduling outbox item")
	// Retried item: lease cleared, due later.
	if got, _ := s.ClaimDeliveries(ctx, store.Claim{Now: at(9 * time.Minute), Limit: 10, Node: "n1", Lease: time.Minute}); len(got) != 0 {
		t.Fatalf("claimed before due: %+v", got)
	}
	got, _ = s.ClaimDeliveries(ctx, store.Claim{Now: at(10 * time.Minute), Limit: 10, Node: "n1", Lease: time.Minute})
	if len(got) != 1 || got[0].ID != second.ID || got[0].Attempts != 1 || got[0].LastError != "503 Service Unavailable" || !got[0].FirstAt.Equal(us(at(0))) {
		t.Fatalf("retried item = %+v", got)
	}
	dead := got[0]
	dead.Status, dead.Attempts, dead.LastError = store.OutboxDead, 8, "gave up"
	ok(t, s.FinishOutbox(ctx, dead), "finishing outbox item")
	if got, _ := s.ClaimDeliveries(ctx, store.Claim{Now: at(100 * time.Hour), Limit: 10, Node: "n1", Lease: time.Minute}); len(got) != 1 || got[0].ExchangeID != "ex_2" {
		t.Fatalf("claim after done/dead = %+v", got)
	}

	list, err := s.ListDeliveries(ctx, store.OutboxFilter{Status: store.OutboxDone, Limit: 10})
	ok(t, err, "listing outbox")
	if len(list) != 1 || list[0].ID != first.ID || list[0].Status != store.OutboxDone {
		t.Fatalf("done items = %+v", list)
	}
	list, _ = s.ListDeliveries(ctx, store.OutboxFilter{Status: store.OutboxDead, Limit: 10})
	if len(list) != 1 || list[0].LastError != "gave up" || list[0].Attempts != 8 {
		t.Fatalf("dead items = %+v", list)
	}
	list, _ = s.ListDeliveries(ctx, store.OutboxFilter{Status: "", Limit: 10})
	if len(list) != 3 || list[0].ID < list[1].ID || list[1].ID < list[2].ID {
		t.Fatalf("all items, newest first = %+v", list)
	}
	isCode(t, s.FinishOutbox(ctx, store.OutboxItem{ID: 999999, Status: store.OutboxDone}), bus.ErrNotFound, "finishing unknown item")
	// Pruning drops delivered items only, and only those older than the cut.
	n, err := s.PruneOutbox(ctx, at(-time.Second), 100)
	ok(t, err, "pruning outbox")
	if n != 0 {
		t.Fatalf("pruned %d items due before the first one", n)
	}
	n, err = s.PruneOutbox(ctx, at(100*time.Hour), 100)
	ok(t, err, "pruning outbox")
	if n != 1 {
		t.Fatalf("pruned %d items, want the one delivered", n)
	}
	if list, _ := s.ListDeliveries(ctx, store.OutboxFilter{Status: store.OutboxDone, Limit: 10}); len(list) != 0 {
		t.Fatalf("delivered items after pruning = %+v", list)
	}
	if list, _ := s.ListDeliveries(ctx, store.OutboxFilter{Status: store.OutboxDead, Limit: 10}); len(list) != 1 {
		t.Fatalf("dead items after pruning = %+v", list)
	}
}

func testClaimDeliveriesConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const items, workers = 20, 4
	for i := range items {
		ok(t, s.EnqueueOutbox(ctx, store.OutboxItem{Kind: "webhook", Target: dstA, ExchangeID: fmt.Sprint(i), DueAt: at(0)}), "enqueueing")
	}
	var mu sync.Mutex
	seen := map[int64]bool{}
	var errs []error
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for {
				got, err := s.ClaimDeliveries(ctx, store.Claim{Now: at(time.Minute), Limit: 2, Node: fmt.Sprint("n", w), Lease: time.Hour})
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				for _, it := range got {
					if seen[it.ID] {
						errs = append(errs, fmt.Errorf("item %d claimed twice", it.ID))
					}
					seen[it.ID] = true
				}
				mu.Unlock()
				if err != nil || len(got) == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 || len(seen) != items {
		t.Fatalf("claimed %d of %d items; errors %v", len(seen), items, errs)
	}
}
