package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"sync"
)

// Recorder receives every statement the store sends through the driver,
// with its arguments, before it runs; transactions show as the markers
// TxBegin (or TxBeginRead), TxCommit and TxRollback, without arguments.
type Recorder func(query string, args []driver.NamedValue)

// Transaction markers passed to a Recorder.
const (
	TxBegin     = "-- BEGIN"
	TxBeginRead = "-- BEGIN READ ONLY"
	TxCommit    = "-- COMMIT"
	TxRollback  = "-- ROLLBACK"
)

func beginMarker(opts driver.TxOptions) string {
	if opts.ReadOnly {
		return TxBeginRead
	}
	return TxBegin
}

// recTx records the end of a transaction.
type recTx struct {
	driver.Tx
	rec Recorder
}

func (t recTx) Commit() error {
	t.rec(TxCommit, nil)
	return t.Tx.Commit()
}

func (t recTx) Rollback() error {
	t.rec(TxRollback, nil)
	return t.Tx.Rollback()
}

// OpenMySQLRecorded is OpenMySQL with every statement passed to rec: the
// hot-query EXPLAIN test (TestMySQLHotQueriesUseIndexes) records what a
// real exchange cycle runs, so that no query of the hot path escapes it.
func OpenMySQLRecorded(ctx context.Context, dsn string, rec Recorder) (Store, error) {
	return openMySQL(ctx, dsn, func(c driver.Connector) driver.Connector { return recConnector{c, rec} })
}

type recConnector struct {
	driver.Connector
	rec Recorder
}

func (c recConnector) Connect(ctx context.Context) (driver.Conn, error) {
	cn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &recConn{cn, c.rec}, nil
}

// recConn forwards everything to the go-sql-driver connection, recording
// queries and execs on the way.
type recConn struct {
	driver.Conn
	rec Recorder
}

func (c *recConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	c.rec(q, args)
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, q, args)
}

func (c *recConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	c.rec(q, args)
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, q, args)
}

func (c *recConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	c.rec(q, nil)
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, q)
}

func (c *recConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	c.rec(beginMarker(opts), nil)
	tx, err := c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return recTx{tx, c.rec}, nil
}

func (c *recConn) Ping(ctx context.Context) error { return c.Conn.(driver.Pinger).Ping(ctx) }

func (c *recConn) ResetSession(ctx context.Context) error {
	return c.Conn.(driver.SessionResetter).ResetSession(ctx)
}

func (c *recConn) IsValid() bool { return c.Conn.(driver.Validator).IsValid() }

func (c *recConn) CheckNamedValue(nv *driver.NamedValue) error {
	return c.Conn.(driver.NamedValueChecker).CheckNamedValue(nv)
}

var (
	liteRecOnce sync.Once
	liteRecMu   sync.Mutex
	liteRec     Recorder = func(string, []driver.NamedValue) {}
)

// OpenSQLiteRecorded is OpenSQLite with every statement passed to rec
// (prepared ones when they run, with their arguments). One recorder at a
// time: the driver wrapper is registered once for the process.
func OpenSQLiteRecorded(ctx context.Context, path string, rec Recorder) (Store, error) {
	liteRecOnce.Do(func() {
		db, err := sql.Open("sqlite", "")
		if err != nil {
			panic(err)
		}
		inner := db.Driver()
		db.Close()
		sql.Register("sqlite_recorded", liteRecDriver{inner})
	})
	liteRecMu.Lock()
	liteRec = rec
	liteRecMu.Unlock()
	return openSQLite(ctx, path, "sqlite_recorded")
}

func recordLite(q string, args []driver.NamedValue) {
	liteRecMu.Lock()
	rec := liteRec
	liteRecMu.Unlock()
	rec(q, args)
}

type liteRecDriver struct{ driver.Driver }

func (d liteRecDriver) Open(name string) (driver.Conn, error) {
	c, err := d.Driver.Open(name)
	if err != nil {
		return nil, err
	}
	return &liteRecConn{c}, nil
}

// liteRecConn forwards to modernc's connection (which has no
// CheckNamedValue, so neither has this).
type liteRecConn struct{ driver.Conn }

func (c *liteRecConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	recordLite(q, args)
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, q, args)
}

func (c *liteRecConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	recordLite(q, args)
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, q, args)
}

func (c *liteRecConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	return &liteRecStmt{st, q}, nil
}

func (c *liteRecConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	recordLite(beginMarker(opts), nil)
	tx, err := c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return recTx{tx, recordLite}, nil
}

func (c *liteRecConn) Ping(ctx context.Context) error { return c.Conn.(driver.Pinger).Ping(ctx) }

func (c *liteRecConn) ResetSession(ctx context.Context) error {
	return c.Conn.(driver.SessionResetter).ResetSession(ctx)
}

func (c *liteRecConn) IsValid() bool { return c.Conn.(driver.Validator).IsValid() }

type liteRecStmt struct {
	driver.Stmt
	q string
}

func (s *liteRecStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	recordLite(s.q, args)
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (s *liteRecStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	recordLite(s.q, args)
	return s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}
