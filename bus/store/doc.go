// Package store is the one persistence interface of LGSP (C3) and its two
// implementations: SQLite (modernc.org/sqlite, WAL; the embedded default)
// and MariaDB/MySQL (go-sql-driver/mysql; several nodes on one database).
// Open picks one from a DSN (mysql://…, sqlite:…, or a file path).
//
// Store is the composition of aggregates (RegistryStore, SessionStore,
// ExchangeStore, LedgerStore, OutboxStore, GatewayStore …), each declared
// beside its types (registry.go, exchanges.go …) and implemented in its
// own sql_<aggregate>.go; sql.go holds only what they share. Consumers
// outside bus/service and cmd/ take narrow interfaces, never Store
// (docs/architecture.md, "Store aggregates").
//
// Both share one schema with embedded, versioned migrations per dialect
// (migrations/<dialect>/NNNN_*.sql, recorded in schema_migrations and
// applied at open; on MySQL under GET_LOCK('lgsp_migrate')), share their
// SQL in one implementation, and pass the same conformance suite (package
// storetest). Times are stored as BIGINT unix microseconds (0 = the zero
// time) and come back in UTC, truncated to the microsecond.
//
// Concurrency: on SQLite every write goes through one connection in BEGIN
// IMMEDIATE transactions, and reads use a separate query_only pool. On
// MySQL writes run at READ COMMITTED, compare-and-set methods lock the row
// they check (SELECT … FOR UPDATE), claims (ClaimDue, ClaimDeliveries) use
// FOR UPDATE SKIP LOCKED so that nodes take disjoint work, and a
// transaction that hits a deadlock is run again.
//
// The store keeps payloads only as encrypted chunks and wrapped data keys;
// it never sees plaintext or master keys (that is package vault's job).
// SQLite runs with secure_delete, and every Purge ends with a TRUNCATE
// checkpoint of the WAL, so that no copy of a purged chunk or key remains
// in the database file or its WAL when Purge returns.
//
// Beyond the interface's contract: a limit ≤ 0 means 100; empty statuses
// in Inbox and an empty OutboxFilter.Status mean any status; AppendChunk
// replaces a stray chunk at its offset (committed bytes are never
// overwritten); DeleteChunksFrom never deletes below Received; GetChunk
// returns bus.ErrRange when no chunk starts at the offset. On MySQL, event ids are assigned at insert but
// become visible at commit, so EventsAfter may later return an id below
// one it already returned; feed readers that must see every event ask
// again for the ids they saw skipped (EventsAfterOrIn).
//
// It imports bus and the standard library only (plus the two SQL drivers).
package store
