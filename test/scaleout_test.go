package test

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/adapters/rest"
	"github.com/tuyenquang/lgsp/bus/exchange"
	"github.com/tuyenquang/lgsp/bus/notify"
	"github.com/tuyenquang/lgsp/bus/service"
)

// TestTwoNodesOneMariaDB is the scale-out story (C2, R5): two nodes share
// one MariaDB database and one master key behind no shared memory at all.
// The sender talks only to node A, the recipient only to node B: the
// recipient's live subscription on B hears of the exchange A accepted
// (notifications fan out through the ledger in the database), B serves
// content A stored, and A reports the outcome B recorded.
func TestTwoNodesOneMariaDB(t *testing.T) {
	dsn, _ := freshMySQL(t)
	key := filepath.Join(t.TempDir(), "master.key")
	on := func(name string) func(*service.Config) {
		return func(c *service.Config) { c.Store, c.MasterKeyFile, c.Node = dsn, key, name }
	}
	a := startNodeWith(t, "sqlite", on("node-a"))
	b := startNodeWith(t, "sqlite", on("node-b"))
	ctx := context.Background()
	sender := a.system(t, "000.00.00.H60", "UBND tỉnh")
	onA := a.system(t, "000.00.01.H60", "Văn phòng")
	a.grant(t, "exchange", "000.00.00.H60", "000.00.01.H60", "edoc")
	recv := &rest.Client{BaseURL: b.url, AccessKey: onA.AccessKey, SecretKey: onA.SecretKey}

	sctx, stop := context.WithCancel(ctx)
	defer stop()
	live := make(chan notify.Event, 64)
	go recv.Events(sctx, 0, func(e notify.Event) error { live <- e; return nil })
	eventually(t, "subscriber on node B", func() (bool, error) { return hubCount(b) == 1, nil })

	payload := bytes.Repeat([]byte("<cv>Công văn qua hai nút</cv>"), 500)
	sp, err := sender.Request(ctx, exchange.Request{Recipients: []string{"000.00.01.H60"}, Title: "Công văn qua hai nút", DataType: "edoc"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sender.UploadBytes(ctx, sp.ExchangeID, payload); err != nil {
		t.Fatal(err)
	}
	if _, err := sender.Complete(ctx, sp.ExchangeID, exchange.CompleteRequest{MediaType: "application/xml", SHA256: sumHex(payload)}); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(15 * time.Second)
	for notified := false; !notified; {
		select {
		case e := <-live:
			notified = e.ExchangeID == sp.ExchangeID && e.Kind == "notified"
		case <-deadline:
			t.Fatal("node B's subscriber was not notified of the exchange accepted on node A within 15 s")
		}
	}
	if _, err := recv.Ready(ctx, sp.ExchangeID); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := recv.Download(ctx, sp.ExchangeID, 0, &got); err != nil || !bytes.Equal(got.Bytes(), payload) {
		t.Fatalf("download from node B: %d bytes, %v", got.Len(), err)
	}
	if _, err := recv.Confirm(ctx, sp.ExchangeID, "received", ""); err != nil {
		t.Fatal(err)
	}
	st, err := sender.Status(ctx, sp.ExchangeID)
	if err != nil || st.Status != "completed" || st.PurgedAt.IsZero() {
		t.Fatalf("status on node A: %+v %v", st, err)
	}
	// A request replayed to the other node (as a load balancer would send
	// it: same Host header) is refused: with MariaDB the nonces live in the
	// shared store.
	resp := rawSigned(t, sender, "GET", "/v1/inbox", "")
	if resp.StatusCode != 200 {
		t.Fatalf("inbox on node A: %d", resp.StatusCode)
	}
	replay := resp.Request.Clone(ctx)
	replay.Host = resp.Request.URL.Host
	replay.URL.Host = b.url[len("http://"):]
	replay.RequestURI = ""
	again, err := (&http.Client{}).Do(replay)
	if err != nil {
		t.Fatal(err)
	}
	again.Body.Close()
	if again.StatusCode != 401 || again.Header.Get("X-LGSP-Error-Code") != "auth.replay" {
		t.Fatalf("replay on node B: %d %s, want 401 auth.replay", again.StatusCode, again.Header.Get("X-LGSP-Error-Code"))
	}
}
