// Package storetest is the conformance suite of the store interface: every
// implementation (SQLite, MariaDB/MySQL) runs the same Run against a fresh
// database, so that both behave the same to the rest of the bus.
package storetest
