package auth

import (
	"bufio"
	"container/heap"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tuyenquang/lgsp/bus"
)

// NonceCache remembers the nonces of each access key until they expire.
// Use records (accessKey, nonce) until expires and reports whether the pair
// was fresh; false means a replay. Errors are catalogue errors
// (system.busy when full, system.unavailable when the store fails).
type NonceCache interface {
	Use(ctx context.Context, accessKey, nonce string, expires time.Time) (fresh bool, err error)
}

// DefaultMaxNonces is the capacity of a MemoryNonces made with max ≤ 0.
// Nonces live at most 2×skew+1s (10 min 1 s by default), so one million
// entries carry at least 1,700 signed requests a second, sustained.
const DefaultMaxNonces = 1 << 20

// MemoryNonces is an in-memory NonceCache for a single node (the SQLite
// deployment). It is bounded, sharded to keep lock contention low, and
// forgets each nonce once it expires.
//
// When a shard is full of nonces that have not expired yet, Use refuses
// with bus.ErrBusy (503, Retry-After) instead of forgetting one. Forgetting
// a live nonce would reopen the replay window: anyone able to flood the
// cache could evict a captured request's nonce and then replay it. Refusing
// fails closed and keeps memory bounded; the client retries shortly, when
// the oldest nonces have expired. Only requests with a good signature reach
// the cache, so only holders of a key pair can fill it.
type MemoryNonces struct {
	// Now is the clock used to expire entries; nil means time.Now. Set it
	// before first use.
	Now func() time.Time

	seed   maphash.Seed
	shards []nonceShard
	per    int // capacity of each shard
	closed atomic.Bool
}

type nonceShard struct {
	mu   sync.Mutex
	m    map[string]time.Time // key → expiry
	heap expiryHeap           // same keys, earliest expiry first
}

type expiryEntry struct {
	key     string
	expires time.Time
}

type expiryHeap []expiryEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expires.Before(h[j].expires) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiryEntry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// NewMemoryNonces returns a cache that holds at most capacity nonces (about; the
// bound is split evenly over the shards). capacity ≤ 0 means DefaultMaxNonces.
func NewMemoryNonces(capacity int) *MemoryNonces {
	if capacity <= 0 {
		capacity = DefaultMaxNonces
	}
	n := capacity / 4096 // small caches get one shard, so their bound is exact
	n = min(max(n, 1), 64)
	m := &MemoryNonces{seed: maphash.MakeSeed(), shards: make([]nonceShard, n), per: (capacity + n - 1) / n}
	for i := range m.shards {
		m.shards[i].m = make(map[string]time.Time)
	}
	return m
}

// Use implements NonceCache.
func (m *MemoryNonces) Use(ctx context.Context, accessKey, nonce string, expires time.Time) (bool, error) {
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	t := now()
	key := accessKey + "\x00" + nonce
	s := &m.shards[maphash.String(m.seed, key)%uint64(len(m.shards))]
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.closed.Load() {
		// Saved for the next start: a nonce recorded now would not be in
		// the saved state, and so could be replayed after the restart.
		return false, bus.ErrUnavailable.New("the node is stopping")
	}
	s.evict(t)
	if exp, ok := s.m[key]; ok && t.Before(exp) {
		return false, nil
	}
	if !expires.After(t) {
		// Already expired: nothing to remember, and the verifier's clock
		// check keeps such a request out anyway.
		return true, nil
	}
	if len(s.m) >= m.per {
		wait := s.heap[0].expires.Sub(t)
		e := bus.ErrBusy.Wrap(ErrNoncesFull, "replay cache is full")
		e.RetryAfter = int(math.Ceil(wait.Seconds()))
		return false, e
	}
	s.m[key] = expires
	heap.Push(&s.heap, expiryEntry{key, expires})
	return true, nil
}

// ErrNoncesFull is the cause of the bus.ErrBusy error a full MemoryNonces
// returns.
var ErrNoncesFull = errors.New("nonce cache is full of unexpired nonces")

