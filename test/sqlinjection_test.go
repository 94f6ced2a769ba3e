package test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"testing"

	"github.com/tuyenquang/lgsp/bus/exchange"
	"github.com/tuyenquang/lgsp/bus/store"
)

// sqlPayloads are strings that change a query's meaning wherever one is
// built by concatenation instead of with placeholders, on SQLite or MariaDB.
var sqlPayloads = []string{
	`x' OR '1'='1`,
	`x'; DROP TABLE exchanges; --`,
	`x" OR "1"="1`,
	`x\'; DELETE FROM systems; #`,
	`%' OR 1=1 OR '%'='`,
	"x`; DROP TABLE events; --",
	`\\'); UPDATE exchange_recipients SET status='confirmed'; --`,
}

func TestSQLInjectionSQLite(t *testing.T)  { testSQLInjection(t, "sqlite") }
func TestSQLInjectionMariaDB(t *testing.T) { testSQLInjection(t, "mysql") }

// testSQLInjection puts SQL metacharacters in every field a caller controls
// that reaches the store (system name, title, policy, exchange ids in the
// path, confirm notes) and checks that each is stored and read back as
// plain text, that ids made of them find nothing, and that the tables a
// successful injection would drop or rewrite still answer as before.
func testSQLInjection(t *testing.T, dialect string) {
	n := startNode(t, dialect)
	ctx := context.Background()
	a := n.system(t, "000.00.00.H60", "UBND tỉnh")
	b := n.system(t, "000.00.01.H60", "Văn phòng UBND tỉnh")
	n.grant(t, "exchange", "000.00.00.H60", "000.00.01.H60", "edoc")

	for i, p := range sqlPayloads {
		code := "000.00.1" + string(rune('0'+i)) + ".H60"
		if _, _, err := n.svc.Registry().AddSystem(ctx, store.System{Code: code, Name: p, Unit: p, Contact: p}); err != nil {
			t.Fatalf("system named %q: %v", p, err)
		}
		s, err := n.svc.Registry().Get(ctx, code)
		if err != nil || s.Name != p || s.Unit != p || s.Contact != p {
			t.Fatalf("system named %q read back as %+v (%v)", p, s, err)
		}
	}

	payload := []byte("<congvan>nội dung</congvan>")
	sum := sha256.Sum256(payload)
	var ids []string
	for _, p := range sqlPayloads {
		sp, err := a.Request(ctx, exchange.Request{Recipients: []string{"000.00.01.H60"}, Title: p, DataType: "edoc", SHA256: hex.EncodeToString(sum[:])})
		if err != nil {
			t.Fatalf("request titled %q: %v", p, err)
		}
		if _, err := a.UploadBytes(ctx, sp.ExchangeID, payload); err != nil {
			t.Fatalf("upload: %v", err)
		}
		pol, _ := json.Marshal(p)
		if _, err := a.Complete(ctx, sp.ExchangeID, exchange.CompleteRequest{SHA256: hex.EncodeToString(sum[:]), Policy: []byte(`{"note":` + string(pol) + `}`)}); err != nil {
			t.Fatalf("complete titled %q: %v", p, err)
		}
		v, err := a.Status(ctx, sp.ExchangeID)
		if err != nil || v.Title != p {
			t.Fatalf("status of exchange titled %q: title %q, %v", p, v.Title, err)
		}
		ids = append(ids, sp.ExchangeID)

		// The payload as an exchange id finds nothing, for the sender and
		// for the recipient, on reads and on writes.
		bad := url.PathEscape(p)
		_, err = a.Status(ctx, bad)
		wantAPIError(t, err, "exchange.not_found")
		_, err = b.Ready(ctx, bad)
		wantAPIError(t, err, "exchange.not_found")
		_, err = b.Confirm(ctx, bad, "received", p)
		wantAPIError(t, err, "exchange.not_found")
	}

	// Every exchange is still there, addressed to B only, with its title;
	// no recipient was confirmed by an injected UPDATE.
	items, err := b.Inbox(ctx)
	if err != nil || len(items) != len(sqlPayloads) {
		t.Fatalf("inbox after the attempts: %d items, %v; want %d", len(items), err, len(sqlPayloads))
	}
	titles := map[string]bool{}
	for _, it := range items {
		titles[it.Title] = true
	}
	for _, p := range sqlPayloads {
		if !titles[p] {
			t.Fatalf("inbox lost the exchange titled %q", p)
		}
	}
	// The recipient confirms one with a note full of metacharacters; only
	// that one moves.
	if _, err := b.Ready(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := b.Download(ctx, ids[0], 0, &got); err != nil || !bytes.Equal(got.Bytes(), payload) {
		t.Fatalf("download: %v", err)
	}
	if _, err := b.Confirm(ctx, ids[0], "received", sqlPayloads[1]); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		v, err := a.Status(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want := "accepted"
		if i == 0 {
			want = "completed"
		}
		if v.Status != want {
			t.Fatalf("exchange %d is %s, want %s", i, v.Status, want)
		}
	}
	systems, err := n.svc.Registry().List(ctx)
	if err != nil || len(systems) != 2+len(sqlPayloads) {
		t.Fatalf("systems after the attempts: %d, %v", len(systems), err)
	}
}
