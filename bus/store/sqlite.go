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
	"time"

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
	// A 16 MiB page cache per connection (the default is 2 MiB): fewer
	// pread system calls for the hot pages of the ledger and indexes.
	q.Add("_pragma", "cache_size(-16384)")
	if reader {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		// FULL: every commit is synced to the WAL before it is answered.
		// NORMAL loses acknowledged commits when the file system fails
		// before a checkpoint (TestSQLiteDiskFullAndReadOnly: a disk error
		// that turns it read-only dropped a completed exchange).
		q.Add("_pragma", "synchronous(FULL)")
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
// After Purges the WAL is checkpointed and truncated in the background
// (see walWiper), so that no copy of a purged payload is left in it.
func OpenSQLite(ctx context.Context, path string) (Store, error) {
	return openSQLite(ctx, path, "sqlite")
}

// openSQLite is OpenSQLite on a named database/sql driver: "sqlite", or a
// wrapper around it (the hot-query plan test records statements so).
func openSQLite(ctx context.Context, path, driverName string) (Store, error) {
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

	w, err := sql.Open(driverName, sqliteDSN(abs, false))
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

	r, err := sql.Open(driverName, sqliteDSN(abs, true))
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

	wp := newWALWiper(w, 250*time.Millisecond)
	ss := &sqlStore{d: sqliteDialect, w: w, r: r, afterPurge: wp.request, wc: newStmtCache(w), rc: newStmtCache(r)}
	ss.batch = newBatcher(ss)
	return &sqliteStore{sqlStore: ss, wiper: wp}, nil
}

// walWiper wipes purged pages out of the WAL in the background. The WAL
// keeps the pages a purge deleted (and earlier versions of them) until a
// checkpoint copies it into the database file, where secure_delete has
// zeroed them, and truncates it. A TRUNCATE checkpoint costs fsyncs and
// blocks the writer, so it is kept off the request path: purges only ask
// for one, and one goroutine runs at most one checkpoint per minGap,
// covering every purge committed before it started. What a purge leaves
// in the WAL meanwhile is ciphertext and a sealed key — plaintext never
// reaches the disk — and it is gone within minGap plus one checkpoint.
type walWiper struct {
	w      *sql.DB
	minGap time.Duration
	log    func(error)

	gen   atomic.Uint64 // purges requested so far
	kick  chan struct{}
	stop  chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	wiped uint64        // gen covered by the last successful checkpoint; under mu
	event chan struct{} // closed after each checkpoint attempt; under mu
}

func newWALWiper(w *sql.DB, minGap time.Duration) *walWiper {
	p := &walWiper{w: w, minGap: minGap, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), event: make(chan struct{})}
	go p.run()
	return p
}

// request asks for a wipe covering every purge committed so far.
func (p *walWiper) request(context.Context) error {
	p.gen.Add(1)
	select {
	case p.kick <- struct{}{}:
	default:
	}
	return nil
}

func (p *walWiper) run() {
	defer close(p.done)
	for {
		select {
		case <-p.stop:
			p.checkpoint()
			return
		case <-p.kick:
		}
		if err := p.checkpoint(); err != nil {
			// Readers kept it busy: try again after the gap.
			select {
			case p.kick <- struct{}{}:
			default:
			}
		}
		t := time.NewTimer(p.minGap)
		select {
		case <-p.stop:
			t.Stop()
			p.checkpoint()
			return
		case <-t.C:
		}
	}
}

func (p *walWiper) checkpoint() error {
	g := p.gen.Load()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var busy, logFrames, done int
	err := p.w.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &done)
	if err == nil && busy != 0 {
		err = errors.New("readers kept the wal busy")
	}
	p.mu.Lock()
	if err == nil && g > p.wiped {
		p.wiped = g
	}
	close(p.event)
	p.event = make(chan struct{})
	p.mu.Unlock()
	return err
}

// WaitWiped blocks until every purge committed before the call is wiped
// from the WAL (tests and shutdown use it).
func (p *walWiper) WaitWiped(ctx context.Context) error {
	g := p.gen.Load()
	for {
		p.mu.Lock()
		ok, ev := p.wiped >= g, p.event
		p.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case p.kick <- struct{}{}:
		default:
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ev:
		}
	}
}

func (p *walWiper) close() {
	close(p.stop)
	<-p.done
}

// sqliteStore is the SQLite store: the shared SQL store plus its WAL wiper.
type sqliteStore struct {
	*sqlStore
	wiper *walWiper
}

// WaitWiped blocks until every purge so far is wiped from the WAL.
func (s *sqliteStore) WaitWiped(ctx context.Context) error { return s.wiper.WaitWiped(ctx) }

// Close stops the wiper (after a last checkpoint) and closes the database.
func (s *sqliteStore) Close() error {
	s.wiper.close()
	return s.sqlStore.Close()
}