// evict drops every entry that expired at or before t, earliest first.
func (s *nonceShard) evict(t time.Time) {
	for len(s.heap) > 0 && !s.heap[0].expires.After(t) {
		e := heap.Pop(&s.heap).(expiryEntry)
		if exp, ok := s.m[e.key]; ok && exp.Equal(e.expires) {
			delete(s.m, e.key)
		}
	}
}

// Len returns the number of nonces held, expired ones not yet evicted
// included.
func (m *MemoryNonces) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// The saved state of a MemoryNonces: a header, one line per nonce (its
// expiry in Unix nanoseconds and the hex of access key NUL nonce), and a
// trailer, so that a torn file is refused rather than half believed.
const (
	nonceStateHeader  = "lgsp-nonces 1"
	nonceStateTrailer = "end"
)

// Save writes the nonces that have not expired at now to w and closes the
// cache: every later Use is refused (system.unavailable), so no nonce is
// accepted that the saved state does not hold. A node saves its cache as
// the last step of a clean stop, and Load gives it back to the next start.
func (m *MemoryNonces) Save(w io.Writer, now time.Time) error {
	for i := range m.shards {
		m.shards[i].mu.Lock()
	}
	m.closed.Store(true)
	defer func() {
		for i := range m.shards {
			m.shards[i].mu.Unlock()
		}
	}()
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, nonceStateHeader)
	for i := range m.shards {
		for key, exp := range m.shards[i].m {
			if exp.After(now) {
				fmt.Fprintf(bw, "%d %s\n", exp.UnixNano(), hex.EncodeToString([]byte(key)))
			}
		}
	}
	fmt.Fprintln(bw, nonceStateTrailer)
	return bw.Flush()
}

// Load adds the nonces of a state written by Save that have not expired
// at now, and returns how many. A state that is not whole (no header, a
// bad line, no trailer) is an error, and then nothing is added.
func (m *MemoryNonces) Load(r io.Reader, now time.Time) (int, error) {
	type entry struct {
		key string
		exp time.Time
	}
	var entries []entry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 4096)
	if !sc.Scan() || sc.Text() != nonceStateHeader {
		return 0, errors.New("nonce state: no header")
	}
	whole := false
	for sc.Scan() {
		line := sc.Text()
		if line == nonceStateTrailer {
			whole = true
			break
		}
		ns, hx, ok := strings.Cut(line, " ")
		n, err1 := strconv.ParseInt(ns, 10, 64)
		key, err2 := hex.DecodeString(hx)
		if !ok || err1 != nil || err2 != nil || len(key) == 0 {
			return 0, fmt.Errorf("nonce state: bad line %d", len(entries)+2)
		}
		if exp := time.Unix(0, n); exp.After(now) {
			entries = append(entries, entry{string(key), exp})
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("nonce state: %w", err)
	}
	if !whole || sc.Scan() {
		return 0, errors.New("nonce state: not whole (no trailer, or data after it)")
	}
	for _, e := range entries {
		s := &m.shards[maphash.String(m.seed, e.key)%uint64(len(m.shards))]
		s.mu.Lock()
		if _, ok := s.m[e.key]; !ok {
			s.m[e.key] = e.exp
			heap.Push(&s.heap, expiryEntry{e.key, e.exp})
		}
		s.mu.Unlock()
	}
	return len(entries), nil
}

// NonceStore is the store method StoreNonces needs; store.Store has it.
type NonceStore interface {
	UseNonce(ctx context.Context, accessKey, nonce string, expires time.Time) (bool, error)
}

// StoreNonces returns a NonceCache kept in the store, shared by every node
// on one MariaDB/MySQL database. The store's periodic PurgeNonces keeps it
// small. Errors that are not from the catalogue become system.unavailable.
func StoreNonces(s NonceStore) NonceCache { return storeNonces{s} }

type storeNonces struct{ s NonceStore }

func (n storeNonces) Use(ctx context.Context, accessKey, nonce string, expires time.Time) (bool, error) {
	fresh, err := n.s.UseNonce(ctx, accessKey, nonce, expires)
	if err != nil {
		return false, storeFault(err, "recording nonce")
	}
	return fresh, nil
}
