package auth

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tuyenquang/lgsp/bus/store"
)

// gatedKeys is a KeyStore whose reads are counted and held until release
// is closed.
type gatedKeys struct {
	reads   atomic.Int64
	started chan struct{} // one value per read that began
	release chan struct{}
	status  atomic.Value // the key status returned
}

func (g *gatedKeys) GetKey(ctx context.Context, accessKey string) (store.Key, error) {
	g.reads.Add(1)
	k := store.Key{AccessKey: accessKey, Status: g.status.Load().(string)} // as of the read's start
	g.started <- struct{}{}
	<-g.release
	return k, nil
}

func (g *gatedKeys) GetSystem(ctx context.Context, code string) (store.System, error) {
	g.reads.Add(1)
	g.started <- struct{}{}
	<-g.release
	return store.System{Code: code, Status: store.SystemActive}, nil
}

func TestKeyCacheConcurrentMissesShareOneRead(t *testing.T) {
	g := &gatedKeys{started: make(chan struct{}, 100), release: make(chan struct{})}
	g.status.Store(store.KeyActive)
	c := &KeyCache{Store: g}
	const n = 50
	var wg sync.WaitGroup
	var wrong atomic.Int64
	for range n {
		wg.Go(func() {
			k, err := c.GetKey(context.Background(), "AK1")
			if err != nil || k.AccessKey != "AK1" {
				wrong.Add(1)
			}
		})
	}
	<-g.started // the first read is under way; let the others pile up on it
	for waiting := 0; waiting < n-1; runtime.Gosched() {
		c.mu.Lock()
		waiting = c.reads["kAK1"].n
		c.mu.Unlock()
	}
	close(g.release)
	wg.Wait()
	if wrong.Load() != 0 {
		t.Fatalf("%d callers got a wrong answer", wrong.Load())
	}
	if r := g.reads.Load(); r != 1 {
		t.Fatalf("%d concurrent misses made %d store reads, want 1", n, r)
	}
	if _, err := c.GetSystem(context.Background(), "S1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetSystem(context.Background(), "S1"); err != nil {
		t.Fatal(err)
	}
	if r := g.reads.Load(); r != 2 {
		t.Fatalf("two system lookups made %d reads in all, want 2 (one key, one system)", r)
	}
}

func TestKeyCacheFlushDropsAReadUnderWay(t *testing.T) {
	g := &gatedKeys{started: make(chan struct{}, 100), release: make(chan struct{})}
	g.status.Store(store.KeyActive)
	c := &KeyCache{Store: g}
	done := make(chan store.Key)
	go func() {
		k, _ := c.GetKey(context.Background(), "AK1")
		done <- k
	}()
	<-g.started
	// A revocation commits and flushes the cache while the read is under way.
	g.status.Store(store.KeyRevoked)
	c.Flush()
	close(g.release)
	if k := <-done; k.Status != store.KeyActive {
		t.Fatalf("the read under way returned %s", k.Status)
	}
	// The next lookup must not be served what that read returned.
	k, err := c.GetKey(context.Background(), "AK1")
	if err != nil {
		t.Fatal(err)
	}
	if k.Status != store.KeyRevoked {
		t.Fatalf("after Flush the cache served the read that began before it: status %s", k.Status)
	}
}
