package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tuyenquang/lgsp/bus"
)

// CompatFloor is the oldest schema version whose binaries may still run on
// a database this binary has migrated: the last migration of the previous
// release (v0.1.0 ended at 0010). Every migration after it must be
// backward-compatible for one release — add tables, nullable columns or
// columns with defaults, indexes; never drop, rename or retype what the
// previous release reads or writes — so that nodes of both releases can
// share one MariaDB during a rolling upgrade (docs/operations.md,
// "Upgrades"). When a release is tagged, the next one raises this to that
// release's last migration.
const CompatFloor = 10

// floorPrefix names the meta rows recording, per migrating binary, the
// oldest schema version that may still run on the database
// (schema_floor_NNNN = "FFFF"; meta rows are written once, never changed).
const floorPrefix = "schema_floor_"

// schemaq is what the schema checks need of a connection.
type schemaq interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// SchemaStatus describes the migrations of a database against this binary.
type SchemaStatus struct {
	Dialect string
	// Known are the migrations this binary carries, in order.
	Known []SchemaMigration
	// Applied maps each applied version to when it was applied (including
	// versions this binary does not know).
	Applied map[int]time.Time
	// Floor is the oldest schema version that may run on the database, as
	// recorded by the binary that applied the newest migration (0 when it
	// recorded none).
	Floor int
}

// SchemaMigration is one migration this binary carries.
type SchemaMigration struct {
	Version int
	Name    string
}

// Latest is the newest version this binary knows.
func (s SchemaStatus) Latest() int {
	if len(s.Known) == 0 {
		return 0
	}
	return s.Known[len(s.Known)-1].Version
}

// Newest is the newest version applied to the database.
func (s SchemaStatus) Newest() int {
	n := 0
	for v := range s.Applied {
		n = max(n, v)
	}
	return n
}

// Pending lists the known migrations not applied yet.
func (s SchemaStatus) Pending() []SchemaMigration {
	var out []SchemaMigration
	for _, m := range s.Known {
		if _, ok := s.Applied[m.Version]; !ok {
			out = append(out, m)
		}
	}
	return out
}

// Compatible reports whether this binary may run on the database: nothing
// newer than it knows was applied, or the newer binary that applied it
// declared this one's schema still compatible (Floor ≤ Latest).
func (s SchemaStatus) Compatible() error {
	newest, latest := s.Newest(), s.Latest()
	if newest <= latest {
		return nil
	}
	floor := s.Floor
	if floor == 0 {
		floor = newest // a newer binary that declared nothing: assume it breaks us
	}
	if floor <= latest {
		return nil
	}
	return bus.ErrSchemaNewer.New("database schema is at version %04d and needs a binary knowing at least %04d; this binary knows up to %04d", newest, floor, latest)
}

// readSchema reads the applied migrations and the recorded floor.
func readSchema(ctx context.Context, db schemaq, dialect string) (SchemaStatus, error) {
	st, err := knownSchema(dialect)
	if err != nil {
		return st, err
	}
	rows, err := db.QueryContext(ctx, "SELECT version, applied_at FROM schema_migrations")
	if err != nil {
		return st, fmt.Errorf("reading schema_migrations: %w", err)
	}
	for rows.Next() {
		var v int
		var at int64
		if err := rows.Scan(&v, &at); err != nil {
			rows.Close()
			return st, fmt.Errorf("reading schema_migrations: %w", err)
		}
		st.Applied[v] = time.UnixMicro(at)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("reading schema_migrations: %w", err)
	}
	if _, hasMeta := st.Applied[8]; !hasMeta {
		return st, nil // no meta table yet: nothing recorded a floor
	}
	rows, err = db.QueryContext(ctx, "SELECT name, value FROM meta WHERE name LIKE ?", floorPrefix+"%")
	if err != nil {
		return st, fmt.Errorf("reading the schema floor: %w", err)
	}
	defer rows.Close()
	by := 0 // the floor said by the binary knowing the most
	for rows.Next() {
		var name string
		var b []byte
		if err := rows.Scan(&name, &b); err != nil {
			return st, fmt.Errorf("reading the schema floor: %w", err)
		}
		v, err1 := strconv.Atoi(strings.TrimPrefix(name, floorPrefix))
		f, err2 := strconv.Atoi(string(b))
		if err1 == nil && err2 == nil && v > by {
			by, st.Floor = v, f
		}
	}
	if by < st.Newest() {
		st.Floor = 0 // the binary that applied the newest migration said nothing
	}
	return st, rows.Err()
}

// knownSchema is the status of an empty database: the known migrations,
// nothing applied.
func knownSchema(dialect string) (SchemaStatus, error) {
	ms, err := migrations(dialect)
	if err != nil {
		return SchemaStatus{}, err
	}
	st := SchemaStatus{Dialect: dialect, Applied: map[int]time.Time{}}
	for _, m := range ms {
		st.Known = append(st.Known, SchemaMigration{Version: m.version, Name: m.name})
	}
	return st, nil
}

// recordFloor writes this binary's floor once (INSERT IGNORE): the oldest
// binaries that may keep running on the database it migrated.
func recordFloor(ctx context.Context, db schemaq, d *dialect, latest int) error {
	name := fmt.Sprintf("%s%04d", floorPrefix, latest)
	_, err := db.ExecContext(ctx, d.insertIgnore+" INTO meta (name, value, created_at) VALUES (?, ?, ?)", name, []byte(strconv.Itoa(CompatFloor)), micros(time.Now()))
	if err != nil {
		return fmt.Errorf("recording the schema floor: %w", err)
	}
	return nil
}

// ErrNoDatabase is returned by Schema when the SQLite file does not exist.
var ErrNoDatabase = errors.New("no database yet")

// Schema reads the migration status of the database a DSN names (see Open)
// without migrating or creating anything.
func Schema(ctx context.Context, dsn string) (SchemaStatus, error) {
	db, d, err := openRaw(ctx, dsn)
	if err != nil {
		return SchemaStatus{}, err
	}
	defer db.Close()
	var n int
	q := "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
	if d.name == "mysql" {
		q = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'schema_migrations'"
	}
	if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return SchemaStatus{}, fmt.Errorf("reading the schema: %w", err)
	}
	if n == 0 {
		return knownSchema(d.name)
	}
	return readSchema(ctx, db, d.name)
}

// openRaw opens a database for reading only, without migrations.
func openRaw(ctx context.Context, dsn string) (*sql.DB, *dialect, error) {
	if rest, ok := strings.CutPrefix(dsn, "mysql://"); ok {
		cfg, err := mysql.ParseDSN(rest)
		if err != nil {
			return nil, nil, fmt.Errorf("parsing mysql dsn: %w", err)
		}
		cfg.ParseTime = false
		conn, err := mysql.NewConnector(cfg)
		if err != nil {
			return nil, nil, err
		}
		db := sql.OpenDB(conn)
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			return nil, nil, fmt.Errorf("opening mysql %s: %w", cfg.DBName, err)
		}
		return db, mysqlDialect, nil
	}
	path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite://"), "sqlite:")
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, err
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", abs, ErrNoDatabase)
	}
	db, err := sql.Open("sqlite", sqliteDSN(abs, true))
	if err != nil {
		return nil, nil, err
	}
	return db, sqliteDialect, nil
}
