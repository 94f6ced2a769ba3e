package store

import (
	"context"
	"fmt"
)

// batcher is SQLite's group commit. SQLite has one writer at a time, and
// each commit costs its own WAL writes, so concurrent writes are run by
// one goroutine, several to a transaction, and one COMMIT for all; one
// job's error rolls back only that job (see runBatch).
// A job's result is reported only after that commit, so "accepted" still
// means "durable". Batches take whatever is queued and never wait for
// more, so a lone write is not delayed.
type batcher struct {
	s    *sqlStore
	jobs chan *writeJob
	stop chan struct{}
	done chan struct{}
}

type writeJob struct {
	ctx  context.Context
	fn   func(tx *txx) error
	done chan error
}

// maxBatch bounds the jobs of one transaction.
const maxBatch = 64

func newBatcher(s *sqlStore) *batcher {
	b := &batcher{s: s, jobs: make(chan *writeJob, 4*maxBatch), stop: make(chan struct{}), done: make(chan struct{})}
	go b.run()
	return b
}

// do runs fn in the next batch and returns its outcome once committed.
func (b *batcher) do(ctx context.Context, fn func(tx *txx) error) error {
	j := &writeJob{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case b.jobs <- j:
	case <-ctx.Done():
		return ctx.Err()
	case <-b.stop:
		return fmt.Errorf("store is closed")
	}
	// Once queued, the job's outcome is awaited even if ctx ends: it may
	// already be committed.
	return <-j.done
}

func (b *batcher) run() {
	defer close(b.done)
	for {
		var first *writeJob
		select {
		case first = <-b.jobs:
		case <-b.stop:
			// Finish what was queued before the stop.
			for {
				select {
				case j := <-b.jobs:
					b.runBatch([]*writeJob{j})
				default:
					return
				}
			}
		}
		batch := []*writeJob{first}
	fill:
		for len(batch) < maxBatch {
			select {
			case j := <-b.jobs:
				batch = append(batch, j)
			default:
				break fill
			}
		}
		b.runBatch(batch)
	}
}

// runBatch runs the jobs of a batch in one transaction without
// savepoints. A savepoint per job made SQLite copy every page a job
// changed into a sub-journal (a temporary file) in case the job failed:
// ≈ a fifth of the writer's time for a rollback that is rarely needed.
// When a job fails, the transaction is rolled back whole, the job gets its
// error, and the others run again the careful way, a savepoint each
// (runBatchSavepoints): so a job's fn may run twice, as write's contract
// allows (fn keeps no state across calls), and only committed work is
// ever reported as done.
func (b *batcher) runBatch(batch []*writeJob) {
	if len(batch) == 1 {
		b.runBatchSavepoints(batch)
		return
	}
	ctx := context.Background()
	tx, ok := b.begin(ctx, batch)
	if !ok {
		return
	}
	results := make([]error, len(batch))
	for i, j := range batch {
		if err := j.ctx.Err(); err != nil {
			results[i] = err // nothing of it ran
			continue
		}
		if err := j.fn(tx); err != nil {
			_ = tx.Tx.Rollback()
			j.done <- err
			rest := make([]*writeJob, 0, len(batch)-1)
			for k, o := range batch {
				switch {
				case k == i:
				case k < i && results[k] != nil:
					o.done <- results[k]
				default:
					rest = append(rest, o)
				}
			}
			if len(rest) > 0 {
				b.runBatchSavepoints(rest)
			}
			return
		}
	}
	commitAndReport(tx, batch, results)
}

// begin opens the batch's transaction; when it cannot, every job gets the
// error.
func (b *batcher) begin(ctx context.Context, batch []*writeJob) (*txx, bool) {
	stx, err := b.s.w.BeginTx(ctx, b.s.d.txOpts)
	if err != nil {
		for _, j := range batch {
			j.done <- fmt.Errorf("beginning transaction: %w", err)
		}
		return nil, false
	}
	return &txx{Tx: stx, c: b.s.wc, fixed: ctx}, true
}

// runBatchSavepoints runs the jobs in one transaction, each in its own
// savepoint, so that one job's error rolls back only that job.
func (b *batcher) runBatchSavepoints(batch []*writeJob) {
	// Statements run without the jobs' cancellation: SQLite's interrupt
	// would roll back the whole transaction, other jobs' work included.
	ctx := context.Background()
	tx, ok := b.begin(ctx, batch)
	if !ok {
		return
	}
	results := make([]error, len(batch))
	for i, j := range batch {
		if err := j.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if len(batch) == 1 {
			results[i] = j.fn(tx)
			continue
		}
		if _, err := tx.ExecContext(ctx, "SAVEPOINT job"); err != nil {
			results[i] = fmt.Errorf("opening savepoint: %w", err)
			continue
		}
		if err := j.fn(tx); err != nil {
			results[i] = err
			if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO job"); rerr != nil {
				// The transaction is unusable: fail the whole batch.
				_ = tx.Tx.Rollback()
				for k, j := range batch {
					if results[k] == nil {
						results[k] = fmt.Errorf("rolling back a failed write: %w", rerr)
					}
					j.done <- results[k]
				}
				return
			}
		}
		if _, err := tx.ExecContext(ctx, "RELEASE job"); err != nil && results[i] == nil {
			results[i] = fmt.Errorf("releasing savepoint: %w", err)
		}
	}
	if len(batch) == 1 && results[0] != nil {
		_ = tx.Tx.Rollback()
		batch[0].done <- results[0]
		return
	}
	commitAndReport(tx, batch, results)
}

// commitAndReport commits the batch's transaction and gives every job its
// result: its own error, or the commit's when it had none.
func commitAndReport(tx *txx, batch []*writeJob, results []error) {
	if err := tx.Tx.Commit(); err != nil {
		for i := range results {
			if results[i] == nil {
				results[i] = fmt.Errorf("committing transaction: %w", err)
			}
		}
	}
	for i, j := range batch {
		j.done <- results[i]
	}
}

func (b *batcher) close() {
	close(b.stop)
	<-b.done
}
