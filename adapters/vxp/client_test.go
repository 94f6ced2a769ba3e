package vxp_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/adapters/vxp"
	"github.com/tuyenquang/lgsp/bus"
	vxpsim "github.com/tuyenquang/lgsp/test/sim/vxp"
)

var ict = time.FixedZone("ICT", 7*3600)

// TestSignatureVector pins the signature bytes (docs/gateways.md): secret
// "vxp-test-secret", time 2026-03-14 09:26:53.123 ICT, systemid
// "vxp.saas.03", getEdoc of docId b6e1f29d-…. The expected strings were
// computed independently (Java String.hashCode/HashMap bucket order, Gson
// compact JSON, HMAC-SHA256) and must never change.
func TestSignatureVector(t *testing.T) {
	at := time.Date(2026, 3, 14, 9, 26, 53, 123_000_000, ict)
	ts := vxp.FormatTimestamp(at, ict)
	if ts != "14032026T092653+0123" {
		t.Fatalf("timestamp = %q", ts)
	}
	s := vxp.Sign("vxp-test-secret", []vxp.Header{
		{"timestamp", ts}, {"systemid", "vxp.saas.03"}, {"Content-Type", "application/json"},
		{"docId", "b6e1f29d-cdc9-4fa7-8391-442e8566f14e"},
	})
	check := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s:\n got %s\nwant %s", what, got, want)
		}
	}
	check("sign-header-key", s.KeyList, "systemid;docId;timestamp;Content-Type")
	check("sign-header", s.JSON, `{"XroadVnpt-systemid":"vxp.saas.03","XroadVnpt-docId":"b6e1f29d-cdc9-4fa7-8391-442e8566f14e","XroadVnpt-timestamp":"14032026T092653+0123","XroadVnpt-Content-Type":"application/json"}`)
	check("hash-header", s.Hash, "5a08f7e36a22d491d66a4bc75e4e91921984cecd5e073cee865bbe6ae351b823")

	// sendEdoc: the "to" array travels as its JSON text, escaped inside
	// the signed JSON.
	s = vxp.Sign("vxp-test-secret", []vxp.Header{
		{"timestamp", ts}, {"systemid", "000.00.00.H60"}, {"Content-Type", "application/octet-stream"},
		{"from", "000.00.00.H60"}, {"to", `["000.00.00.G22"]`}, {"servicetype", "eDoc"}, {"messagetype", "edoc"}, {"hash-file", "ab1c"},
	})
	check("send sign-header-key", s.KeyList, "systemid;servicetype;messagetype;hash-file;from;to;timestamp;Content-Type")
	check("send sign-header", s.JSON, `{"XroadVnpt-systemid":"000.00.00.H60","XroadVnpt-servicetype":"eDoc","XroadVnpt-messagetype":"edoc","XroadVnpt-hash-file":"ab1c","XroadVnpt-from":"000.00.00.H60","XroadVnpt-to":"[\"000.00.00.G22\"]","XroadVnpt-timestamp":"14032026T092653+0123","XroadVnpt-Content-Type":"application/octet-stream"}`)
	check("send hash-header", s.Hash, "7997badfb5d8319d4c5e1a7ad2ddea2088b1650bc8488927de648ad7f7edd631")

	// Applied headers verify.
	h := http.Header{}
	s.Apply(h)
	if _, err := vxp.VerifyRequest(h, "vxp-test-secret"); err != nil {
		t.Fatalf("own signature does not verify: %v", err)
	}
	if _, err := vxp.VerifyRequest(h, "other"); err == nil {
		t.Fatal("signature verified with the wrong secret")
	}
	h["XroadVnpt-from"] = []string{"000.00.00.G22"}
	if _, err := vxp.VerifyRequest(h, "vxp-test-secret"); err == nil {
		t.Fatal("a changed signed header verified")
	}
}

func TestHashFileQuirk(t *testing.T) {
	sum := []byte{0x00, 0x0a, 0x10, 0xff}
	if got := vxp.HashFile(sum); got != "0a10ff" {
		t.Fatalf("HashFile = %q, want the SDK's unpadded %q", got, "0a10ff")
	}
}

const (
	gw     = "000.00.00.H60" // our systemid on the axis
	secret = "s3cret-of-the-province"
	vpcp   = "000.00.00.G22"
)

func setup(t *testing.T) (*vxpsim.Server, *vxp.Client) {
	t.Helper()
	sim := vxpsim.New(map[string]string{gw: secret, vpcp: "vpcp-secret"})
	srv := sim.Start()
	t.Cleanup(srv.Close)
	c := &vxp.Client{BaseURL: srv.URL, SystemID: gw, Secret: secret}
	return sim, c
}

