package test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/tuyenquang/lgsp/adapters/rest"
	_ "github.com/tuyenquang/lgsp/bus/pipeline"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/test/testenv"
)

// testRoutes is the route set the black-box tests run with.
const testRoutes = `routes:
  - name: van-ban
    description: văn bản giữa các hệ thống thử nghiệm
    match:
      sources: ["*"]
      data_types: ["edoc", "load"]
    steps:
      - validate: {max_bytes: 209715200, require_sha256: true}
    delivery:
      mode: immediate
      expiry: 24h
  - name: bao-cao
    description: báo cáo định kỳ, giao theo lịch
    match:
      sources: ["*"]
      data_types: ["report"]
    delivery:
      mode: cron
      schedule: "0 7 * * *"
      expiry: 72h
  - name: cam
    description: loại dữ liệu bị chặn
    match:
      sources: ["*"]
      data_types: ["blocked"]
    steps:
      - reject: {reason: "loại dữ liệu này không được phép"}
    delivery:
      mode: immediate
`

// node is one LGSP node served over real HTTP for a test.
type node struct {
	svc       *service.Service
	clients   map[string]*rest.Client
	routesDir string
	shutdown  func() error
	url       string
	dataDir   string
	logFile   string
	tmpDir    string
	dsn       string
}

// mysqlDSN returns the MariaDB server DSN the tests use (no database).
func mysqlDSN() string {
	return testenv.MySQLDSN()
}

// freshMySQL creates an empty database and returns its DSN (mysql://…).
func freshMySQL(t *testing.T) (string, *sql.DB) {
	t.Helper()
	if os.Getenv("LGSP_TEST_MYSQL") == "off" {
		t.Skip("LGSP_TEST_MYSQL=off: MariaDB tests switched off explicitly")
	}
	testenv.RequireMariaDB(t) // one line, not a dial error, when it is missing
	root, err := sql.Open("mysql", mysqlDSN())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := root.PingContext(ctx); err != nil {
		t.Fatalf("MariaDB is not reachable at %s (run ./test/run.sh, which starts it, or set LGSP_TEST_MYSQL_DSN): %v", mysqlDSN(), err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "lgsp_e2e_" + hex.EncodeToString(b)
	if _, err := root.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Exec("DROP DATABASE " + name); root.Close() })
	dsn := mysqlDSN()
	i := strings.Index(dsn, ")/")
	db := dsn[:i+2] + name + dsn[i+2:]
	conn, err := sql.Open("mysql", db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return "mysql://" + db, conn
}

// startNode starts a node on dialect "sqlite" or "mysql" with the test routes.
func startNode(t *testing.T, dialect string) *node { return startNodeWith(t, dialect, nil) }

// startNodeWith starts a node listening on a free loopback port, with the
// configuration changed by mutate; the test's cleanup shuts it down.
func startNodeWith(t *testing.T, dialect string, mutate func(*service.Config)) *node {
	t.Helper()
	n := &node{dataDir: t.TempDir(), tmpDir: t.TempDir(), clients: map[string]*rest.Client{}}
	n.routesDir = filepath.Join(t.TempDir(), "routes")
	if err := os.MkdirAll(n.routesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(n.routesDir, "test.yaml"), []byte(testRoutes), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", n.tmpDir)
	cfg := service.Defaults()
	cfg.Node = "test-node"
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = n.dataDir
	cfg.RoutesDir = n.routesDir
	cfg.Log.Level = "debug"
	cfg.ShutdownTimeout = 20 * time.Second
	n.logFile = filepath.Join(n.dataDir, "lgsp.log")
	cfg.Log.File = n.logFile
	if dialect == "mysql" {
		n.dsn, _ = freshMySQL(t)
		cfg.Store = n.dsn
	}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := service.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx, func(a net.Addr) { addrc <- a }) }()
	select {
	case a := <-addrc:
		n.url = "http://" + a.String()
		if cfg.TLS.Enabled() {
			n.url = "https://" + a.String()
		}
	case err := <-errc:
		cancel()
		t.Fatalf("node did not start: %v", err)
	}
	var once sync.Once
	var stopErr error
	n.shutdown = func() error {
		once.Do(func() { cancel(); stopErr = <-errc })
		return stopErr
	}
	t.Cleanup(func() {
		if err := n.shutdown(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	contract.watch(t, n.url) // openapi_contract_test.go
	n.svc = s
	return n
}

func (n *node) inflight() int { return n.svc.InFlight() }

// system registers a system and returns a signed client for it.
func (n *node) system(t *testing.T, code, name string) *rest.Client {
	t.Helper()
	ctx := context.Background()
	if _, _, err := n.svc.Registry().AddSystem(ctx, store.System{Code: code, Name: name, Unit: "UBND tỉnh", Contact: "vanthu@example.gov.vn"}); err != nil {
		t.Fatal(err)
	}
	ak, sk, err := n.svc.Registry().IssueKey(ctx, code, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	c := &rest.Client{BaseURL: n.url, AccessKey: ak, SecretKey: sk}
	n.clients[code] = c
	return c
}

// eventually polls cond until it holds or 10 s pass.
func eventually(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	eventuallyWithin(t, 10*time.Second, what, cond)
}

// eventuallyWithin polls cond every 10 ms until it holds or d passes; the
// failure names the last error cond gave.
func eventuallyWithin(t *testing.T, d time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, err := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true within %s (last error: %v)", what, d, err)
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
}
