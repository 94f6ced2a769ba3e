package test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
)

// keyConfig is a node configuration on dialect with its own data dir (where
// master.key lives) and the test routes; the store DSN is given for MariaDB.
func keyConfig(t *testing.T, dsn string) service.Config {
	t.Helper()
	routes := filepath.Join(t.TempDir(), "routes")
	if err := os.MkdirAll(routes, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(routes, "test.yaml"), []byte(testRoutes), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := service.Defaults()
	cfg.Node, cfg.Listen, cfg.DataDir, cfg.RoutesDir = "key-test", "127.0.0.1:0", t.TempDir(), routes
	cfg.Log.File = filepath.Join(cfg.DataDir, "lgsp.log")
	cfg.Store = dsn
	return cfg
}

// newService builds a node (without listening) and closes it at once; it
// returns the error of service.New.
func newService(t *testing.T, cfg service.Config) error {
	t.Helper()
	s, err := service.New(context.Background(), cfg)
	if err == nil {
		if err := s.Shutdown(); err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	}
	return err
}

func wantErrDef(t *testing.T, err error, def *bus.ErrorDef, what string) {
	t.Helper()
	if !errors.Is(err, def) {
		t.Fatalf("%s: got %v, want %s", what, err, def.Code)
	}
}

func writeKey(t *testing.T, path string, key []byte) {
	t.Helper()
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func randomKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// sealSomething starts a node on cfg and registers a system with a key, so
// that the store holds a secret sealed by the master key.
func sealSomething(t *testing.T, cfg service.Config) {
	t.Helper()
	s, err := service.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, _, err := s.Registry().AddSystem(ctx, store.System{Code: "000.00.00.H60", Name: "UBND tỉnh"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Registry().IssueKey(ctx, "000.00.00.H60", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(); err != nil {
		t.Fatal(err)
	}
}

// testMasterKeyRefusals runs the refusals on one store: a deleted key file
// is not replaced by a new key, a wrong key (file or LGSP_MASTER_KEY) is
// refused, the right one is taken. dropCheck deletes the stored check
// value, as on a database from before it. It returns the right key file.
func testMasterKeyRefusals(t *testing.T, cfg service.Config, dropCheck func()) []byte {
	sealSomething(t, cfg)
	keyFile := cfg.MasterKeyPath()
	t.Setenv("LGSP_MASTER_KEY", "")
	good, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("deleted key file", func(t *testing.T) {
		if err := os.Remove(keyFile); err != nil {
			t.Fatal(err)
		}
		wantErrDef(t, newService(t, cfg), bus.ErrMasterKeyMissing, "start without master.key")
		if _, err := os.Stat(keyFile); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("a new master key was created: %v", err)
		}
	})
	t.Run("wrong key file", func(t *testing.T) {
		writeKey(t, keyFile, randomKey(t))
		wantErrDef(t, newService(t, cfg), bus.ErrWrongMasterKey, "start on a wrong master.key")
	})
	t.Run("wrong LGSP_MASTER_KEY", func(t *testing.T) {
		t.Setenv("LGSP_MASTER_KEY", base64.StdEncoding.EncodeToString(randomKey(t)))
		wantErrDef(t, newService(t, cfg), bus.ErrWrongMasterKey, "start on a wrong LGSP_MASTER_KEY")
	})
	t.Run("upgrade from before the check value", func(t *testing.T) {
		dropCheck()
		wantErrDef(t, newService(t, cfg), bus.ErrWrongMasterKey, "upgrade on a wrong master.key")
		if err := os.Remove(keyFile); err != nil {
			t.Fatal(err)
		}
		wantErrDef(t, newService(t, cfg), bus.ErrMasterKeyMissing, "upgrade without master.key")
	})
	t.Run("restored key", func(t *testing.T) {
		if err := os.WriteFile(keyFile, good, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := newService(t, cfg); err != nil {
			t.Fatalf("start with the restored key: %v", err)
		}
		// The check value is back and now guards the next start.
		writeKey(t, keyFile, randomKey(t))
		wantErrDef(t, newService(t, cfg), bus.ErrWrongMasterKey, "wrong key after the upgrade")
	})
	return good
}

// TestMasterKeyCheckSQLite: a node on SQLite refuses to start on a missing
// or wrong master key (vault.master_key_missing, vault.wrong_master_key),
// also on a database from before the key check value.
func TestMasterKeyCheckSQLite(t *testing.T) {
	cfg := keyConfig(t, "")
	testMasterKeyRefusals(t, cfg, func() {
		db, err := sql.Open("sqlite", filepath.Join(cfg.DataDir, "lgsp.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec("DELETE FROM meta"); err != nil {
			t.Fatal(err)
		}
	})
}

// TestMasterKeyCheckMariaDB: the same on MariaDB, and nodes sharing the
// database agree: a second node with its own data dir and no key file is
// refused instead of creating its own key, and is refused on another key.
func TestMasterKeyCheckMariaDB(t *testing.T) {
	dsn, db := freshMySQL(t)
	cfg := keyConfig(t, dsn)
	good := testMasterKeyRefusals(t, cfg, func() {
		if _, err := db.Exec("DELETE FROM meta"); err != nil {
			t.Fatal(err)
		}
	})
	second := keyConfig(t, dsn)
	wantErrDef(t, newService(t, second), bus.ErrMasterKeyMissing, "second node without a key")
	if _, err := os.Stat(second.MasterKeyPath()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the second node created its own master key: %v", err)
	}
	t.Setenv("LGSP_MASTER_KEY", base64.StdEncoding.EncodeToString(randomKey(t)))
	wantErrDef(t, newService(t, second), bus.ErrWrongMasterKey, "second node on another key")
	t.Setenv("LGSP_MASTER_KEY", strings.TrimSpace(string(good)))
	if err := newService(t, second); err != nil {
		t.Fatalf("second node with the shared key: %v", err)
	}
}

// TestMasterKeyFreshStore: on an empty store a missing key file is created
// (first run) and its check value stored; nodes starting on an empty
// MariaDB at once with different keys cannot both win.
func TestMasterKeyFreshStore(t *testing.T) {
	cfg := keyConfig(t, "")
	if err := newService(t, cfg); err != nil {
		t.Fatalf("first run: %v", err)
	}
	if st, err := os.Stat(cfg.MasterKeyPath()); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("master.key after the first run: %v %v", st, err)
	}
	// Nothing sealed yet, but the check value is stored: a second key is
	// refused all the same.
	if err := os.Remove(cfg.MasterKeyPath()); err != nil {
		t.Fatal(err)
	}
	wantErrDef(t, newService(t, cfg), bus.ErrMasterKeyMissing, "key deleted after the first run")

	dsn, _ := freshMySQL(t)
	a, b := keyConfig(t, dsn), keyConfig(t, dsn)
	errs := make(chan error, 2)
	for _, c := range []service.Config{a, b} {
		go func() {
			s, err := service.New(context.Background(), c)
			if err == nil {
				err = s.Shutdown()
			}
			errs <- err
		}()
	}
	e1, e2 := <-errs, <-errs
	if (e1 == nil) == (e2 == nil) {
		t.Fatalf("two nodes with different new keys on one empty store: %v / %v; want exactly one refused", e1, e2)
	}
	// The loser either saw the winner's check value before choosing a key
	// (no key file: master_key_missing) or lost the write (wrong key).
	if err := errors.Join(e1, e2); !errors.Is(err, bus.ErrWrongMasterKey) && !errors.Is(err, bus.ErrMasterKeyMissing) {
		t.Fatalf("the refused node: %v, want vault.wrong_master_key or vault.master_key_missing", err)
	}
	// The refused node left no key file of its own behind.
	na, _ := os.Stat(a.MasterKeyPath())
	nb, _ := os.Stat(b.MasterKeyPath())
	if (na == nil) == (nb == nil) {
		t.Fatalf("key files after the race: a=%v b=%v; want only the winner's", na != nil, nb != nil)
	}
}

// TestMasterKeyCLI: the real binary refuses too — `lgsp serve` and the
// registry commands exit with the coded message and create no key.
func TestMasterKeyCLI(t *testing.T) {
	bin := buildLGSP(t)
	cfg := keyConfig(t, "")
	sealSomething(t, cfg)
	if err := os.Remove(cfg.MasterKeyPath()); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "LGSP_DATA_DIR="+cfg.DataDir, "LGSP_ROUTES_DIR="+cfg.RoutesDir, "LGSP_LOG_FILE="+cfg.Log.File, "LGSP_MASTER_KEY=")
	run := func(args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	for _, args := range [][]string{{"serve", "--listen", "127.0.0.1:0"}, {"systems", "list"}, {"keys", "list", "--system", "000.00.00.H60"}} {
		out, err := run(args...)
		if err == nil || !strings.Contains(out, "vault.master_key_missing") || !strings.Contains(out, "restore master.key") {
			t.Fatalf("lgsp %s without master.key: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if _, err := os.Stat(cfg.MasterKeyPath()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the CLI created a master key: %v", err)
	}
	writeKey(t, cfg.MasterKeyPath(), randomKey(t))
	for _, args := range [][]string{{"serve", "--listen", "127.0.0.1:0"}, {"systems", "list"}} {
		out, err := run(args...)
		if err == nil || !strings.Contains(out, "vault.wrong_master_key") {
			t.Fatalf("lgsp %s on a wrong master.key: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