func TestClientOperations(t *testing.T) {
	sim, c := setup(t)
	ctx := context.Background()
	sim.AddAgency(vxpsim.Agency{Code: vpcp, Name: "Văn phòng Chính phủ"})
	sim.AddAgency(vxpsim.Agency{Code: gw, Name: "UBND tỉnh Tuyên Quang"})

	ag, err := c.GetAgencies(ctx)
	if err != nil || len(ag) != 2 || ag[0].Code != vpcp || ag[1].Name != "UBND tỉnh Tuyên Quang" || ag[0].ID != "1" {
		t.Fatalf("GetAgencies = %+v, %v", ag, err)
	}

	// Something waits for us.
	pkt := vxpsim.SamplePacket(vpcp, []string{gw}, "Công văn thử", bytes.Repeat([]byte("PDF "), 100_000))
	id := sim.Put(vpcp, []string{gw}, "edoc", pkt)
	list, err := c.GetReceivedEdocList(ctx, vxp.MessageEdoc)
	if err != nil || len(list) != 1 || string(list[0].DocID) != id || list[0].From != vpcp || list[0].Status != "inbox" {
		t.Fatalf("GetReceivedEdocList = %+v, %v", list, err)
	}
	if st, err := c.GetReceivedEdocList(ctx, vxp.MessageStatus); err != nil || len(st) != 0 {
		t.Fatalf("status list = %+v, %v", st, err)
	}
	rc, err := c.GetEdoc(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, pkt) {
		t.Fatalf("GetEdoc: %d bytes (want %d), %v", len(got), len(pkt), err)
	}
	if _, err := c.GetEdoc(ctx, "no-such-doc"); !errors.Is(err, bus.ErrGatewayRefused) {
		t.Fatalf("GetEdoc of an unknown doc = %v, want gateway.refused", err)
	}
	if err := c.UpdateStatus(ctx, id, vxp.TransportDone); err != nil {
		t.Fatal(err)
	}
	if sim.Transport(id, gw) != "done" {
		t.Fatal("updateStatus did not reach the axis")
	}
	if list, _ := c.GetReceivedEdocList(ctx, vxp.MessageEdoc); len(list) != 0 {
		t.Fatalf("a done packet is still listed: %+v", list)
	}
	if err := c.UpdateStatus(ctx, id, "whatever"); !errors.Is(err, bus.ErrGatewayRefused) {
		t.Fatalf("bad status = %v, want gateway.refused", err)
	}

	// Send one (streamed body with a known hash, and a rewindable one).
	out := vxpsim.SamplePacket(gw, []string{vpcp}, "Báo cáo", []byte("xlsx"))
	sum := sha256.Sum256(out)
	doc, err := c.SendEdoc(ctx, vxp.SendRequest{From: gw, To: []string{vpcp}, SHA256: sum[:], Size: int64(len(out)), Body: io.MultiReader(bytes.NewReader(out))})
	if err != nil || doc == "" {
		t.Fatalf("SendEdoc = %q, %v", doc, err)
	}
	if _, err := c.SendEdoc(ctx, vxp.SendRequest{From: gw, To: []string{vpcp}, Body: bytes.NewReader(out)}); err != nil {
		t.Fatalf("SendEdoc with a ReadSeeker: %v", err)
	}
	docs := sim.Docs(func(d *vxpsim.Doc) bool { return d.ID == doc })
	if len(docs) != 1 || !bytes.Equal(docs[0].Body, out) || docs[0].To[0] != vpcp {
		t.Fatalf("the axis holds %+v", docs)
	}
	sent, err := c.GetSentEdocList(ctx, vxp.MessageEdoc)
	if err != nil || len(sent) != 2 || string(sent[0].SenderDocID) != doc || sent[0].ToCode != vpcp || sent[0].ReceiveStatus != "inbox" {
		t.Fatalf("GetSentEdocList = %+v, %v", sent, err)
	}
	// Wrong sender: refused by the axis with its message.
	_, err = c.SendEdoc(ctx, vxp.SendRequest{From: vpcp, To: []string{gw}, SHA256: sum[:], Body: bytes.NewReader(out)})
	if !errors.Is(err, bus.ErrGatewayRefused) || !strings.Contains(err.Error(), "khong dung voi ma da dang ky") {
		t.Fatalf("SendEdoc as another unit = %v", err)
	}
	// Wrong hash: refused.
	bad := sha256.Sum256([]byte("x"))
	if _, err := c.SendEdoc(ctx, vxp.SendRequest{From: gw, To: []string{vpcp}, SHA256: bad[:], Body: bytes.NewReader(out)}); !errors.Is(err, bus.ErrGatewayRefused) {
		t.Fatalf("SendEdoc with a wrong hash = %v", err)
	}
	// Every call was signed correctly.
	for _, call := range sim.Calls() {
		if call.Err != "" {
			t.Errorf("call %s refused: %s", call.Op, call.Err)
		}
	}
}

