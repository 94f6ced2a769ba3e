package exchange

import (
	"context"
	"time"

	"github.com/tuyenquang/lgsp/bus/store"
)

// claimBatch bounds the deliveries claimed per store call.
const claimBatch = 256

func (s *Service) kick() {
	select {
	case s.due <- struct{}{}:
	default:
	}
}

// RunDispatcher moves due deliveries to "notified" (F4) until ctx is done:
// at once when an exchange completes with immediate delivery, and every
// second for cron-planned ones. Several nodes may run it; the store gives
// each delivery to one of them.
func (s *Service) RunDispatcher(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.due:
		case <-t.C:
		}
		for ctx.Err() == nil {
			rs, err := s.store.ClaimDue(ctx, s.now().UTC(), claimBatch, s.node, s.pushed)
			if err != nil {
				if ctx.Err() == nil {
					s.log.WithError(err).Error("claiming due deliveries")
				}
				break
			}
			if len(rs) > 0 {
				s.wake()
			}
			if len(rs) < claimBatch {
				break
			}
		}
	}
}

// Expire purges exchanges whose expiry passed before every recipient
// confirmed (R2: nothing waits forever). It returns how many it purged.
func (s *Service) Expire(ctx context.Context) (int, error) {
	n := 0
	for {
		ids, err := s.store.Expired(ctx, s.now().UTC(), 100)
		if err != nil || len(ids) == 0 {
			return n, err
		}
		for _, id := range ids {
			ex, err := s.store.GetExchange(ctx, id)
			if err != nil {
				return n, err
			}
			now := s.now().UTC()
			if err := s.store.Purge(ctx, id, store.ExchangeExpired, store.RecipientExpired, now,
				s.event(id, "expired", "lgsp", "", map[string]any{"source": ex.Source, "expires_at": ex.ExpiresAt}),
				s.event(id, "purged", "lgsp", "", map[string]any{"source": ex.Source, "reason": "expired"})); err != nil {
				return n, err
			}
			n++
		}
		s.wake()
	}
}

// sweepBatch bounds the exchanges one Sweep pass completes per store call.
const sweepBatch = 100

// Sweep repairs what a crash of a node can leave half done, so that no
// payload outlives its exchange (R2): it completes and purges exchanges
// whose recipients are all final but which were not purged (a node
// stopped between the last confirmation and the purge), and deletes
// chunks no exchange can read (past the stored offset, or of a purged
// exchange). It runs at start-up and periodically; several nodes may run
// it at once, since Purge and DeleteStrayChunks are idempotent.
func (s *Service) Sweep(ctx context.Context) (completed int, strays int64, err error) {
	for ctx.Err() == nil {
		ids, err := s.store.Settled(ctx, sweepBatch)
		if err != nil {
			return completed, 0, err
		}
		for _, id := range ids {
			if err := s.maybeComplete(ctx, id, "sweeper"); err != nil {
				return completed, 0, err
			}
			completed++
		}
		if len(ids) < sweepBatch {
			break
		}
	}
	strays, err = s.store.DeleteStrayChunks(ctx)
	return completed, strays, err
}
