package test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/adapters/rest"
	"github.com/tuyenquang/lgsp/adapters/vxp"
	"github.com/tuyenquang/lgsp/bus/edxml"
	"github.com/tuyenquang/lgsp/bus/exchange"
	"github.com/tuyenquang/lgsp/bus/service"
	vxpsim "github.com/tuyenquang/lgsp/test/sim/vxp"
)

// The systems the recorded SDK requests name, and the document id they
// fetch and acknowledge.
const (
	capH60    = "000.00.00.H60"
	capSaaS   = "vxp.saas.03"
	capG22    = "000.00.00.G22"
	capDocID  = "b6e1f29d-cdc9-4fa7-8391-442e8566f14e"
	capturesD = "../adapters/vxp/testdata/captures"
)

// resignCapture adapts a recorded SDK request to this node: the
// timestamp becomes frozen (ten minutes old, within the window), the
// docId becomes an exchange of this node, the file of a sendEdoc a real
// packet (hash-file and Content-Length follow) — each substituted in the
// header AND in the signed JSON, which is otherwise kept byte for byte —
// and the HMAC is computed again with the system's issued secret (the
// registry issues secrets, it does not take a known one).
func resignCapture(c vxpsim.Capture, secret, docID string, file []byte) vxpsim.Capture {
	js := c.Header("XroadVnpt-sign-header")
	sub := func(name, old, val string) {
		if old == "" {
			return
		}
		js = strings.ReplaceAll(js, `"`+old+`"`, `"`+val+`"`)
		c.SetHeader(name, val)
	}
	ts := vxp.FormatTimestamp(time.Now().Add(-10*time.Minute), time.FixedZone("ICT", 7*3600))
	sub("XroadVnpt-timestamp", c.Header("XroadVnpt-timestamp"), ts)
	if docID != "" {
		sub("XroadVnpt-docId", c.Header("XroadVnpt-docId"), docID)
		sub("XroadVnpt-docid", c.Header("XroadVnpt-docid"), docID)
	}
	if file != nil {
		sum := sha256.Sum256(file)
		sub("XroadVnpt-hash-file", c.Header("XroadVnpt-hash-file"), vxp.HashFile(sum[:]))
		c.Body = append(append([]byte(nil), file...), '\r', '\n') // the SDK's CRLF
		c.SetHeader("Content-Length", fmt.Sprint(len(c.Body)))
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(js))
	c.SetHeader("XroadVnpt-sign-header", js)
	c.SetHeader("XroadVnpt-hash-header", hex.EncodeToString(m.Sum(nil)))
	return c
}

