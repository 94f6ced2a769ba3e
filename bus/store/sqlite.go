package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

var sqliteDialect = &dialect{
	name:          "sqlite",
	insertIgnore:  "INSERT OR IGNORE",
	migrationsDDL: "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL)",
	isDuplicate: func(err error) bool {
		var se *sqlite.Error
		if !errors.As(err, &se) {
			return false
		}
		c := se.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || c == sqlite3.SQLITE_CONSTRAINT_UNIQUE
	},
	retryable: func(error) bool { return false },
}

// sqliteDSN builds the URI of a database file for modernc.org/sqlite. The
// _pragma parameters run on every new connection.
func sqliteDSN(abs string, reader bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	// secure_delete overwrites deleted content (payload chunks, wrapped
	// keys) with zeros instead of leaving it in free pages.
	q.Add("_pragma", "secure_delete(ON)")
	if reader {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Set("_txlock", "immediate")
	}
	u := url.URL{Scheme: "file", Path: abs, RawQuery: q.Encode()}
	return u.String()
}

// OpenSQLite opens (creating it if needed) the SQLite database at path and
// applies the pending migrations. The parent directory is created with mode
// 0700 and the file with mode 0600 (SQLite gives its -wal and -shm files
// the mode of the database). Writes go through one connection, whose
// transactions are BEGIN IMMEDIATE, so they never fail on a lock upgrade;
// reads use a separate query_only pool and see the last committed state
// (WAL).
//
// After each Purge the WAL is checkpointed and truncated, so that no copy
// of a purged payload is left in it.
func OpenSQLite(ctx context.Context, path string) (Store, error) {
	if path == "" {
		return nil, errors.New("opening sqlite: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("opening sqlite %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("creating directory of %s: %w", abs, err)
	}
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", abs, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("creating %s: %w", abs, err)
	}

	w, err := sql.Open("sqlite", sqliteDSN(abs, false))
	if err != nil {
		return nil, fmt.Errorf("opening sqlite %s: %w", abs, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("opening sqlite %s: %w", abs, err)
	}
	if err := migrate(ctx, w, sqliteDialect); err != nil {
		w.Close()
		return nil, fmt.Errorf("migrating %s: %w", abs, err)
	}

	r, err := sql.Open("sqlite", sqliteDSN(abs, true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("opening sqlite %s for reading: %w", abs, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("opening sqlite %s for reading: %w", abs, err)
	}

	s := &sqlStore{d: sqliteDialect, w: w, r: r}
	wp := &walWiper{w: w}
	s.afterPurge = wp.wipe
	return s, nil
}

// walWiper truncates the WAL after purges. The WAL keeps the pages a purge
// deleted (and every earlier version of them) until a checkpoint copies it
// into the database file, where secure_delete has zeroed them, and
// truncates it. A TRUNCATE checkpoint costs an fsync and blocks writers,
// so concurrent purges share one: a purge waits for a checkpoint that
// started after it committed, and only runs one itself if none did.
type walWiper struct {
	w       *sql.DB
	seq     atomic.Uint64 // purges committed so far
	mu      sync.Mutex    // held while checkpointing
	covered uint64        // seq when the last complete checkpoint started; under mu
}

func (p *walWiper) wipe(ctx context.Context) error {
	ticket := p.seq.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.covered >= ticket {
		return nil
	}
	// Take the (only) writer connection first: purges that committed
	// before this point are covered by the checkpoint.
	c, err := p.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("truncating the wal: %w", err)
	}
	defer c.Close()
	started := p.seq.Load()
	var busy, logFrames, done int
	if err := c.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &done); err != nil {
		return fmt.Errorf("truncating the wal: %w", err)
	}
	if busy != 0 {
		// Readers of an older snapshot outlasted busy_timeout; the next
		// purge or SQLite's own checkpoints truncate it later.
		return errors.New("truncating the wal: readers kept it busy; the purge is committed, its old pages not yet wiped")
	}
	p.covered = started
	return nil
}
