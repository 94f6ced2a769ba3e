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
//
// Concurrent misses of one entry share one read (the first reads, the
// others wait for its result): when an entry expires under load, the
// store sees one read, not one per request in flight. A read that was
// under way when Flush ran is returned to its callers but not kept.
type KeyCache struct {
	Store KeyStore
	TTL   time.Duration // default CacheTTL

	mu      sync.Mutex
	gen     uint64 // incremented by Flush
	keys    map[string]cachedKey
	systems map[string]cachedSystem
	reads   map[string]*read // "k"+access key or "s"+system code
}

type cachedKey struct {
	k  store.Key
	at time.Time
}

type cachedSystem struct {
	s  store.System
	at time.Time
}

// read is one store read shared by concurrent misses.
type read struct {
	done chan struct{}
	k    store.Key
	s    store.System
	err  error
	n    int // callers waiting for it (tests)
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
	if e, ok := c.keys[accessKey]; ok && now.Sub(e.at) < c.ttl() {
		c.mu.Unlock()
		return e.k, nil
	}
	rd, gen, leader := c.join("k" + accessKey)
	c.mu.Unlock()
	if !leader {
		if err := c.wait(ctx, rd); err == nil {
			return rd.k, nil
		}
		// The shared read failed, perhaps only because its caller went
		// away: read for this request alone.
		return c.Store.GetKey(ctx, accessKey)
	}
	rd.k, rd.err = c.Store.GetKey(ctx, accessKey)
	c.mu.Lock()
	if rd.err == nil && gen == c.gen {
		if c.keys == nil || len(c.keys) >= maxCached {
			c.keys = map[string]cachedKey{}
		}
		c.keys[accessKey] = cachedKey{k: rd.k, at: now}
	}
	c.leave("k"+accessKey, rd)
	c.mu.Unlock()
	return rd.k, rd.err
}

// GetSystem returns the system, from the cache when fresh.
func (c *KeyCache) GetSystem(ctx context.Context, code string) (store.System, error) {
	now := time.Now()
	c.mu.Lock()
	if e, ok := c.systems[code]; ok && now.Sub(e.at) < c.ttl() {
		c.mu.Unlock()
		return e.s, nil
	}
	rd, gen, leader := c.join("s" + code)
	c.mu.Unlock()
	if !leader {
		if err := c.wait(ctx, rd); err == nil {
			return rd.s, nil
		}
		return c.Store.GetSystem(ctx, code)
	}
	rd.s, rd.err = c.Store.GetSystem(ctx, code)
	c.mu.Lock()
	if rd.err == nil && gen == c.gen {
		if c.systems == nil || len(c.systems) >= maxCached {
			c.systems = map[string]cachedSystem{}
		}
		c.systems[code] = cachedSystem{s: rd.s, at: now}
	}
	c.leave("s"+code, rd)
	c.mu.Unlock()
	return rd.s, rd.err
}

// join returns the read under way for id, or starts one (leader true);
// c.mu is held.
func (c *KeyCache) join(id string) (rd *read, gen uint64, leader bool) {
	if rd, ok := c.reads[id]; ok {
		rd.n++
		return rd, c.gen, false
	}
	if c.reads == nil {
		c.reads = map[string]*read{}
	}
	rd = &read{done: make(chan struct{})}
	c.reads[id] = rd
	return rd, c.gen, true
}

// leave ends the read of id and wakes its followers; c.mu is held.
func (c *KeyCache) leave(id string, rd *read) {
	if c.reads[id] == rd {
		delete(c.reads, id)
	}
	close(rd.done)
}

// wait waits for a shared read; its error, or ctx's.
func (c *KeyCache) wait(ctx context.Context, rd *read) error {
	select {
	case <-rd.done:
		return rd.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Flush forgets everything, including what reads under way will return.
func (c *KeyCache) Flush() {
	c.mu.Lock()
	c.keys, c.systems = nil, nil
	c.gen++
	// Requests arriving from now on must not join a read that began
	// before the change: they start their own.
	c.reads = nil
	c.mu.Unlock()
}
