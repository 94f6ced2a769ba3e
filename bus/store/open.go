package store

import (
	"context"
	"errors"
	"strings"
)

// Open opens the store a DSN names:
//
//	mysql://user:pass@tcp(host:port)/db?params  MariaDB/MySQL (the part after mysql:// goes to the driver)
//	sqlite:///abs/path.db                       SQLite, absolute path
//	sqlite:relative.db                          SQLite, path relative to the working directory
//	/abs/path.db or relative.db                 SQLite
//
// A bare go-sql-driver DSN (user@tcp(…)/db) is refused rather than taken
// for a file name.
func Open(ctx context.Context, dsn string) (Store, error) {
	switch {
	case strings.HasPrefix(dsn, "mysql://"):
		return OpenMySQL(ctx, strings.TrimPrefix(dsn, "mysql://"))
	case strings.HasPrefix(dsn, "sqlite://"):
		return OpenSQLite(ctx, strings.TrimPrefix(dsn, "sqlite://"))
	case strings.HasPrefix(dsn, "sqlite:"):
		return OpenSQLite(ctx, strings.TrimPrefix(dsn, "sqlite:"))
	case dsn == "":
		return nil, errors.New("opening store: empty dsn")
	case strings.Contains(dsn, "@tcp(") || strings.Contains(dsn, "@unix("):
		return nil, errors.New("opening store: a mysql dsn must start with mysql://")
	}
	return OpenSQLite(ctx, dsn)
}
