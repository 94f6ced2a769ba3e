package bus

import (
	"context"
	"sync"
)

// Group starts goroutines through one helper so that shutdown can wait for
// every one of them. A Group is stopped by cancelling the context given to
// NewGroup and then calling Wait.
type Group struct {
	ctx context.Context
	wg  sync.WaitGroup
}

// NewGroup returns a group whose goroutines receive ctx.
func NewGroup(ctx context.Context) *Group { return &Group{ctx: ctx} }

// Go runs fn in a goroutine accounted for by Wait.
func (g *Group) Go(fn func(ctx context.Context)) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		fn(g.ctx)
	}()
}

// Wait blocks until every goroutine started with Go has returned.
func (g *Group) Wait() { g.wg.Wait() }
