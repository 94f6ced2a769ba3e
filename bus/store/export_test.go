package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// PlantChunk writes a chunk straight into the chunks table, past the Store
// interface (which only ever writes below Received): the stray an upload of
// an older version or a crash between writes leaves behind, or a chunk of
// an exchange about to be purged. The stray-chunk and purge tests need it;
// no production path writes chunks this way.
func PlantChunk(t testing.TB, s Store, c Chunk) {
	t.Helper()
	for {
		g, ok := s.(*Guarded)
		if !ok {
			break
		}
		s = g.Store
	}
	ss, ok := s.(*sqlStore)
	if lite, isLite := s.(*sqliteStore); isLite {
		ss, ok = lite.sqlStore, true
	}
	if !ok {
		t.Fatalf("PlantChunk: %T is not the SQL store", s)
	}
	data := c.Data
	if data == nil {
		data = []byte{}
	}
	err := ss.write(context.Background(), func(tx *txx) error {
		_, err := tx.ExecContext(context.Background(), "REPLACE INTO chunks (exchange_id, off, size, data) VALUES (?, ?, ?, ?)",
			c.ExchangeID, c.Offset, c.Size, data)
		return err
	})
	if err != nil {
		t.Fatal(fmt.Errorf("planting chunk %d of %s: %w", c.Offset, c.ExchangeID, err))
	}
}

// Isolation returns the session isolation level (as MariaDB spells it,
// e.g. READ-COMMITTED) that a write transaction and a read transaction of
// s run at.
func Isolation(t testing.TB, s Store) (write, read string) {
	t.Helper()
	ss := s.(*sqlStore)
	q := "SELECT @@SESSION.tx_isolation"
	if ss.d.name == "mysql" {
		var v string
		if ss.r.QueryRowContext(t.Context(), "SELECT VERSION()").Scan(&v) == nil && !strings.Contains(v, "MariaDB") {
			q = "SELECT @@SESSION.transaction_isolation"
		}
	}
	if err := ss.write(t.Context(), func(tx *txx) error { return tx.QueryRowContext(t.Context(), q).Scan(&write) }); err != nil {
		t.Fatalf("isolation of a write: %v", err)
	}
	if err := ss.read(t.Context(), func(tx *txx) error { return tx.QueryRowContext(t.Context(), q).Scan(&read) }); err != nil {
		t.Fatalf("isolation of a read: %v", err)
	}
	return write, read
}

// PoolSizes returns the most connections s opens for writes and for reads.
func PoolSizes(s Store) (write, read int) {
	ss := s.(*sqlStore)
	return ss.w.Stats().MaxOpenConnections, ss.r.Stats().MaxOpenConnections
}
