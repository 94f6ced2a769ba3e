package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// migrationFS holds the versioned schema of each dialect:
// migrations/<dialect>/NNNN_name.sql, applied in order of NNNN.
//
//go:embed migrations
var migrationFS embed.FS

type migration struct {
	version int
	name    string
	stmts   []string
}

// migrations returns the migrations of a dialect sorted by version.
func migrations(dialect string) ([]migration, error) {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, fmt.Errorf("reading migrations of %s: %w", dialect, err)
	}
	var out []migration
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s/%s: name must start with a positive version and an underscore", dir, e.Name())
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s of %s share version %d", prev, e.Name(), dialect, v)
		}
		seen[v] = e.Name()
		b, err := fs.ReadFile(migrationFS, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("reading migration %s: %w", e.Name(), err)
		}
		out = append(out, migration{version: v, name: e.Name(), stmts: splitSQL(string(b))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// splitSQL splits a migration file into statements: lines starting with
// "--" are comments, and a statement ends with a semicolon at the end of a
// line. Migrations must not put such a semicolon inside a string literal.
func splitSQL(src string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(src, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			s := strings.TrimSpace(cur.String())
			out = append(out, strings.TrimSuffix(s, ";"))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// execer is what migrate needs of a connection: a *sql.DB (SQLite, whose
// writer pool has one connection) or a *sql.Conn (MySQL, holding the
// migration lock).
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// migrate refuses a database migrated by an incompatible newer binary,
// applies the pending migrations of d, each in its own transaction
// together with its schema_migrations row. On SQLite the transaction is
// BEGIN IMMEDIATE, which also keeps other processes out meanwhile; on MySQL
// DDL commits implicitly, so the caller holds a named lock and the DDL is
// written to be re-runnable. Last it records the oldest schema version that
// may still run on the database (CompatFloor, see schema.go).
func migrate(ctx context.Context, db execer, d *dialect) error {
	if _, err := db.ExecContext(ctx, d.migrationsDDL); err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	// A database migrated by a newer binary that declared this one
	// incompatible is refused before anything is applied (store.schema_newer).
	st, err := readSchema(ctx, db, d.name)
	if err != nil {
		return err
	}
	if err := st.Compatible(); err != nil {
		return err
	}
	ms, err := migrations(d.name)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if err := applyMigration(ctx, db, d, m); err != nil {
			return err
		}
	}
	if st.Newest() > st.Latest() {
		return nil // a newer binary's floor stands; ours would say less
	}
	return recordFloor(ctx, db, d, st.Latest())
}

func applyMigration(ctx context.Context, db execer, d *dialect, m migration) error {
	tx, err := db.BeginTx(ctx, d.txOpts)
	if err != nil {
		return fmt.Errorf("beginning migration %s: %w", m.name, err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations WHERE version = ?", m.version).Scan(&n); err != nil {
		return fmt.Errorf("checking migration %s: %w", m.name, err)
	}
	if n > 0 {
		return nil
	}
	for i, s := range m.stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("applying migration %s, statement %d: %w", m.name, i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", m.version, micros(time.Now())); err != nil {
		return fmt.Errorf("recording migration %s: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing migration %s: %w", m.name, err)
	}
	return nil
}
