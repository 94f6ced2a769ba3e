package test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/tuyenquang/lgsp/adapters/rest"
	_ "github.com/tuyenquang/lgsp/bus/pipeline"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
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
	svc     *service.Service
	url     string
	dataDir string
	logFile string
	tmpDir  string
	dsn     string
}

// mysqlDSN returns the MariaDB server DSN the tests use (no database).
func mysqlDSN() string {
	if d := os.Getenv("LGSP_TEST_MYSQL_DSN"); d != "" {
		return d
	}
	return "root@tcp(127.0.0.1:3306)/"
}

// freshMySQL creates an empty database and returns its DSN (mysql://…).
func freshMySQL(t *testing.T) (string, *sql.DB) {
	t.Helper()
	if os.Getenv("LGSP_TEST_MYSQL") == "off" {
		t.Skip("LGSP_TEST_MYSQL=off: MariaDB tests switched off explicitly")
	}
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
func startNode(t *testing.T, dialect string) *node {
	t.Helper()
	n := &node{dataDir: t.TempDir(), tmpDir: t.TempDir()}
	routes := filepath.Join(t.TempDir(), "routes")
	if err := os.MkdirAll(routes, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(routes, "test.yaml"), []byte(testRoutes), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", n.tmpDir)
	cfg := service.Defaults()
	cfg.Node = "test-node"
	cfg.DataDir = n.dataDir
	cfg.RoutesDir = routes
	cfg.Log.Level = "debug"
	n.logFile = filepath.Join(n.dataDir, "lgsp.log")
	cfg.Log.File = n.logFile
	if dialect == "mysql" {
		n.dsn, _ = freshMySQL(t)
		cfg.Store = n.dsn
	}
	s, err := service.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.StartWorkers()
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		srv.Close()
		if err := s.Shutdown(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	n.svc, n.url = s, srv.URL
	return n
}

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
	return &rest.Client{BaseURL: n.url, AccessKey: ak, SecretKey: sk}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, err := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true within 10s (last error: %v)", what, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
