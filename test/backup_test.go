package test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tuyenquang/lgsp/bus/exchange"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
)

// TestBackupRestoreUnderLoad: while a node on SQLite takes exchanges,
// `lgsp backup` (the real binary, another process) snapshots it; `lgsp
// restore` refuses a missing or wrong master key and a non-empty target,
// then restores into an empty data directory; a second node started there
// has every system, key, grant, exchange and ledger event that existed
// before the backup began, and the route files.
func TestBackupRestoreUnderLoad(t *testing.T) {
	bin := buildLGSP(t)
	n := startNode(t, "sqlite")
	ctx := context.Background()
	a := n.system(t, "000.00.00.H60", "UBND tỉnh")
	n.system(t, "000.00.01.H60", "Văn phòng")
	n.grant(t, "exchange", "000.00.00.H60", "000.00.01.H60", "edoc")

	var mu sync.Mutex
	var sent []string
	stop := make(chan struct{})
	loadErr := make(chan error, 1)
	go func() { // the load: full F1–F4 sends, one after another
		for {
			select {
			case <-stop:
				loadErr <- nil
				return
			default:
			}
			sp, err := a.Request(ctx, exchange.Request{Recipients: []string{"000.00.01.H60"}, Title: "Công văn", DataType: "edoc"})
			if err == nil {
				doc := []byte("<cv>giao ban</cv>")
				if _, err = a.UploadBytes(ctx, sp.ExchangeID, doc); err == nil {
					_, err = a.Complete(ctx, sp.ExchangeID, exchange.CompleteRequest{MediaType: "application/xml", SHA256: sumHex(doc)})
				}
			}
			if err != nil {
				loadErr <- err
				return
			}
			mu.Lock()
			sent = append(sent, sp.ExchangeID)
			mu.Unlock()
		}
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(sent) }
	eventually(t, "some exchanges sent", func() (bool, error) { return count() >= 5, nil })

	mu.Lock()
	before := append([]string(nil), sent...)
	mu.Unlock()
	lastEvent, err := n.svc.Store().LastEventID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	env := append(os.Environ(), "LGSP_DATA_DIR="+n.dataDir, "LGSP_ROUTES_DIR="+n.routesDir, "LGSP_MASTER_KEY=")
	lgsp := func(env []string, args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = work, env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := lgsp(env, "backup", "--out", "b.lgsp")
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	mid := count()
	eventually(t, "load goes on after the backup", func() (bool, error) { return count() >= mid+3, nil })
	close(stop)
	if err := <-loadErr; err != nil {
		t.Fatalf("load failed during the backup: %v", err)
	}
	if !strings.Contains(out, "not included") {
		t.Fatalf("backup did not say where the master key is: %s", out)
	}
	if st, err := os.Stat(filepath.Join(work, "b.lgsp")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", st, err)
	}

	target := filepath.Join(t.TempDir(), "data")
	renv := append(os.Environ(), "LGSP_DATA_DIR="+target, "LGSP_MASTER_KEY=")
	// No key: refused, nothing left behind.
	if out, err := lgsp(renv, "restore", "--in", "b.lgsp"); err == nil || !strings.Contains(out, "vault.master_key_missing") {
		t.Fatalf("restore without a key: %v\n%s", err, out)
	}
	// A wrong key: refused with the check value, nothing left behind.
	other := make([]byte, 32)
	rand.Read(other)
	wrong := append(os.Environ(), "LGSP_DATA_DIR="+target, "LGSP_MASTER_KEY="+base64.StdEncoding.EncodeToString(other))
	if out, err := lgsp(wrong, "restore", "--in", "b.lgsp"); err == nil || !strings.Contains(out, "vault.wrong_master_key") {
		t.Fatalf("restore with a wrong key: %v\n%s", err, out)
	}
	if left, _ := os.ReadDir(target); len(left) != 0 {
		t.Fatalf("a refused restore left %v", left)
	}
	// The right key, kept apart from the backup, put in place first.
	key, err := os.ReadFile(filepath.Join(n.dataDir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "master.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := lgsp(renv, "restore", "--in", "b.lgsp"); err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	if out, err := lgsp(renv, "restore", "--in", "b.lgsp"); err == nil || !strings.Contains(out, "backup.target_not_empty") {
		t.Fatalf("second restore into the same directory: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(target, "restored-settings", "routes", "test.yaml")); err != nil {
		t.Fatalf("route files not restored: %v", err)
	}

	n2 := startNodeWith(t, "sqlite", func(c *service.Config) { c.DataDir = target })
	checkRestored(t, n, n2, before, lastEvent)
	// The keys issued before the backup still sign for their systems.
	a2 := *a
	a2.BaseURL = n2.url
	if _, err := a2.Inbox(ctx); err != nil {
		t.Fatalf("a key issued before the backup is refused by the restored node: %v", err)
	}
}

// checkRestored compares the restored node n2 with the original n: every
// system, grant, and every exchange in ids with its ledger up to lastEvent.
func checkRestored(t *testing.T, n, n2 *node, ids []string, lastEvent int64) {
	t.Helper()
	ctx := context.Background()
	sys1, _ := n.svc.Registry().List(ctx)
	sys2, err := n2.svc.Registry().List(ctx)
	if err != nil || len(sys2) != len(sys1) {
		t.Fatalf("systems: %d restored of %d (%v)", len(sys2), len(sys1), err)
	}
	g1, _ := n.svc.Grants().List(ctx, store.GrantFilter{})
	g2, err := n2.svc.Grants().List(ctx, store.GrantFilter{})
	if err != nil || len(g2) != len(g1) || len(g1) == 0 {
		t.Fatalf("grants: %d restored of %d (%v)", len(g2), len(g1), err)
	}
	for _, id := range ids {
		s1, err := n.svc.Exchange().Status(ctx, "", id)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := n2.svc.Exchange().Status(ctx, "", id)
		if err != nil {
			t.Fatalf("exchange %s missing after restore: %v", id, err)
		}
		var want []store.Event
		for _, e := range s1.Ledger {
			if e.ID <= lastEvent {
				want = append(want, e)
			}
		}
		have := map[int64]string{}
		for _, e := range s2.Ledger {
			have[e.ID] = e.Kind
		}
		for _, e := range want {
			if have[e.ID] != e.Kind {
				t.Fatalf("exchange %s: ledger event %d (%s) missing after restore", id, e.ID, e.Kind)
			}
		}
		if len(want) == 0 {
			t.Fatalf("exchange %s had no ledger before the backup", id)
		}
	}
}
