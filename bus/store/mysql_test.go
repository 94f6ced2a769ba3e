package store_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/bus/store/storetest"
	"github.com/tuyenquang/lgsp/test/testenv"
)

// The MariaDB tests run against a real server: LGSP_TEST_MYSQL_DSN (default
// root@tcp(127.0.0.1:3306)/), whose user may create and drop databases.
// They fail when the server is unreachable; LGSP_TEST_MYSQL=off skips them.
const defaultMySQLDSN = "root@tcp(127.0.0.1:3306)/"

// mysqlAdmin returns the server's config and a connection to it without a
// database.
func mysqlAdmin(t testing.TB) (*mysql.Config, *sql.DB) {
	t.Helper()
	if os.Getenv("LGSP_TEST_MYSQL") == "off" {
		t.Skip("LGSP_TEST_MYSQL=off: MariaDB tests skipped")
	}
	dsn := testenv.RequireMariaDB(t) // one line, not a dial error, when it is missing
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("LGSP_TEST_MYSQL_DSN %q: %v", dsn, err)
	}
	admin := cfg.Clone()
	admin.DBName = ""
	admin.Timeout = 5 * time.Second
	conn, err := mysql.NewConnector(admin)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("MariaDB is unreachable at %s@%s(%s): %v\n"+
			"start it (service mariadb start), point LGSP_TEST_MYSQL_DSN at a server whose user may CREATE DATABASE, "+
			"or set LGSP_TEST_MYSQL=off to skip these tests", cfg.User, cfg.Net, cfg.Addr, err)
	}
	return cfg, db
}

// freshDatabase creates lgsp_test_<random> and drops it at cleanup; it
// returns the DSN of the new database.
func freshDatabase(t testing.TB) string {
	t.Helper()
	cfg, admin := mysqlAdmin(t)
	b := make([]byte, 6)
	rand.Read(b)
	name := "lgsp_test_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(t.Context(), "CREATE DATABASE "+name+" CHARACTER SET utf8mb4"); err != nil {
		t.Fatalf("creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE "+name); err != nil {
			t.Errorf("dropping database %s: %v", name, err)
		}
	})
	c := cfg.Clone()
	c.DBName = name
	return c.FormatDSN()
}

func openMySQL(t *testing.T) store.Store {
	t.Helper()
	dsn := freshDatabase(t)
	s, err := store.OpenMySQL(t.Context(), dsn)
	if err != nil {
		t.Fatalf("opening mysql: %v", err)
	}
	// Registered after the drop, so it runs before it.
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("closing mysql: %v", err)
		}
	})
	return s
}

func TestMySQL(t *testing.T) {
	mysqlAdmin(t) // fail or skip once, clearly, before the subtests
	storetest.Run(t, openMySQL, store.PlantChunk)
}

// TestMySQLConcurrentOpen starts several nodes on one new database at once:
// the migration lock lets one migrate and the others find it done.
func TestMySQLConcurrentOpen(t *testing.T) {
	dsn := freshDatabase(t)
	const nodes = 4
	stores := make([]store.Store, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() { stores[i], errs[i] = store.Open(t.Context(), "mysql://"+dsn) })
	}
	wg.Wait()
	for i := range nodes {
		if errs[i] != nil {
			t.Fatalf("node %d: %v", i, errs[i])
		}
		defer stores[i].Close()
	}
	if d := stores[0].Dialect(); d != "mysql" {
		t.Fatalf("Dialect() = %q", d)
	}
	if err := stores[0].Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	// Each migration is recorded once, however many nodes raced to apply it.
	var distinct int
	if err := db.QueryRow("SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations").Scan(&n, &distinct); err != nil || n < 1 || n != distinct {
		t.Fatalf("schema_migrations rows = %d (%d distinct versions), %v", n, distinct, err)
	}
	// A chunk written by one node is read by another.
	ctx := t.Context()
	if err := stores[1].CreateExchange(ctx, store.Exchange{ID: "ex_n", Source: "000.00.01.H60", MaxBytes: 10}); err != nil {
		t.Fatal(err)
	}
	if err := stores[2].AppendChunk(ctx, store.Chunk{ExchangeID: "ex_n", Size: 3, Data: []byte("abc")}); err != nil {
		t.Fatal(err)
	}
	if err := stores[3].AppendChunk(ctx, store.Chunk{ExchangeID: "ex_n", Offset: 3, Size: 2, Data: []byte("de")}); err != nil {
		t.Fatal(err)
	}
	if c, err := stores[0].GetChunk(ctx, "ex_n", 0); err != nil || string(c.Data) != "abc" {
		t.Fatalf("chunk on another node: %+v, %v", c, err)
	}
	if c, err := stores[1].GetChunk(ctx, "ex_n", 3); err != nil || string(c.Data) != "de" {
		t.Fatalf("chunk on another node: %+v, %v", c, err)
	}
}

func TestOpenMySQLWithoutDatabase(t *testing.T) {
	if _, err := store.OpenMySQL(t.Context(), defaultMySQLDSN); err == nil {
		t.Fatal("a dsn without a database was accepted")
	}
}

// TestMySQLIsolation: write transactions run READ COMMITTED and read
// transactions REPEATABLE READ (one snapshot), each set once per
// connection rather than by a SET before every transaction.
func TestMySQLIsolation(t *testing.T) {
	s := openMySQL(t)
	w, r := store.Isolation(t, s)
	if w != "READ-COMMITTED" || r != "REPEATABLE-READ" {
		t.Fatalf("write transactions at %s, reads at %s; want READ-COMMITTED and REPEATABLE-READ", w, r)
	}
	// docs/install.md tells operators to allow 32 connections per node.
	if pw, pr := store.PoolSizes(s); pw+pr != 32 {
		t.Fatalf("pools of %d writers and %d readers: %d connections per node, docs/install.md says 32", pw, pr, pw+pr)
	}
}
