package auth

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/bus/vault"
)

// memStore is an in-memory fake of the few store.Store methods this package
// uses. The real SQLite and MariaDB stores pass the conformance suite in
// package storetest.
type memStore struct {
	mu      sync.Mutex
	systems map[string]store.System
	keys    map[string]store.Key
	nonces  map[string]time.Time
	fail    error // returned by every method when set
}

var (
	_ RegistryStore = (*memStore)(nil)
	_ KeyStore      = (*memStore)(nil)
	_ NonceStore    = (*memStore)(nil)
	_ KeyStore      = store.Store(nil)
	_ RegistryStore = store.Store(nil)
	_ NonceStore    = store.Store(nil)
)

func newMemStore() *memStore {
	return &memStore{systems: map[string]store.System{}, keys: map[string]store.Key{}, nonces: map[string]time.Time{}}
}

func (m *memStore) CreateSystem(_ context.Context, s store.System) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if _, ok := m.systems[s.Code]; ok {
		return bus.ErrSystemExists.New("%s", s.Code)
	}
	m.systems[s.Code] = s
	return nil
}

func (m *memStore) GetSystem(_ context.Context, code string) (store.System, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return store.System{}, m.fail
	}
	s, ok := m.systems[code]
	if !ok {
		return store.System{}, bus.ErrSystemNotFound.New("%s", code)
	}
	return s, nil
}

func (m *memStore) ListSystems(context.Context) ([]store.System, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.System
	for _, s := range m.systems {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out, nil
}

func (m *memStore) UpdateSystem(_ context.Context, s store.System) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.systems[s.Code]; !ok {
		return bus.ErrSystemNotFound.New("%s", s.Code)
	}
	m.systems[s.Code] = s
	return nil
}

func (m *memStore) CreateKey(_ context.Context, k store.Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.keys[k.AccessKey]; ok {
		return errors.New("duplicate access key")
	}
	m.keys[k.AccessKey] = k
	return nil
}

func (m *memStore) GetKey(_ context.Context, ak string) (store.Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return store.Key{}, m.fail
	}
	k, ok := m.keys[ak]
	if !ok {
		return store.Key{}, bus.ErrKeyNotFound.New("%s", ak)
	}
	return k, nil
}

func (m *memStore) ListKeys(_ context.Context, code string) ([]store.Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Key
	for _, k := range m.keys {
		if k.SystemCode == code {
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].AccessKey < out[j].AccessKey })
	return out, nil
}

func (m *memStore) RevokeKey(_ context.Context, ak string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[ak]
	if !ok {
		return bus.ErrKeyNotFound.New("%s", ak)
	}
	k.Status, k.RevokedAt = store.KeyRevoked, at
	m.keys[ak] = k
	return nil
}

func (m *memStore) UseNonce(_ context.Context, ak, nonce string, expires time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return false, m.fail
	}
	k := ak + "\x00" + nonce
	if _, ok := m.nonces[k]; ok {
		return false, nil
	}
	m.nonces[k] = expires
	return true, nil
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func testVault(t testing.TB) *vault.Vault {
	t.Helper()
	v, err := vault.New(make([]byte, vault.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// putKey stores a key with a known secret, sealed as the registry does
// (for a public-key algorithm, secret is the public key).
func putKey(t testing.TB, m *memStore, v *vault.Vault, k store.Key, secret string) {
	t.Helper()
	if k.Alg == "" {
		k.Alg = AlgHMACSHA256
	}
	if k.Status == "" {
		k.Status = store.KeyActive
	}
	if AlgKeyKind(k.Alg) == store.KeyPublic {
		k.Kind, k.PublicKey = store.KeyPublic, []byte(secret) // a public key is stored as it is, never sealed
	} else {
		k.Kind, k.SecretEnc = store.KeyShared, v.Seal([]byte(secret), SecretAAD(k.AccessKey))
	}
	if err := m.CreateKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
}

func wantCode(t testing.TB, err error, code bus.Code) {
	t.Helper()
	if got := bus.CodeOf(err); got != code {
		t.Fatalf("error code = %q, want %q (err: %v)", got, code, err)
	}
}

// cloneRequest copies r deeply enough for a case to tamper with it.
func cloneRequest(r *http.Request) *http.Request {
	c := r.Clone(context.Background())
	u := *r.URL
	c.URL = &u
	return c
}
