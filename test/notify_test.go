package test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/exchange"
	"github.com/tuyenquang/lgsp/bus/notify"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
)

// sendSmall runs F1–F4 of a small document from a to the recipients.
func sendSmall(t *testing.T, n *node, from string, to ...string) string {
	t.Helper()
	ctx := context.Background()
	a := n.clients[from]
	for _, d := range to {
		n.grant(t, "exchange", from, d, "edoc")
	}
	sp, err := a.Request(ctx, exchange.Request{Recipients: to, Title: "Thông báo", DataType: "edoc"})
	if err != nil {
		t.Fatal(err)
	}
	doc := []byte("<tb>họp giao ban</tb>")
	if _, err := a.UploadBytes(ctx, sp.ExchangeID, doc); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Complete(ctx, sp.ExchangeID, exchange.CompleteRequest{MediaType: "application/xml", SHA256: sumHex(doc)}); err != nil {
		t.Fatal(err)
	}
	return sp.ExchangeID
}

// TestWebhookSigned: a system registered with a webhook URL gets a POST of
// the notification, signed under its own key so it can verify it.
func TestWebhookSigned(t *testing.T) {
	// The receiver listens on loopback, which webhooks may reach only when
	// the operator allows it (webhooks.allow_cidrs).
	n := startNodeWith(t, "sqlite", func(c *service.Config) { c.Webhooks.AllowCIDRs = []string{"127.0.0.0/8"} })
	ctx := context.Background()
	got := make(chan error, 4)
	var secret string
	var events = make(chan map[string]any, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- verifyWebhook(r, body, secret)
		var m map[string]any
		json.Unmarshal(body, &m)
		events <- m
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()
	n.system(t, "000.00.00.H60", "UBND tỉnh")
	if _, _, err := n.svc.Registry().AddSystem(ctx, store.System{Code: "000.00.07.H60", Name: "Sở Y tế", WebhookURL: hook.URL + "/lgsp/events"}); err != nil {
		t.Fatal(err)
	}
	_, sk, err := n.svc.Registry().IssueKey(ctx, "000.00.07.H60", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	secret = sk
	id := sendSmall(t, n, "000.00.00.H60", "000.00.07.H60")
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("webhook signature: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no webhook within 15s")
	}
	ev := <-events
	if ev["exchange_id"] != id || ev["recipient"] != "000.00.07.H60" {
		t.Fatalf("webhook body: %v", ev)
	}
	eventually(t, "webhook_sent in the ledger", func() (bool, error) {
		st, err := n.svc.Exchange().Status(ctx, "", id)
		if err != nil {
			return false, err
		}
		for _, e := range st.Ledger {
			if e.Kind == "webhook_sent" {
				return true, nil
			}
		}
		return false, nil
	})
}

// verifyWebhook checks an LGSP-HMAC-SHA256 signature as a receiving system
// would, with its own secret.
func verifyWebhook(r *http.Request, body []byte, secret string) error {
	a, err := auth.ParseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	if hex.EncodeToString(sum[:]) != r.Header.Get(auth.HeaderContentSHA256) {
		return bus.ErrAuthBodyHash.Err()
	}
	canon, err := auth.CanonicalRequest(r, a.SignedHeaders, r.Header.Get(auth.HeaderTimestamp), r.Header.Get(auth.HeaderNonce), r.Header.Get(auth.HeaderContentSHA256))
	if err != nil {
		return err
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(canon))
	if !hmac.Equal(m.Sum(nil), a.Signature) {
		return bus.ErrAuthBadSignature.Err()
	}
	return nil
}

// TestWebSocketNotifications: a destination subscribed over WebSocket gets
// "notified"; the sender gets the recipient's "confirmed"; a reconnect with
// ?after= replays what was missed.
func TestWebSocketNotifications(t *testing.T) {
	n := startNode(t, "sqlite")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n.system(t, "000.00.00.H60", "UBND tỉnh")
	b := n.system(t, "000.00.01.H60", "Văn phòng")
	dial := func(code string, after int64) *websocket.Conn {
		c := n.clients[code]
		url := c.BaseURL + "/v1/events/ws"
		if after > 0 {
			url += "?after=" + strconv.FormatInt(after, 10)
		}
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if err := signWith(req, c, auth.EmptySHA256); err != nil {
			t.Fatal(err)
		}
		conn, resp, err := websocket.Dial(ctx, strings.Replace(url, "http", "ws", 1), &websocket.DialOptions{HTTPHeader: req.Header})
		if err != nil {
			t.Fatalf("dial %v %v", resp, err)
		}
		return conn
	}
	read := func(c *websocket.Conn, want func(notify.Event) bool) notify.Event {
		for {
			_, msg, err := c.Read(ctx)
			if err != nil {
				t.Fatalf("reading websocket: %v", err)
			}
			var e notify.Event
			if err := json.Unmarshal(msg, &e); err != nil {
				t.Fatal(err)
			}
			if want(e) {
				return e
			}
		}
	}
	rcv := dial("000.00.01.H60", 0)
	snd := dial("000.00.00.H60", 0)
	eventually(t, "two subscribers", func() (bool, error) { return hubCount(n) == 2, nil })
	id := sendSmall(t, n, "000.00.00.H60", "000.00.01.H60")
	first := read(rcv, func(e notify.Event) bool { return e.ExchangeID == id && e.Kind == "notified" })
	if first.Recipient != "000.00.01.H60" || first.Source != "000.00.00.H60" {
		t.Fatalf("notified event: %+v", first)
	}
	rcv.Close(websocket.StatusNormalClosure, "")
	if _, err := b.Ready(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Download(ctx, id, 0, io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Confirm(ctx, id, "received", ""); err != nil {
		t.Fatal(err)
	}
	read(snd, func(e notify.Event) bool { return e.ExchangeID == id && e.Kind == "confirmed" })
	// The recipient missed ready/downloaded/confirmed while away: replayed.
	again := dial("000.00.01.H60", first.ID)
	read(again, func(e notify.Event) bool { return e.ExchangeID == id && e.Kind == "confirmed" })
}

// TestExpiryPurges: an exchange not confirmed before its expiry is purged
// and its recipients marked expired.
func TestExpiryPurges(t *testing.T) {
	n := startNode(t, "sqlite")
	ctx := context.Background()
	a := n.system(t, "000.00.00.H60", "UBND tỉnh")
	b := n.system(t, "000.00.01.H60", "Văn phòng")
	n.grant(t, "exchange", "000.00.00.H60", "000.00.*.H60", "edoc")
	sp, err := a.Request(ctx, exchange.Request{Recipients: []string{"000.00.01.H60"}, Title: "Giấy mời", DataType: "edoc"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.UploadBytes(ctx, sp.ExchangeID, []byte("<gm/>")); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Complete(ctx, sp.ExchangeID, exchange.CompleteRequest{MediaType: "application/xml", SHA256: sumHex([]byte("<gm/>")), Policy: []byte(`{"expires_in":"1ms"}`)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "expiry purge", func() (bool, error) {
		k, err := n.svc.Exchange().Expire(ctx)
		return k == 1, err
	})
	st, err := a.Status(ctx, sp.ExchangeID)
	if err != nil || st.Status != "expired" || st.Recipients[0].Status != "expired" || st.PurgedAt.IsZero() {
		t.Fatalf("after expiry: %+v %v", st, err)
	}
	_, err = b.Ready(ctx, sp.ExchangeID)
	wantAPIError(t, err, "exchange.expired")
	if idx, _ := n.svc.Store().ChunkIndex(ctx, sp.ExchangeID); len(idx) != 0 {
		t.Fatal("expired exchange kept its chunks")
	}
}

// TestLiveStreamsEndOnShutdown: SSE and WebSocket subscribers are told the
// node is going away and their streams end at once, so a drain is not held
// up by connections that never go idle.
func TestLiveStreamsEndOnShutdown(t *testing.T) {
	n := startNode(t, "sqlite")
	b := n.system(t, "000.00.01.H60", "Văn phòng")
	ended := make(chan error, 1)
	go func() { ended <- b.Events(context.Background(), 0, func(notify.Event) error { return nil }) }()
	req, _ := http.NewRequest(http.MethodGet, b.BaseURL+"/v1/events/ws", nil)
	if err := signWith(req, b, auth.EmptySHA256); err != nil {
		t.Fatal(err)
	}
	ws, _, err := websocket.Dial(context.Background(), strings.Replace(b.BaseURL, "http", "ws", 1)+"/v1/events/ws", &websocket.DialOptions{HTTPHeader: req.Header})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "two subscribers", func() (bool, error) { return hubCount(n) == 2, nil })
	stopped := make(chan error, 1)
	go func() { stopped <- n.shutdown() }()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the SSE stream did not end within 10 s of shutdown")
	}
	_, _, err = ws.Read(context.Background())
	if websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("websocket closed with %v, want going away", err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}
