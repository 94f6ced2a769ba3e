package store_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
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

// benchCycleParallel runs the exchange path (hotCycle, inParallel: the
// auth reads, F1–F7 and the dispatcher's claim, no HTTP, no signature, no
// generator) from 16 × GOMAXPROCS goroutines at once, as the node's
// workers would: what the store alone gives on this machine, with group
// commit and durable commits. It reports exchanges per second and the CPU
// per exchange of this process (the node's share) and of dbPID (MariaDB),
// when set.
func benchCycleParallel(b *testing.B, s store.Store, dbPID int) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	seedHot(b, s, now)
	var n atomic.Int64
	self0, db0 := cpuOf(b, 0), cpuOf(b, dbPID)
	start := time.Now()
	b.ResetTimer()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			hotCycle(b, s, fmt.Sprintf("p%d", n.Add(1)), now, inParallel, nil)
		}
	})
	b.StopTimer()
	el := time.Since(start)
	b.ReportMetric(float64(b.N)/el.Seconds(), "exchanges/s")
	b.ReportMetric(float64((cpuOf(b, 0)-self0).Microseconds())/float64(b.N), "node-cpu-µs/exchange")
	if dbPID > 0 {
		b.ReportMetric(float64((cpuOf(b, dbPID)-db0).Microseconds())/float64(b.N), "db-cpu-µs/exchange")
	}
}

// cpuOf is the CPU time (user + system) of process pid so far; 0: this one.
func cpuOf(b *testing.B, pid int) time.Duration {
	if pid == 0 {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// mariadbPID finds the local MariaDB server's process (0 when none).
func mariadbPID() int {
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if comm, err := os.ReadFile("/proc/" + d.Name() + "/comm"); err == nil && strings.TrimSpace(string(comm)) == "mariadbd" {
			return pid
		}
	}
	return 0
}

// BenchmarkExchangeCycleParallelSQLite: the store's own ceiling on the
// embedded store (docs/load.md, "The store alone").
func BenchmarkExchangeCycleParallelSQLite(b *testing.B) {
	s, err := store.OpenSQLite(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	benchCycleParallel(b, s, 0)
}

// BenchmarkExchangeCycleParallelMySQL is the same on the local MariaDB,
// whose CPU per exchange it reports too.
func BenchmarkExchangeCycleParallelMySQL(b *testing.B) {
	s, err := store.OpenMySQL(b.Context(), freshDatabase(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	benchCycleParallel(b, s, mariadbPID())
}
