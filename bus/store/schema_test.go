package store_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
)

// TestSchemaNewerRefused: a database carrying a migration this binary does
// not know is refused with store.schema_newer unless the newer binary that
// applied it recorded a floor this binary meets (a backward-compatible
// migration, as in a rolling upgrade).
func TestSchemaNewerRefused(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lgsp.db")
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	status, err := store.Schema(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	latest := status.Latest()
	if status.Newest() != latest || len(status.Pending()) != 0 || status.Floor != store.CompatFloor {
		t.Fatalf("after open: newest %d latest %d pending %v floor %d", status.Newest(), latest, status.Pending(), status.Floor)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	future := latest + 100
	if _, err := raw.Exec("INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)", future); err != nil {
		t.Fatal(err)
	}
	// A newer binary that declared nothing about us: refused, nothing applied.
	_, err = store.Open(ctx, path)
	if bus.CodeOf(err) != bus.ErrSchemaNewer.Code {
		t.Fatalf("open on a newer schema: %v, want %s", err, bus.ErrSchemaNewer.Code)
	}
	// The newer binary says binaries knowing latest+1 are needed: refused
	// (our own older floor row, saying latest, does not count).
	floorName := "schema_floor_" + itoa(future)
	if _, err := raw.Exec("INSERT INTO meta (name, value, created_at) VALUES (?, ?, 0)", floorName, []byte(itoa(latest+1))); err != nil {
		t.Fatal(err)
	}
	if _, err = store.Open(ctx, path); bus.CodeOf(err) != bus.ErrSchemaNewer.Code {
		t.Fatalf("open below the floor: %v", err)
	}
	status, err = store.Schema(ctx, path)
	if err != nil || status.Compatible() == nil || status.Newest() != future {
		t.Fatalf("status: %+v %v", status, err)
	}
	// With the floor at our version (compatible newer migration): runs.
	if _, err := raw.Exec("UPDATE meta SET value = ? WHERE name = ?", []byte(itoa(latest)), floorName); err != nil {
		t.Fatal(err)
	}
	st, err = store.Open(ctx, path)
	if err != nil {
		t.Fatalf("open on a compatible newer schema: %v", err)
	}
	st.Close()
}

func itoa(n int) string {
	b := []byte{}
	for n > 0 || len(b) == 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

// TestSchemaOfMissingDatabase: status creates nothing.
func TestSchemaOfMissingDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.db")
	if _, err := store.Schema(context.Background(), path); err == nil {
		t.Fatal("status of a missing file succeeded")
	}
	if _, err := store.Schema(context.Background(), "sqlite:"+path); err == nil {
		t.Fatal("status of a missing file succeeded")
	}
}
