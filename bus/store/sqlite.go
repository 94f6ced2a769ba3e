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
	s.afterPurge = func(ctx context.Context) error { return checkpoint(ctx, w) }
	return s, nil
}

// checkpoint copies the WAL into the database file and truncates it to
// zero bytes. It waits (busy_timeout) for readers of older snapshots; if
// they outlast that, the WAL is truncated at a later checkpoint.
func checkpoint(ctx context.Context, w *sql.DB) error {
	var busy, logFrames, done int
	if err := w.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &done); err != nil {
		return fmt.Errorf("checkpointing wal: %w", err)
	}
	return nil
}
