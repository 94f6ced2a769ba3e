package store_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus/store"
)

// BenchmarkExchangeCycleSQLite runs hotCycle (one whole exchange with the
// auth, ledger and sweep calls around it) on the embedded store, one
// cycle after the other: with synchronous=FULL each durable commit waits
// for the disk, so the time per cycle follows the commits per cycle.
func BenchmarkExchangeCycleSQLite(b *testing.B) {
	s, err := store.OpenSQLite(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	now := time.Now().UTC().Truncate(time.Microsecond)
	seedHot(b, s, now)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		hotCycle(b, s, fmt.Sprintf("b%d", i), now, "", nil)
	}
}
