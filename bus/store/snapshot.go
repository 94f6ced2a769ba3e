package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// SnapshotSQLite writes a consistent copy of the SQLite database at dbPath
// to out (which must not exist) with VACUUM INTO: one read transaction, so
// the copy is the database as of one commit even while a node writes to it
// (WAL readers do not block the writer, nor it them). The copy is compact,
// holds no free pages (so no remains of purged payloads) and has mode 0600.
func SnapshotSQLite(ctx context.Context, dbPath, out string) error {
	abs, err := filepath.Abs(dbPath)
	if err != nil {
		return err
	}
	if _, err := os.Stat(abs); err != nil {
		return fmt.Errorf("snapshot of %s: %w", abs, err)
	}
	outAbs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	if _, err := os.Stat(outAbs); err == nil {
		return fmt.Errorf("snapshot: %s already exists", outAbs)
	}
	// Created empty with mode 0600 first: VACUUM INTO accepts an empty file
	// and keeps its mode, so the copy is never readable by others.
	f, err := os.OpenFile(outAbs, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	f.Close()
	// A read-write connection (VACUUM INTO is refused under query_only) that
	// never writes to the source.
	db, err := sql.Open("sqlite", strings.Replace(sqliteDSN(abs, true), "_pragma=query_only%281%29", "", 1))
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", outAbs); err != nil {
		os.Remove(outAbs)
		return fmt.Errorf("snapshot of %s: %w", abs, err)
	}
	return nil
}

// SQLiteMeta reads one meta value of a SQLite file (a snapshot) without
// opening it as a store: no migration, no writes.
func SQLiteMeta(ctx context.Context, path, name string) ([]byte, bool, error) {
	db, _, err := openRaw(ctx, "sqlite:"+path)
	if err != nil {
		return nil, false, err
	}
	defer db.Close()
	var v []byte
	err = db.QueryRowContext(ctx, "SELECT value FROM meta WHERE name = ?", name).Scan(&v)
	if err == sql.ErrNoRows {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading meta %s of %s: %w", name, path, err)
	}
	return v, true, nil
}
