package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/bus/store/storetest"
)

func openSQLite(t testing.TB, path string) store.Store {
	t.Helper()
	s, err := store.OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatalf("opening sqlite: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("closing sqlite: %v", err)
		}
	})
	return s
}

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openSQLite(t, filepath.Join(t.TempDir(), "lgsp.db"))
	}, store.PlantChunk)
}

// rawDB opens the database file beside the store, read-only, to look at
// what the Store interface does not show.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestSQLiteFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "lgsp")
	path := filepath.Join(dir, "lgsp.db")
	s := openSQLite(t, path)
	if s.Dialect() != "sqlite" {
		t.Fatalf("Dialect() = %q", s.Dialect())
	}
	if err := s.CreateSystem(t.Context(), store.System{Code: "000.00.01.H60", Name: "x"}); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600, path + "-wal": 0o600, path + "-shm": 0o600} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, st.Mode().Perm(), want)
		}
	}
	db := rawDB(t, path)
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v", mode, err)
	}
	var versions int
	var distinct int
	if err := db.QueryRow("SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations").Scan(&versions, &distinct); err != nil || versions < 1 || versions != distinct {
		t.Fatalf("schema_migrations rows = %d (%d distinct versions), %v", versions, distinct, err)
	}
}

func TestSQLiteReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lgsp.db")
	s, err := store.OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSystem(t.Context(), store.System{Code: "000.00.01.H60", Name: "Sở Nội vụ"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Several opens at once (e.g. two processes starting): the migrations
	// run once, the others wait and find them applied.
	var wg sync.WaitGroup
	stores := make([]store.Store, 4)
	errs := make([]error, 4)
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = store.OpenSQLite(t.Context(), path) })
	}
	wg.Wait()
	for i, s := range stores {
		if errs[i] != nil {
			t.Fatalf("reopening: %v", errs[i])
		}
		defer s.Close()
	}
	sys, err := stores[0].GetSystem(t.Context(), "000.00.01.H60")
	if err != nil || sys.Name != "Sở Nội vụ" {
		t.Fatalf("after reopen: %+v, %v", sys, err)
	}
}

// TestSQLiteZeroRetention checks that after a purge no byte of the sealed
// chunks or of the wrapped key is left in the database file or its WAL.
func TestSQLiteZeroRetention(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "lgsp.db")
	s := openSQLite(t, path)
	marker := func(n int) []byte {
		b := make([]byte, n)
		rand.Read(b)
		return b
	}
	key := marker(60)
	e := store.Exchange{ID: "ex_z", Source: "000.00.01.H60", WrappedKey: key, MaxBytes: 1 << 20,
		Recipients: []store.Recipient{{Code: "000.00.02.H60"}}}
	if err := s.CreateExchange(ctx, e); err != nil {
		t.Fatal(err)
	}
	var chunks [][]byte
	for i := range 5 {
		c := marker(20 << 10)
		chunks = append(chunks, c)
		if i == 4 { // the last chunk is a stray past Received
			store.PlantChunk(t, s, store.Chunk{ExchangeID: e.ID, Offset: int64(i) * 20 << 10, Size: 20 << 10, Data: c})
			continue
		}
		if err := s.AppendChunk(ctx, store.Chunk{ExchangeID: e.ID, Offset: int64(i) * 20 << 10, Size: 20 << 10, Data: c}); err != nil {
			t.Fatal(err)
		}
	}
	small := marker(100) // a chunk small enough to live inside a b-tree page
	if err := s.ReplaceContent(ctx, e.ID, key, 100, "00", "", []store.Chunk{{Offset: 0, Size: 100, Data: small}}); err != nil {
		t.Fatal(err)
	}
	chunks = append(chunks, small)
	if err := s.AcceptExchange(ctx, store.Accept{ExchangeID: e.ID, Size: 100}); err != nil {
		t.Fatal(err)
	}
	if err := s.Purge(ctx, e.ID, store.ExchangeCompleted, store.RecipientExpired, time.Now()); err != nil {
		t.Fatal(err)
	}
	// The WAL is wiped in the background, off the request path.
	if err := s.(interface{ WaitWiped(context.Context) error }).WaitWiped(ctx); err != nil {
		t.Fatal(err)
	}

	var files []byte
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		files = append(files, b...)
	}
	// Any 32-byte window of a secret would do; look for several.
	for i, c := range append(chunks, key) {
		for off := 0; off+32 <= len(c); off += len(c)/4 + 1 {
			if bytes.Contains(files, c[off:off+32]) {
				t.Fatalf("secret %d (bytes %d–%d) is still in the database files after purge", i, off, off+32)
			}
		}
	}

	db := rawDB(t, path)
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM chunks").Scan(&n); err != nil || n != 0 {
		t.Fatalf("chunk rows after purge = %d, %v", n, err)
	}
	var keyNull bool
	if err := db.QueryRow("SELECT wrapped_key IS NULL FROM exchanges WHERE id = ?", e.ID).Scan(&keyNull); err != nil || !keyNull {
		t.Fatalf("wrapped key after purge: null=%v, %v", keyNull, err)
	}
}

