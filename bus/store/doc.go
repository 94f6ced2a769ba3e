// Package store is the one persistence interface of LGSP (C3) and its two
// implementations: SQLite (modernc.org/sqlite, WAL; the embedded default)
// and MariaDB/MySQL (go-sql-driver/mysql; several nodes on one database).
//
// Both share one schema with embedded, versioned migrations per dialect and
// pass the same conformance suite (package storetest). The store keeps
// payloads only as encrypted chunks and wrapped data keys; it never sees
// plaintext or master keys (that is package vault's job).
//
// It imports bus and the standard library only (plus the two SQL drivers).
package store