// replayExpect sends a capture byte for byte under /vxp (header names and
// duplicates as recorded) and, unlike Capture.Replay, keeps "Expect:
// 100-continue": the body goes only after the server's interim 100, as
// the SDK's HttpClient does.
func replayExpect(t *testing.T, addr string, c vxpsim.Capture) (int, string, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	var b strings.Builder
	f := strings.Fields(c.RequestLine)
	fmt.Fprintf(&b, "%s /vxp%s %s\r\n", f[0], f[1], f[2])
	expect := false
	for _, h := range c.Headers {
		n, v, _ := strings.Cut(h, ": ")
		switch strings.ToLower(n) {
		case "host":
			h = "Host: " + addr
		case "connection":
			h = "Connection: close"
		case "expect":
			expect = strings.EqualFold(v, "100-continue")
		}
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	if expect {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusContinue {
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, resp.Header.Get("X-LGSP-Error-Code"), body
		}
	}
	if _, err := conn.Write(c.Body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("X-LGSP-Error-Code"), body
}

type vxpAnswer struct {
	Status    string          `json:"status"`
	ErrorCode string          `json:"ErrorCode"`
	ErrorDesc string          `json:"ErrorDesc"`
	DocID     string          `json:"DocId"`
	Data      json.RawMessage `json:"data"`
}

// TestVXPEndpointReplaysSDK replays every recorded request of the vendor
// SDK against OUR endpoint (not the simulator), re-signed as resignCapture
// says: header names as sent, docId and docid together, the raw sendEdoc
// body + CRLF with Content-Length, {} bodies behind Expect: 100-continue,
// frozen timestamps, 17 logical headers in Java HashMap order. Each is
// accepted and does what it says; the one whose docId holds U+0001 is
// refused by Go's HTTP server before any handler (as for the simulator).
func TestVXPEndpointReplaysSDK(t *testing.T) {
	n := startNodeWith(t, "sqlite", vxpEndpointOn)
	ctx := context.Background()
	h60 := n.system(t, capH60, "QLVB dùng SDK (H60)")
	saas := n.system(t, capSaaS, "QLVB dùng SDK (SaaS)")
	g22 := n.system(t, capG22, "QLVB REST (G22)")
	n.grant(t, "exchange", capG22, capH60, "edoc")
	n.grant(t, "exchange", capG22, capSaaS, "edoc")
	n.grant(t, "exchange", capH60, capG22, "edoc")
	secrets := map[string]string{capH60: h60.SecretKey, capSaaS: saas.SecretKey}

	// Two documents from G22 (REST) for H60 and the SaaS system: the first
	// for the sdk-reuse getEdoc/updateStatus pair, the second for sdk-fixed.
	docs := make([][]byte, 2)
	ids := make([]string, 2)
	for i := range docs {
		docs[i] = vxpsim.SamplePacket(capG22, []string{capH60, capSaaS}, fmt.Sprintf("Văn bản %d", i), []byte("pdf"))
		ids[i] = sendTo(t, g22, docs[i], capH60, capSaaS)
	}
	// sdk-fixed/04 acknowledges a document H60 fetched first.
	eventually(t, "H60 fetches the second document", func() (bool, error) {
		rc, err := sdkClient(n, capH60, h60.SecretKey).GetEdoc(ctx, ids[1])
		if err == nil {
			rc.Close()
		}
		return err == nil, err
	})
	pkt := vxpsim.SamplePacket(capH60, []string{capG22}, "Gửi bằng SDK", []byte("pdf"))

	caps, err := vxpsim.LoadCaptures(capturesD)
	if err != nil || len(caps) != 12 {
		t.Fatalf("%d captures, %v", len(caps), err)
	}
	addr := strings.TrimPrefix(n.url, "http://")
	for _, c := range caps {
		t.Run(c.Name, func(t *testing.T) {
			docID, wantDoc := ids[1], docs[1]
			if strings.HasPrefix(c.Name, "sdk-reuse/") {
				docID, wantDoc = ids[0], docs[0]
			}
			var file []byte
			if c.Op() == "sendEdoc" {
				file = pkt
			}
			if c.Name == "sdk-edge/01-getEdoc.json" {
				docID = "" // its docId is the escaping case itself
			}
			rc := resignCapture(c, secrets[c.Header("XroadVnpt-systemid")], docID, file)
			status, code, body := replayExpect(t, addr, rc)
			if c.Name == "sdk-edge/01-getEdoc.json" {
				if status != http.StatusBadRequest || code != "" {
					t.Fatalf("a control byte in a header: HTTP %d %q %s, want Go's 400 before any handler", status, code, body)
				}
				return
			}
			var a vxpAnswer
			if err := json.Unmarshal(body, &a); err != nil || status != 200 || a.Status != "OK" || a.ErrorCode != "0" {
				t.Fatalf("HTTP %d %s %s (%v)", status, code, body, err)
			}
			switch c.Op() {
			case "getEdoc":
				var b64 string
				if err := json.Unmarshal(a.Data, &b64); err != nil || b64 != base64.StdEncoding.EncodeToString(wantDoc) {
					t.Fatalf("getEdoc data %.80s (%v)", a.Data, err)
				}
			case "getReceivedEdocList":
				var list []map[string]any
				err := json.Unmarshal(a.Data, &list)
				// edoc: the sdk-reuse document (confirmed only by the last
				// capture) is due; status: none.
				want := c.Header("XroadVnpt-messagetype") == vxp.MessageStatus && list != nil && len(list) == 0 ||
					c.Header("XroadVnpt-messagetype") == vxp.MessageEdoc && listed(list, "docId", ids[0])
				if err != nil || !want {
					t.Fatalf("getReceivedEdocList(%s) %s (%v)", c.Header("XroadVnpt-messagetype"), a.Data, err)
				}
			case "updateStatus":
				st, err := g22.Status(ctx, docID)
				if err != nil || !confirmedBy(st, capH60) {
					t.Fatalf("after updateStatus done: %+v %v", st, err)
				}
			case "sendEdoc":
				eventually(t, "the SDK's document in G22's inbox", func() (bool, error) {
					_, err := g22.Ready(ctx, a.DocID)
					return err == nil, err
				})
				var got bytes.Buffer
				if _, err := g22.Download(ctx, a.DocID, 0, &got); err != nil || !bytes.Equal(got.Bytes(), pkt) {
					t.Fatalf("G22 got %d bytes (want the file without the CRLF, %d), %v", got.Len(), len(pkt), err)
				}
			case "getSentEdocList":
				var list []map[string]any
				if err := json.Unmarshal(a.Data, &list); err != nil || !listed(list, "toCode", capG22) {
					t.Fatalf("getSentEdocList %s (%v)", a.Data, err)
				}
			case "getAgenciesList":
				var list []map[string]any
				if err := json.Unmarshal(a.Data, &list); err != nil || !listed(list, "code", capSaaS) {
					t.Fatalf("getAgenciesList %s (%v)", a.Data, err)
				}
			}
		})
	}
}

func listed(list []map[string]any, key, val string) bool {
	for _, e := range list {
		if e[key] == val {
			return true
		}
	}
	return false
}

func confirmedBy(st *exchange.View, code string) bool {
	for _, r := range st.Recipients {
		if r.Code == code {
			return r.Status == "confirmed"
		}
	}
	return false
}

// sendTo sends content over REST as data type edoc to the recipients.
func sendTo(t *testing.T, c *rest.Client, content []byte, to ...string) string {
	t.Helper()
	ctx := context.Background()
	sp, err := c.Request(ctx, exchange.Request{Recipients: to, Title: "Công văn", DataType: "edoc", MediaType: "application/xml"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UploadBytes(ctx, sp.ExchangeID, content); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Complete(ctx, sp.ExchangeID, exchange.CompleteRequest{SHA256: sumHex(content)}); err != nil {
		t.Fatal(err)
	}
	return sp.ExchangeID
}

// TestVXPEndpointReplayAcrossNodes: two nodes on one MariaDB, as behind a
// load balancer. A signature accepted on node A and replayed on node B to
// another operation is refused (auth.replay); the byte-identical repeat
// of a reused SDK object is accepted on B; a byte-identical sendEdoc retry
// on B answers A's DocId and opens no second exchange.
func TestVXPEndpointReplayAcrossNodes(t *testing.T) {
	dsn, db := freshMySQL(t)
	key := filepath.Join(t.TempDir(), "master.key")
	on := func(name string) func(*service.Config) {
		return func(c *service.Config) { c.Store, c.MasterKeyFile, c.Node = dsn, key, name; vxpEndpointOn(c) }
	}
	a := startNodeWith(t, "sqlite", on("node-a"))
	b := startNodeWith(t, "sqlite", on("node-b"))
	ctx := context.Background()
	a.system(t, sdkSys, "SDK")
	a.system(t, sdkRESTSys, "REST")
	a.grant(t, "exchange", sdkSys, sdkRESTSys, "edoc")
	secret := a.clients[sdkSys].SecretKey

	s := vxp.Sign(secret, []vxp.Header{{Name: "timestamp", Value: vxp.FormatTimestamp(time.Now(), time.FixedZone("ICT", 7*3600))},
		{Name: "systemid", Value: sdkSys}, {Name: "Content-Type", Value: "application/json"},
		{Name: "servicetype", Value: "eDoc"}, {Name: "messagetype", Value: "edoc"}})
	call := func(n *node, op string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, n.url+"/vxp/"+op, nil)
		s.Apply(req.Header)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("X-LGSP-Error-Code") + " " + string(body)
	}
	if st, body := call(a, "getReceivedEdocList"); st != 200 {
		t.Fatalf("first call on A: %d %s", st, body)
	}
	if st, body := call(b, "getSentEdocList"); st != 401 || !strings.HasPrefix(body, "auth.replay ") {
		t.Fatalf("replay on B to another operation: %d %s", st, body)
	}
	if st, body := call(b, "getReceivedEdocList"); st != 200 {
		t.Fatalf("byte-identical repeat on B: %d %s", st, body)
	}

	pkt := vxpsim.SamplePacket(sdkSys, []string{sdkRESTSys}, "Gửi lại qua nút khác", []byte("z"))
	pinned := time.Now()
	send := func(n *node) (string, error) {
		cl := sdkClient(n, sdkSys, secret)
		cl.Now = func() time.Time { return pinned }
		return cl.SendEdoc(ctx, vxp.SendRequest{From: sdkSys, To: []string{sdkRESTSys}, Body: bytes.NewReader(pkt)})
	}
	first, err := send(a)
	if err != nil || first == "" {
		t.Fatalf("sendEdoc on A: %q %v", first, err)
	}
	again, err := send(b)
	if err != nil || again != first {
		t.Fatalf("byte-identical sendEdoc on B = %q %v, want A's %q", again, err, first)
	}
	var exchanges int
	if err := db.QueryRow("SELECT COUNT(*) FROM exchanges WHERE source = ?", sdkSys).Scan(&exchanges); err != nil || exchanges != 1 {
		t.Fatalf("%d exchanges from %s for one retried sendEdoc (%v)", exchanges, sdkSys, err)
	}
}

// vxpCount calls a count operation with a signed GET (or POST) and returns
// the count the endpoint answers.
func vxpCount(t *testing.T, n *node, secret, method, op string) int {
	t.Helper()
	s := vxp.Sign(secret, []vxp.Header{{Name: "systemid", Value: sdkSys}, {Name: "servicetype", Value: "eDoc"},
		{Name: "timestamp", Value: vxp.FormatTimestamp(time.Now(), time.FixedZone("ICT", 7*3600))},
		{Name: "Content-Type", Value: "application/json"}, {Name: "nonce", Value: fmt.Sprint(time.Now().UnixNano())}})
	req, _ := http.NewRequest(method, n.url+"/vxp/"+op, nil)
	s.Apply(req.Header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a struct {
		Status string `json:"status"`
		Count  *int   `json:"count"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || resp.StatusCode != 200 || a.Status != "OK" || a.Count == nil {
		t.Fatalf("%s %s: HTTP %d %+v %v", method, op, resp.StatusCode, a, err)
	}
	return *a.Count
}

// TestVXPEndpointSDKRecipient: an SDK-based system as a recipient counts
// its due documents (countReceiveEdoc, GET and POST), fetches one and
// answers with a status packet sent through sendEdoc messagetype=status,
// matched on ResponseFor/DocumentId to the exchange it fetched: the REST
// sender sees the status on its exchange. A status answering a document
// the system never fetched here is refused. As a sender, its
// countReceiveStatus counts the status packets due to it.
func TestVXPEndpointSDKRecipient(t *testing.T) {
	n := startNodeWith(t, "sqlite", vxpEndpointOn)
	ctx := context.Background()
	n.system(t, sdkSys, "SDK")
	sender := n.system(t, sdkRESTSys, "REST")
	n.grant(t, "exchange", sdkRESTSys, sdkSys, "edoc")
	n.grant(t, "exchange", sdkSys, sdkRESTSys, "edoc")
	secret := n.clients[sdkSys].SecretKey
	cl := sdkClient(n, sdkSys, secret)

	pkt := vxpsim.SamplePacket(sdkRESTSys, []string{sdkSys}, "Công văn cho hệ thống SDK", []byte("pdf"))
	id := sendTo(t, sender, pkt, sdkSys)
	eventually(t, "countReceiveEdoc (GET) counts the delivered document", func() (bool, error) {
		got := vxpCount(t, n, secret, http.MethodGet, "countReceiveEdoc")
		return got == 1, fmt.Errorf("count %d, want 1", got)
	})
	if got := vxpCount(t, n, secret, http.MethodPost, "countReceiveStatus"); got != 0 {
		t.Fatalf("countReceiveStatus (POST) = %d, want 0", got)
	}
	doc, err := edxml.Parse(bytes.NewReader(pkt), nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := edxml.StatusFor(doc, edxml.StatusAccepted, edxml.Organization{OrganId: sdkSys, OrganName: "SDK"}, time.Now(), "Đã vào sổ")
	if err != nil {
		t.Fatal(err)
	}
	var sb bytes.Buffer
	if err := edxml.Build(&sb, st); err != nil {
		t.Fatal(err)
	}
	sendStatus := func() (string, error) {
		return cl.SendEdoc(ctx, vxp.SendRequest{From: sdkSys, To: []string{sdkRESTSys}, MessageType: vxp.MessageStatus, Body: bytes.NewReader(sb.Bytes())})
	}
	// Not fetched yet: the status answers no document it received here.
	if _, err := sendStatus(); err == nil || !strings.Contains(err.Error(), "exchange.not_found") {
		t.Fatalf("status before getEdoc: %v, want exchange.not_found", err)
	}
	rc, err := cl.GetEdoc(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, pkt) {
		t.Fatalf("getEdoc: %d bytes, %v", len(got), err)
	}
	ans, err := sendStatus()
	if err != nil || ans != id {
		t.Fatalf("status through sendEdoc = %q %v, want the exchange %s", ans, err, id)
	}
	v, err := sender.Status(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var seen bool
	for _, e := range v.Ledger {
		seen = seen || e.Kind == "status" && e.Actor == sdkSys && strings.Contains(e.Detail, `"03"`)
	}
	if !seen {
		t.Fatalf("the sender sees no status 03 from %s: %+v", sdkSys, v.Ledger)
	}
	if err := cl.UpdateStatus(ctx, id, vxp.TransportDone); err != nil {
		t.Fatal(err)
	}
	if got := vxpCount(t, n, secret, http.MethodGet, "countReceiveEdoc"); got != 0 {
		t.Fatalf("countReceiveEdoc after updateStatus done = %d, want 0", got)
	}

	// As a sender: the REST recipient's status is counted for it.
	out := vxpsim.SamplePacket(sdkSys, []string{sdkRESTSys}, "Công văn từ hệ thống SDK", []byte("pdf"))
	outID, err := cl.SendEdoc(ctx, vxp.SendRequest{From: sdkSys, To: []string{sdkRESTSys}, Body: bytes.NewReader(out)})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the SDK's document is ready for the REST system", func() (bool, error) {
		_, err := sender.Ready(ctx, outID)
		return err == nil, err
	})
	od, _ := edxml.Parse(bytes.NewReader(out), nil)
	ost, _ := edxml.StatusFor(od, edxml.StatusArrived, edxml.Organization{OrganId: sdkRESTSys, OrganName: "REST"}, time.Now(), "Đã đến")
	var ob bytes.Buffer
	if err := edxml.Build(&ob, ost); err != nil {
		t.Fatal(err)
	}
	if _, err := sender.SendStatus(ctx, outID, ob.Bytes()); err != nil {
		t.Fatal(err)
	}
	if got := vxpCount(t, n, secret, http.MethodGet, "countReceiveStatus"); got != 1 {
		t.Fatalf("countReceiveStatus = %d, want 1", got)
	}
}