func TestOpenDSN(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, tc := range []struct{ dsn, file string }{
		{"sqlite://" + filepath.Join(dir, "abs.db"), filepath.Join(dir, "abs.db")},
		{"sqlite:rel.db", filepath.Join(dir, "rel.db")},
		{filepath.Join(dir, "sub", "bare.db"), filepath.Join(dir, "sub", "bare.db")},
		{"bare-rel.db", filepath.Join(dir, "bare-rel.db")},
		{"sqlite://" + filepath.Join(dir, "with space?and#hash.db"), filepath.Join(dir, "with space?and#hash.db")},
	} {
		s, err := store.Open(t.Context(), tc.dsn)
		if err != nil {
			t.Fatalf("Open(%q): %v", tc.dsn, err)
		}
		if s.Dialect() != "sqlite" {
			t.Fatalf("Open(%q).Dialect() = %q", tc.dsn, s.Dialect())
		}
		s.Close()
		if _, err := os.Stat(tc.file); err != nil {
			t.Fatalf("Open(%q) did not create %s: %v", tc.dsn, tc.file, err)
		}
	}
	for _, dsn := range []string{"", "root@tcp(127.0.0.1:3306)/lgsp", "mysql://root@tcp(127.0.0.1:3306)/", "mysql://not a dsn"} {
		if s, err := store.Open(t.Context(), dsn); err == nil {
			s.Close()
			t.Fatalf("Open(%q) succeeded", dsn)
		}
	}
}

// BenchmarkExchangeCycle runs the store calls of one exchange, from F2 to
// the purge after confirmation, with a 20 KB payload.
func BenchmarkExchangeCycle(b *testing.B) {
	s := openSQLite(b, filepath.Join(b.TempDir(), "bench.db"))
	payload := make([]byte, 20<<10)
	rand.Read(payload)
	var seq atomic.Int64
	const dst = "000.00.02.H60"
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := b.Context()
		for pb.Next() {
			id := fmt.Sprintf("ex_%d", seq.Add(1))
			now := time.Now()
			must := func(err error) {
				if err != nil {
					b.Error(err)
					panic(err)
				}
			}
			must(s.CreateExchange(ctx, store.Exchange{ID: id, Source: "000.00.01.H60", Title: "Công văn", MaxBytes: 1 << 20,
				WrappedKey: payload[:60], ExpiresAt: now.Add(time.Hour), Recipients: []store.Recipient{{Code: dst}}},
				store.Event{Kind: "requested"}))
			must(s.AppendChunk(ctx, store.Chunk{ExchangeID: id, Size: int64(len(payload)), Data: payload}))
			must(s.AddEvents(ctx, store.Event{ExchangeID: id, Kind: "uploaded"}))
			must(s.AcceptExchange(ctx, store.Accept{ExchangeID: id, Size: int64(len(payload)), Route: "r", At: now,
				Events: []store.Event{{Kind: "accepted"}}}))
			if _, err := s.ClaimDue(ctx, time.Now(), 100, "bench", nil); err != nil {
				must(err)
			}
			for _, st := range [][2]string{
				{store.RecipientNotified, store.RecipientReady},
				{store.RecipientReady, store.RecipientDownloaded},
				{store.RecipientDownloaded, store.RecipientConfirmed},
			} {
				must(s.Transition(ctx, store.Transition{ExchangeID: id, Recipient: dst, From: []string{st[0]}, To: st[1], At: time.Now()}))
			}
			must(s.Purge(ctx, id, store.ExchangeCompleted, store.RecipientExpired, time.Now(), store.Event{Kind: "purged"}))
		}
	})
}
