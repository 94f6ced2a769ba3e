package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tuyenquang/lgsp/bus"
)

// defaultLimit replaces a limit ≤ 0 in listings and claims.
const defaultLimit = 100

// dialect is what differs between SQLite and MySQL. Everything else — the
// queries, the transactions, the checks — is shared by sqlStore.
type dialect struct {
	name string
	// forUpdate locks the rows a SELECT reads until the transaction ends
	// ("" on SQLite, whose write transactions are exclusive anyway).
	forUpdate string
	// forShare locks them against writers only.
	forShare string
	// skipLocked is forUpdate, skipping rows that another transaction holds,
	// so that several nodes claim disjoint work.
	skipLocked string
	// insertIgnore starts an INSERT that does nothing on a duplicate key.
	insertIgnore string
	// migrationsDDL creates the schema_migrations table.
	migrationsDDL string
	// txOpts are the options of write transactions.
	txOpts *sql.TxOptions
	// isDuplicate reports a primary or unique key violation.
	isDuplicate func(error) bool
	// retryable reports an error after which the whole transaction may be
	// run again (a MySQL deadlock).
	retryable func(error) bool
}

// sqlStore implements Store on database/sql for both dialects.
type sqlStore struct {
	d *dialect
	w *sql.DB // writes (SQLite: one connection)
	r *sql.DB // reads (SQLite: a query_only pool; MySQL: a REPEATABLE READ pool)
	// afterPurge runs after a purge committed (SQLite: checkpoint and
	// truncate the WAL so that no copy of the deleted pages remains).
	afterPurge func(ctx context.Context) error
	// wc and rc cache prepared statements for w and r (SQLite only: on
	// MySQL the server's statement limits make per-connection caches
	// costly, and parsing happens on the database server anyway).
	wc, rc *stmtCache
	// batch, when set, runs writes with group commit (SQLite).
	batch *batcher
	// nonces, when set, records concurrent nonces in one statement (MariaDB).
	nonces *nonceBatcher
}

var _ Store = (*sqlStore)(nil)

// micros converts a time to unix microseconds; the zero time is 0.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// fromMicros converts unix microseconds back to a UTC time; 0 is the zero time.
func fromMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

func limitOr(n int) int {
	if n <= 0 {
		return defaultLimit
	}
	return n
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// write runs fn in a write transaction, again after a deadlock (MySQL).
// fn must not keep state across calls.
func (s *sqlStore) write(ctx context.Context, fn func(tx *txx) error) error {
	if s.batch != nil {
		return s.batch.do(ctx, fn)
	}
	return bus.Retry(ctx, deadlockRetry, func(int) error {
		err := s.writeOnce(ctx, fn)
		if err != nil && !s.d.retryable(err) {
			return bus.NoRetry(err)
		}
		return err
	})
}

// deadlockRetry repeats a transaction MySQL chose as a deadlock victim:
// five attempts, waits of a few milliseconds.
var deadlockRetry = bus.RetryPolicy{Initial: 2 * time.Millisecond, MaxInterval: 25 * time.Millisecond, MaxAttempts: 5, Jitter: 0.5}

func (s *sqlStore) writeOnce(ctx context.Context, fn func(tx *txx) error) error {
	stx, err := s.w.BeginTx(ctx, s.d.txOpts)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	tx := &txx{Tx: stx, c: s.wc}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing transaction: %w", err)
	}
	return nil
}

// read runs fn in a read-only transaction, so that its queries see one
// snapshot.
func (s *sqlStore) read(ctx context.Context, fn func(tx *txx) error) error {
	stx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("beginning read transaction: %w", err)
	}
	tx := &txx{Tx: stx, c: s.rc}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *sqlStore) Dialect() string { return s.d.name }

func (s *sqlStore) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("pinging %s: %w", s.d.name, err)
	}
	if s.r != s.w {
		if err := s.r.PingContext(ctx); err != nil {
			return fmt.Errorf("pinging %s readers: %w", s.d.name, err)
		}
	}
	return nil
}

func (s *sqlStore) Close() error {
	if s.batch != nil {
		s.batch.close()
	}
	if s.nonces != nil {
		s.nonces.close()
	}
	for _, c := range []*stmtCache{s.wc, s.rc} {
		if c != nil {
			c.close()
		}
	}
	var errs []error
	if s.r != s.w {
		errs = append(errs, s.r.Close())
	}
	errs = append(errs, s.w.Close())
	return errors.Join(errs...)
}

// collect scans every row with scan and closes rows.
func collect[T any](rows *sql.Rows, scan func(sc interface{ Scan(...any) error }) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
