package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/tuyenquang/lgsp/bus/store"
)

// metaTests cover store.MetaStore: installation facts written once, and
// samples of sealed data.
var metaTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"InitMeta", testInitMeta},
	{"InitMetaConcurrent", testInitMetaConcurrent},
	{"SealedSamples", testSealedSamples},
}

func runMeta(t *testing.T, open func(t *testing.T) store.Store) {
	for _, tc := range metaTests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func testInitMeta(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, found, err := s.GetMeta(ctx, store.MetaKeyCheck)
	ok(t, err, "reading unset meta")
	check(t, "unset meta found", found, false)
	got, err := s.InitMeta(ctx, store.MetaKeyCheck, []byte{1, 2, 0, 255})
	ok(t, err, "first InitMeta")
	check(t, "first InitMeta value", got, []byte{1, 2, 0, 255})
	got, err = s.InitMeta(ctx, store.MetaKeyCheck, []byte("other"))
	ok(t, err, "second InitMeta")
	check(t, "second InitMeta keeps the first value", got, []byte{1, 2, 0, 255})
	v, found, err := s.GetMeta(ctx, store.MetaKeyCheck)
	ok(t, err, "reading meta")
	check(t, "GetMeta", v, []byte{1, 2, 0, 255})
	check(t, "GetMeta found", found, true)
}

// testInitMetaConcurrent: nodes starting at once with different values all
// end up seeing one and the same value.
func testInitMetaConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 8
	got := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i], errs[i] = s.InitMeta(ctx, "race", []byte(fmt.Sprintf("node-%d", i))) })
	}
	wg.Wait()
	for i := range n {
		ok(t, errs[i], "concurrent InitMeta")
		check(t, "concurrent InitMeta agrees", got[i], got[0])
	}
}

func testSealedSamples(t *testing.T, s store.Store) {
	ctx := t.Context()
	got, err := s.SealedSamples(ctx, 3)
	ok(t, err, "samples of an empty store")
	check(t, "samples of an empty store", len(got), 0)
	newExchange(t, s, "ex_meta1", at(0), dstA)
	ok(t, s.CreateSystem(ctx, store.System{Code: dstA, Name: "A"}), "creating system")
	ok(t, s.CreateKey(ctx, store.Key{AccessKey: "AKMETA1", SystemCode: dstA, Alg: "LGSP-HMAC-SHA256", SecretEnc: []byte("sealed-secret"), Status: store.KeyActive, CreatedAt: at(0)}), "creating key")
	got, err = s.SealedSamples(ctx, 3)
	ok(t, err, "samples")
	check(t, "samples", got, []store.SealedSample{
		{Kind: store.SealedKeySecret, ID: "AKMETA1", Sealed: []byte("sealed-secret")},
		{Kind: store.SealedWrappedKey, ID: "ex_meta1", Sealed: []byte("wrapped-ex_meta1")},
	})
	ok(t, s.Purge(ctx, "ex_meta1", store.ExchangeCancelled, store.RecipientCancelled, at(1)), "purging")
	got, err = s.SealedSamples(ctx, 3)
	ok(t, err, "samples after purge")
	check(t, "samples after purge", len(got), 1)
}
