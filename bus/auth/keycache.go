package auth

import (
	"context"
	"sync"
	"time"

	"github.com/tuyenquang/lgsp/bus/store"
)

// ChangeBound is how long a change to a key or a system (revocation,
// suspension, allowed algorithms) or to a grant may take to hold on every
// node, wherever it was made (admin API of any node, or the CLI writing
// the store directly): the caches on the authentication path keep what
// they read for at most CacheTTL, and a request in flight when the change
// commits finishes with what it read. The node where the change was made
// drops its caches at once.
const ChangeBound = time.Second

// CacheTTL is the default lifetime of KeyCache entries and of grant
// snapshots: half of ChangeBound, leaving the other half to the request
// that read the entry.
const CacheTTL = ChangeBound / 2

// KeyCache remembers successful key and system lookups for a short time,
// so that a signature check does not read both from the store on every
// request (two of the three store reads of a service call through the
// bus). Misses are never cached. The Registry of the same node flushes it
// on every change (Registry.OnChange), so a revocation or suspension made
// on this node holds at once; one made on another node or by the CLI holds
// within TTL (CacheTTL by default), so within ChangeBound.
type KeyCache struct {
	Store KeyStore
	TTL   time.Duration // default CacheTTL

	mu      sync.Mutex
	keys    map[string]cachedKey
	systems map[string]cachedSystem
}

type cachedKey struct {
	k  store.Key
	at time.Time
}

type cachedSystem struct {
	s  store.System
	at time.Time
}

// maxCached bounds each map; past it the cache starts over.
const maxCached = 1 << 16

var _ KeyStore = (*KeyCache)(nil)

func (c *KeyCache) ttl() time.Duration {
	if c.TTL > 0 {
		return c.TTL
	}
	return CacheTTL
}

// GetKey returns the key, from the cache when fresh.
func (c *KeyCache) GetKey(ctx context.Context, accessKey string) (store.Key, error) {
	now := time.Now()
	c.mu.Lock()
	e, ok := c.keys[accessKey]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.ttl() {
		return e.k, nil
	}
	k, err := c.Store.GetKey(ctx, accessKey)
	if err != nil {
		return k, err
	}
	c.mu.Lock()
	if c.keys == nil || len(c.keys) >= maxCached {
		c.keys = map[string]cachedKey{}
	}
	c.keys[accessKey] = cachedKey{k: k, at: now}
	c.mu.Unlock()
	return k, nil
}

// GetSystem returns the system, from the cache when fresh.
func (c *KeyCache) GetSystem(ctx context.Context, code string) (store.System, error) {
	now := time.Now()
	c.mu.Lock()
	e, ok := c.systems[code]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.ttl() {
		return e.s, nil
	}
	s, err := c.Store.GetSystem(ctx, code)
	if err != nil {
		return s, err
	}
	c.mu.Lock()
	if c.systems == nil || len(c.systems) >= maxCached {
		c.systems = map[string]cachedSystem{}
	}
	c.systems[code] = cachedSystem{s: s, at: now}
	c.mu.Unlock()
	return s, nil
}

// Flush forgets everything.
func (c *KeyCache) Flush() {
	c.mu.Lock()
	c.keys, c.systems = nil, nil
	c.mu.Unlock()
}
