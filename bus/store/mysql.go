package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MySQL error numbers.
const (
	mysqlDuplicate = 1062
	mysqlDeadlock  = 1213
)

func mysqlErrno(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

var mysqlDialect = &dialect{
	name:          "mysql",
	forUpdate:     " FOR UPDATE",
	forShare:      " LOCK IN SHARE MODE",
	skipLocked:    " FOR UPDATE SKIP LOCKED",
	insertIgnore:  "INSERT IGNORE",
	migrationsDDL: "CREATE TABLE IF NOT EXISTS schema_migrations (version INT NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL) ENGINE=InnoDB",
	// The isolation levels are set once per connection (see openMySQL):
	// READ COMMITTED on the writers' pool, REPEATABLE READ on the readers'
	// (one snapshot per read transaction). A level in the transaction's
	// options would cost a SET TRANSACTION round trip before every BEGIN.
	txOpts:      nil,
	isDuplicate: func(err error) bool { return mysqlErrno(err) == mysqlDuplicate },
	retryable:   func(err error) bool { return mysqlErrno(err) == mysqlDeadlock },
}

// migrateLock names the lock that keeps nodes from migrating at once.
const migrateLock = "lgsp_migrate"

// OpenMySQL opens a MariaDB (≥ 10.6) or MySQL (≥ 8.0) database given a
// go-sql-driver DSN (user:pass@tcp(host:port)/db?params) and applies the
// pending migrations, holding GET_LOCK('lgsp_migrate') so that nodes
// starting together migrate one after the other.
//
// Some DSN settings are forced: parseTime off (times are BIGINT
// microseconds), utf8mb4, CLIENT_FOUND_ROWS (an UPDATE reports the rows it
// matched, so compare-and-set checks hold when nothing changed) and
// client-side parameter interpolation (one round trip per statement).
func OpenMySQL(ctx context.Context, dsn string) (Store, error) {
	return openMySQL(ctx, dsn, nil)
}

// openMySQL is OpenMySQL with an optional wrapper around the driver's
// connector (the hot-query EXPLAIN test records every statement through it).
func openMySQL(ctx context.Context, dsn string, wrap func(driver.Connector) driver.Connector) (Store, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("parsing mysql dsn: %w", err)
	}
	if cfg.DBName == "" {
		return nil, errors.New("opening mysql: the dsn names no database")
	}
	cfg.ParseTime = false
	cfg.ClientFoundRows = true
	cfg.InterpolateParams = true
	cfg.Collation = "utf8mb4_general_ci"
	cfg.MultiStatements = false
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("opening mysql %s: %w", cfg.DBName, err)
	}
	// Two pools: writers run READ COMMITTED (no gap locks, no waits on
	// rows a concurrent claim holds; every write transaction used it), and
	// readers REPEATABLE READ so that a read transaction sees one snapshot.
	// The level is set when a connection opens, not in every transaction.
	pool := func(level string, open, idle int) *sql.DB {
		var dc driver.Connector = &sessionConnector{Connector: conn, init: "SET SESSION TRANSACTION ISOLATION LEVEL " + level}
		if wrap != nil {
			dc = wrap(dc)
		}
		db := sql.OpenDB(dc)
		db.SetMaxOpenConns(open)
		// Idle connections kept: enough that bursts of writes do not close
		// connections the next burst dials again (a new MariaDB session
		// costs a handshake, authentication and this SET), not so many
		// that every node holds its whole pool on the server for a minute.
		db.SetMaxIdleConns(idle)
		db.SetConnMaxLifetime(5 * time.Minute)
		db.SetConnMaxIdleTime(time.Minute)
		return db
	}
	db := pool("READ COMMITTED", mysqlWriters, mysqlWritersIdle)
	rdb := pool("REPEATABLE READ", mysqlReaders, mysqlReadersIdle)
	st := &sqlStore{d: mysqlDialect, w: db, r: rdb}
	if err := st.Ping(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("opening mysql %s at %s: %w", cfg.DBName, cfg.Addr, err)
	}
	if err := migrateMySQL(ctx, db); err != nil {
		st.Close()
		return nil, fmt.Errorf("migrating mysql %s: %w", cfg.DBName, err)
	}
	var version string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		st.Close()
		return nil, fmt.Errorf("reading the version of mysql %s: %w", cfg.DBName, err)
	}
	if strings.Contains(version, "MariaDB") { // INSERT … RETURNING (10.5+)
		st.nonces = newNonceBatcher(st)
	}
	return st, nil
}

// Connections per node to MariaDB/MySQL: writers (every write and its
// transaction) and readers (single reads and read transactions).
const (
	mysqlWriters = 20
	mysqlReaders = 12
	// At most idle: 20 per node (one pool of 32 kept 16).
	mysqlWritersIdle = 8
	mysqlReadersIdle = 12
)

// sessionConnector runs init on every new connection.
type sessionConnector struct {
	driver.Connector
	init string
}

func (c *sessionConnector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	ex, ok := dc.(driver.ExecerContext)
	if !ok {
		dc.Close()
		return nil, errors.New("mysql connection cannot execute statements")
	}
	if _, err := ex.ExecContext(ctx, c.init, nil); err != nil {
		dc.Close()
		return nil, fmt.Errorf("%s: %w", c.init, err)
	}
	return dc, nil
}

// migrateMySQL migrates on one connection that holds the migration lock
// (GET_LOCK is per session).
func migrateMySQL(ctx context.Context, db *sql.DB) error {
	c, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	var got sql.NullInt64
	if err := c.QueryRowContext(ctx, "SELECT GET_LOCK(?, 30)", migrateLock).Scan(&got); err != nil {
		return fmt.Errorf("taking lock %s: %w", migrateLock, err)
	}
	if !got.Valid || got.Int64 != 1 {
		return fmt.Errorf("taking lock %s: another node held it for 30s", migrateLock)
	}
	defer c.ExecContext(context.WithoutCancel(ctx), "DO RELEASE_LOCK(?)", migrateLock)
	return migrate(ctx, c, mysqlDialect)
}
