package main

import (
	"crypto/rand"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tuyenquang/lgsp/bus/activity"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/bus/vault"
)

// TestCLIAuditConcurrentCommands: commands run at the same moment on one
// host (each with its own connection, as separate processes have) race
// for the next sequence number of the chain cli-<host>; every one of them
// gets its entry in, and the chain verifies.
func TestCLIAuditConcurrentCommands(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	v, err := vault.New(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "lgsp.db")
	cfg := service.Defaults()
	cfg.Activity.Enabled = true
	const n = 6
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		st, err := store.OpenSQLite(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		au, err := newCLIAudit(t.Context(), cfg, st, v)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- au.do(t.Context(), "systems.suspend", "", fmt.Sprintf("000.00.%02d.H60", i), func() error { return nil })
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a command could not record its action: %v", err)
		}
	}
	st, err := store.OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rep, err := activity.Verify(t.Context(), st)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || len(rep.Nodes) != 1 || rep.Nodes[0].Node != cliChain() || rep.Nodes[0].Entries != n || rep.Nodes[0].Signed != n {
		t.Fatalf("verify: %+v", rep)
	}
}