func TestClientBadSignature(t *testing.T) {
	sim, c := setup(t)
	sim.Put(vpcp, []string{gw}, "edoc", vxpsim.SamplePacket(vpcp, []string{gw}, "x", nil))
	c.Secret = "wrong"
	ctx := context.Background()
	calls := map[string]func() error{
		"getReceivedEdocList": func() error { _, err := c.GetReceivedEdocList(ctx, vxp.MessageEdoc); return err },
		"getSentEdocList":     func() error { _, err := c.GetSentEdocList(ctx, vxp.MessageEdoc); return err },
		"getEdoc":             func() error { _, err := c.GetEdoc(ctx, "x"); return err },
		"updateStatus":        func() error { return c.UpdateStatus(ctx, "x", vxp.TransportDone) },
		"getAgenciesList":     func() error { _, err := c.GetAgencies(ctx); return err },
		"sendEdoc": func() error {
			_, err := c.SendEdoc(ctx, vxp.SendRequest{From: gw, To: []string{vpcp}, Body: bytes.NewReader([]byte("<edXMLEnvelope/>"))})
			return err
		},
	}
	for op, call := range calls {
		err := call()
		if !errors.Is(err, bus.ErrGatewayAuth) || !strings.Contains(err.Error(), "sai chu ky") {
			t.Errorf("%s with a wrong secret = %v, want gateway.auth (the axis refused the signature)", op, err)
		}
	}
	for _, call := range sim.Calls() {
		if call.Err == "" {
			t.Errorf("call %s with a wrong secret was accepted", call.Op)
		}
	}
}

// TestClientOneAttemptAndUnreachable: every call is one attempt (what must
// be tried again is an item of the delivery engine); a 503 or a closed
// port is gateway.unreachable, which the engine retries.
func TestClientOneAttemptAndUnreachable(t *testing.T) {
	sim, c := setup(t)
	ctx := context.Background()
	sim.FailNext(1) // one 503: a second attempt would succeed
	if _, err := c.GetReceivedEdocList(ctx, vxp.MessageEdoc); !errors.Is(err, bus.ErrGatewayUnreachable) {
		t.Fatalf("after a 503: %v, want gateway.unreachable (the client has no retry loop of its own)", err)
	}
	if _, err := c.GetReceivedEdocList(ctx, vxp.MessageEdoc); err != nil {
		t.Fatalf("the next call: %v", err)
	}
	sim.FailNext(1)
	if _, err := c.SendEdoc(ctx, vxp.SendRequest{From: gw, To: []string{vpcp}, Body: bytes.NewReader([]byte("<edXMLEnvelope/>"))}); !errors.Is(err, bus.ErrGatewayUnreachable) {
		t.Fatalf("sendEdoc on 503 = %v, want gateway.unreachable", err)
	}
	c.BaseURL = "http://127.0.0.1:1"
	if _, err := c.GetAgencies(ctx); !errors.Is(err, bus.ErrGatewayUnreachable) {
		t.Fatalf("closed port = %v, want gateway.unreachable", err)
	}
	if got := bus.AsError(err2(c.GetAgencies(ctx))).Def.Status; got != http.StatusBadGateway {
		t.Fatalf("HTTP status of gateway.unreachable = %d", got)
	}
}

func err2[T any](_ T, err error) error { return err }

// TestGetEdocStreams: the decoded packet is handed out while the answer
// is still arriving, and a failure verdict after the data is an error.
func TestGetEdocStreams(t *testing.T) {
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"OK","ErrorCode":"0","data":"`)
		io.WriteString(w, strings.Repeat("QUJD", 20000)) // "ABC" × 20000, escaped slash style below
		io.WriteString(w, `\/\/\/\/`)
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, `","ErrorDesc":"Success"}`)
	})
	ts := newServer(t, h)
	c := &vxp.Client{BaseURL: ts, SystemID: gw, Secret: secret}
	rc, err := c.GetEdoc(context.Background(), "d")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 30000)
	if _, err := io.ReadFull(rc, buf); err != nil {
		t.Fatalf("first bytes before the answer ended: %v", err)
	}
	if string(buf[:6]) != "ABCABC" {
		t.Fatalf("decoded %q", buf[:6])
	}
	close(release)
	rest, err := io.ReadAll(rc)
	if err != nil || len(rest) != 60000-30000+3 {
		t.Fatalf("rest: %d bytes, %v", len(rest), err)
	}
	rc.Close()

	// A FAIL verdict after the data.
	h2 := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"data":"QUJD","status":"FAIL","ErrorCode":"100","ErrorDesc":"loi"}`)
	})
	c.BaseURL = newServer(t, h2)
	rc, err = c.GetEdoc(context.Background(), "d")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(rc); !errors.Is(err, bus.ErrGatewayRefused) {
		t.Fatalf("FAIL after data = %v, want gateway.refused", err)
	}
	rc.Close()
}
