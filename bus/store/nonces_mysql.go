package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// nonceBatcher records the nonces of concurrent signed requests on MariaDB
// in one statement, INSERT IGNORE … VALUES (…), (…) RETURNING, which
// answers with the rows it inserted: a nonce not returned was there already
// (a replay). Every request still waits for the commit of the statement
// holding its nonce — replay checks across nodes are unchanged — but N
// concurrent checks cost one statement and one commit instead of N.
// MySQL has no INSERT … RETURNING; it keeps one statement per nonce.
type nonceBatcher struct {
	s    *sqlStore
	reqs chan *nonceReq
	stop chan struct{}
	wg   sync.WaitGroup
}

type nonceReq struct {
	key, nonce string
	expires    int64
	fresh      bool
	err        error
	done       chan struct{}
}

const (
	nonceRunners  = 4   // batches in flight at once
	nonceMaxBatch = 256 // nonces per statement at most
)

func newNonceBatcher(s *sqlStore) *nonceBatcher {
	b := &nonceBatcher{s: s, reqs: make(chan *nonceReq, 4*nonceMaxBatch), stop: make(chan struct{})}
	for range nonceRunners {
		b.wg.Go(b.run)
	}
	return b
}

func (b *nonceBatcher) close() {
	close(b.stop)
	b.wg.Wait()
}

// use records a nonce; fresh is false when it was recorded before.
func (b *nonceBatcher) use(ctx context.Context, key, nonce string, expires time.Time) (bool, error) {
	r := &nonceReq{key: key, nonce: nonce, expires: micros(expires), done: make(chan struct{})}
	select {
	case b.reqs <- r:
	case <-ctx.Done():
		return false, ctx.Err()
	case <-b.stop:
		return false, fmt.Errorf("recording nonce of %s: store closed", key)
	}
	select {
	case <-r.done:
		return r.fresh, r.err
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// run takes whatever requests wait (at least one) and records them at once.
func (b *nonceBatcher) run() {
	batch := make([]*nonceReq, 0, nonceMaxBatch)
	for {
		batch = batch[:0]
		select {
		case <-b.stop:
			return
		case r := <-b.reqs:
			batch = append(batch, r)
		}
	fill:
		for len(batch) < nonceMaxBatch {
			select {
			case r := <-b.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		b.record(batch)
		for _, r := range batch {
			close(r.done)
		}
	}
}

type nonceID struct{ key, nonce string }

// record inserts the batch's nonces in one statement and sets each
// request's answer. A nonce twice in the batch is fresh for its first
// request only. On an error every request is tried alone.
func (b *nonceBatcher) record(batch []*nonceReq) {
	first := make(map[nonceID]*nonceReq, len(batch))
	var rows []*nonceReq
	for _, r := range batch {
		id := nonceID{r.key, r.nonce}
		if _, dup := first[id]; dup {
			continue // answered below: fresh stays false
		}
		first[id] = r
		rows = append(rows, r)
	}
	// The same order in every batch, so that two batches lock keys alike.
	slices.SortFunc(rows, func(x, y *nonceReq) int {
		return cmp.Or(strings.Compare(x.key, y.key), strings.Compare(x.nonce, y.nonce))
	})
	args := make([]any, 0, 3*len(rows))
	for _, r := range rows {
		args = append(args, r.key, r.nonce, r.expires)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	q := "INSERT IGNORE INTO nonces (access_key, nonce, expires_at) VALUES " +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?), ", len(rows)), ", ") + " RETURNING access_key, nonce"
	err := func() error {
		res, err := b.s.w.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer res.Close()
		for res.Next() {
			var id nonceID
			if err := res.Scan(&id.key, &id.nonce); err != nil {
				return err
			}
			if r := first[id]; r != nil {
				r.fresh = true
			}
		}
		return res.Err()
	}()
	if err != nil {
		for _, r := range batch {
			r.fresh, r.err = false, nil
		}
		for _, r := range rows {
			r.fresh, r.err = b.s.useNonceAlone(ctx, r.key, r.nonce, r.expires)
		}
	}
}
