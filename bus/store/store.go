package store

import "context"

// Store is the persistence of LGSP: the composition of its aggregates,
// each declared beside its types and implemented in its own sql_*.go file.
// Consumers outside bus/store, bus/service and cmd/ never take the whole
// Store: each declares the narrow interface it needs (a few methods, or a
// few aggregates), so that what a package can touch in the database reads
// from its own code (test/arch_store_test.go, TestNoConsumerTakesWholeStore).
//
// Every method is safe for concurrent use and, on MariaDB/MySQL, by several
// nodes at once. Methods that change state are atomic: they either apply
// whole or not at all. Errors from the bus catalogue (bus.ErrSystemNotFound,
// bus.ErrExchangeState …) tell the caller what went wrong; others are
// faults of the database.
type Store interface {
	// RegistryStore: connected systems and their access keys (registry.go).
	RegistryStore
	// AccessStore: grants and the audit of key operations (access.go).
	AccessStore
	// PlatformKeyStore: the platform's own signing keys (platform.go).
	PlatformKeyStore
	// OrganStore: the organs a system may speak for in packets (organs.go).
	OrganStore
	// SessionStore: session keys, bearer tokens, nonces, connections (sessions.go).
	SessionStore
	// ExchangeStore: exchanges, recipients and payload chunks (exchanges.go).
	ExchangeStore
	// LedgerStore: the ledger of exchanges and the shared event feed (ledger.go).
	LedgerStore
	// OutboxStore: durable outbound deliveries (outbox.go).
	OutboxStore
	// GatewayStore: job leases and last runs, gateway documents (gateway.go).
	GatewayStore
	// MetaStore: installation facts such as the master key check (meta.go).
	MetaStore
	// AlertStore: firing alerts and the delivery backlog (alerts.go).
	AlertStore
	// StatsStore: rollups and connection history for reports (stats.go).
	StatsStore
	// ActivityStore: the hash-chained activity log (activity.go).
	ActivityStore
	// PeopleStore: people of the console, their sessions and login
	// lockouts (people.go).
	PeopleStore

	// Dialect returns "sqlite" or "mysql".
	Dialect() string
	// Ping checks that the database answers (readiness).
	Ping(ctx context.Context) error
	// Close releases the database; the store is unusable afterwards.
	Close() error
}
