package test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tuyenquang/lgsp/adapters/vxp"
	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/edxml"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
	vxpsim "github.com/tuyenquang/lgsp/test/sim/vxp"
)

const (
	sdkSys     = "000.00.20.H60" // a QLVB system embedding the vendor SDK
	sdkRESTSys = "000.00.21.H60" // a REST recipient
)

func vxpEndpointOn(c *service.Config) {
	var n yaml.Node
	_ = n.Encode(map[string]any{"window": "15m", "data_type": "edoc", "max_body": 1 << 20})
	if c.Gateways == nil {
		c.Gateways = map[string]yaml.Node{}
	}
	c.Gateways["vxp_endpoint"] = n
}

// sdkClient is our VXP client pointed at LGSP's drop-in endpoint with the
// system's identifier code and its shared secret — what an SDK-based
// system changes, and nothing else.
func sdkClient(n *node, code, secret string) *vxp.Client {
	return &vxp.Client{BaseURL: n.url + "/vxp", SystemID: code, Secret: secret,
		Retry: bus.RetryPolicy{Initial: time.Millisecond, MaxAttempts: 1, MaxElapsed: time.Second}}
}

// TestVXPEndpointDropIn: a document sent by an SDK-style client through
// /vxp/sendEdoc reaches a REST recipient through the exchange core; the
// recipient's status packet comes back to the sender's
// getReceivedEdocList with messagetype=status, is fetched with getEdoc and
// acknowledged with updateStatus.
func TestVXPEndpointDropIn(t *testing.T) {
	n := startNodeWith(t, "sqlite", vxpEndpointOn)
	ctx := context.Background()
	n.system(t, sdkSys, "Hệ thống QLVB dùng SDK")
	rcpt := n.system(t, sdkRESTSys, "Hệ thống QLVB REST")
	n.grant(t, "exchange", sdkSys, sdkRESTSys, "edoc")
	cl := sdkClient(n, sdkSys, n.clients[sdkSys].SecretKey)

	pkt := vxpsim.SamplePacket(sdkSys, []string{sdkRESTSys}, "Công văn qua SDK", []byte("pdf"))
	docID, err := cl.SendEdoc(ctx, vxp.SendRequest{From: sdkSys, To: []string{sdkRESTSys}, Body: bytes.NewReader(pkt)})
	if err != nil || docID == "" {
		t.Fatalf("sendEdoc = %q, %v", docID, err)
	}
	// The REST recipient receives the very bytes.
	var got bytes.Buffer
	eventually(t, "the document is in the REST inbox", func() (bool, error) {
		in, err := rcpt.Inbox(ctx)
		return err == nil && len(in) == 1 && in[0].ExchangeID == docID, err
	})
	if _, err := rcpt.Ready(ctx, docID); err != nil {
		t.Fatal(err)
	}
	if _, err := rcpt.Download(ctx, docID, 0, &got); err != nil || !bytes.Equal(got.Bytes(), pkt) {
		t.Fatalf("download: %d bytes, %v", got.Len(), err)
	}
	doc, err := edxml.Parse(bytes.NewReader(pkt), nil)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := edxml.StatusFor(doc, edxml.StatusArrived, edxml.Organization{OrganId: sdkRESTSys, OrganName: "REST"}, time.Now(), "Đã đến")
	var sb bytes.Buffer
	if err := edxml.Build(&sb, st); err != nil {
		t.Fatal(err)
	}
	if _, err := rcpt.SendStatus(ctx, docID, sb.Bytes()); err != nil {
		t.Fatal(err)
	}
	// The status comes back to the SDK sender.
	var list []vxp.Edoc
	eventually(t, "the status is listed for the SDK sender", func() (bool, error) {
		list, err = cl.GetReceivedEdocList(ctx, vxp.MessageStatus)
		return err == nil && len(list) == 1, err
	})
	if list[0].MessageType != vxp.MessageStatus || string(list[0].From) != sdkRESTSys {
		t.Fatalf("status entry %+v", list[0])
	}
	rc, err := cl.GetEdoc(ctx, string(list[0].DocID))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	sp, err := edxml.Parse(bytes.NewReader(raw), nil)
	if err != nil || sp.Kind() != edxml.KindStatus {
		t.Fatalf("status packet: %v (%q)", err, raw)
	}
	mh := sp.Envelope.Header.MessageHeader
	if mh.StatusCode != string(edxml.StatusArrived) || len(mh.ResponseFor) != 1 || mh.ResponseFor[0].DocumentId != doc.Envelope.Header.MessageHeader.DocumentId {
		t.Fatalf("status packet says %+v\n%s", mh, raw)
	}
	if err := cl.UpdateStatus(ctx, string(list[0].DocID), vxp.TransportDone); err != nil {
		t.Fatal(err)
	}
	if list, err := cl.GetReceivedEdocList(ctx, vxp.MessageStatus); err != nil || len(list) != 0 {
		t.Fatalf("an acknowledged status is still listed: %+v %v", list, err)
	}
	sent, err := cl.GetSentEdocList(ctx, vxp.MessageEdoc)
	if err != nil || len(sent) != 1 || string(sent[0].ToCode) != sdkRESTSys {
		t.Fatalf("getSentEdocList = %+v, %v", sent, err)
	}
	if ag, err := cl.GetAgencies(ctx); err != nil || len(ag) < 2 {
		t.Fatalf("getAgenciesList = %+v, %v", ag, err)
	}
}

// refusedWith wants a gateway error whose description carries our code.
func refusedWith(t *testing.T, what string, err error, code string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), code) {
		t.Fatalf("%s: %v, want %s", what, err, code)
	}
}

// TestVXPEndpointAttacks: wrong secret, RSA-only system, foreign From
// organ, replay of a signature for another request (a byte-identical
// sendEdoc retry answers the first DocId instead), oversize body, stale
// timestamp. Each refusal is the axis' FAIL envelope with our code.
func TestVXPEndpointAttacks(t *testing.T) {
	n := startNodeWith(t, "sqlite", vxpEndpointOn)
	ctx := context.Background()
	n.system(t, sdkSys, "SDK")
	n.system(t, sdkRESTSys, "REST")
	n.grant(t, "exchange", sdkSys, sdkRESTSys, "edoc")
	secret := n.clients[sdkSys].SecretKey

	t.Run("wrong secret", func(t *testing.T) {
		_, err := sdkClient(n, sdkSys, "not-the-secret").GetReceivedEdocList(ctx, vxp.MessageEdoc)
		refusedWith(t, "wrong secret", err, "auth.bad_signature")
		if !errors.Is(err, bus.ErrGatewayAuth) {
			t.Fatalf("HTTP status class: %v", err)
		}
	})
	t.Run("RSA-only system", func(t *testing.T) {
		const rsaSys = "000.00.22.H60"
		rs := storeSystem(rsaSys)
		rs.Algs = []string{"LGSP-RSA-SHA256"}
		if _, _, err := n.svc.Registry().AddSystem(ctx, rs); err != nil {
			t.Fatal(err)
		}
		k, _ := rsa.GenerateKey(rand.Reader, 2048)
		der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if _, err := n.svc.Registry().RegisterRSAKey(ctx, rsaSys, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), time.Time{}); err != nil {
			t.Fatal(err)
		}
		_, err := sdkClient(n, rsaSys, "anything").GetReceivedEdocList(ctx, vxp.MessageEdoc)
		refusedWith(t, "RSA-only", err, "auth.key_kind")
	})
	t.Run("foreign From organ", func(t *testing.T) {
		pkt := vxpsim.SamplePacket(sdkRESTSys, []string{sdkSys}, "Giả mạo", []byte("x"))
		_, err := sdkClient(n, sdkSys, secret).SendEdoc(ctx, vxp.SendRequest{From: sdkSys, To: []string{sdkRESTSys}, Body: bytes.NewReader(pkt)})
		refusedWith(t, "foreign From", err, "edxml.sender_mismatch")
	})
	t.Run("oversize body", func(t *testing.T) {
		big := bytes.Repeat([]byte("A"), 2<<20)
		_, err := sdkClient(n, sdkSys, secret).SendEdoc(ctx, vxp.SendRequest{From: sdkSys, To: []string{sdkRESTSys}, Body: bytes.NewReader(big)})
		refusedWith(t, "oversize", err, "request.too_large")
	})
	t.Run("stale timestamp", func(t *testing.T) {
		cl := sdkClient(n, sdkSys, secret)
		cl.Now = func() time.Time { return time.Now().Add(-time.Hour) }
		_, err := cl.GetReceivedEdocList(ctx, vxp.MessageEdoc)
		refusedWith(t, "stale", err, "auth.clock_skew")
	})
	t.Run("replay and retry", func(t *testing.T) {
		// One signed list call, sent again to another operation.
		s := vxp.Sign(secret, []vxp.Header{{Name: "timestamp", Value: vxp.FormatTimestamp(time.Now(), time.FixedZone("ICT", 7*3600))},
			{Name: "systemid", Value: sdkSys}, {Name: "Content-Type", Value: "application/json"},
			{Name: "servicetype", Value: "eDoc"}, {Name: "messagetype", Value: "edoc"}})
		call := func(op string) (int, string) {
			req, _ := http.NewRequest(http.MethodPost, n.url+"/vxp/"+op, nil)
			s.Apply(req.Header)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, resp.Header.Get("X-LGSP-Error-Code") + " " + string(b)
		}
		if st, b := call("getReceivedEdocList"); st != 200 {
			t.Fatalf("first call: %d %s", st, b)
		}
		if st, b := call("getReceivedEdocList"); st != 200 {
			t.Fatalf("byte-identical retry: %d %s", st, b)
		}
		if st, b := call("getSentEdocList"); st != 401 || !strings.HasPrefix(b, "auth.replay ") || !strings.Contains(b, `"ErrorCode":"401"`) {
			t.Fatalf("replay to another operation: %d %s", st, b)
		}
		// sendEdoc retried byte for byte: the same DocId, one exchange.
		pkt := vxpsim.SamplePacket(sdkSys, []string{sdkRESTSys}, "Gửi lại", []byte("y"))
		pinned := time.Now()
		cl := sdkClient(n, sdkSys, secret)
		cl.Now = func() time.Time { return pinned }
		a, err1 := cl.SendEdoc(ctx, vxp.SendRequest{From: sdkSys, To: []string{sdkRESTSys}, Body: bytes.NewReader(pkt)})
		b, err2 := cl.SendEdoc(ctx, vxp.SendRequest{From: sdkSys, To: []string{sdkRESTSys}, Body: bytes.NewReader(pkt)})
		if err1 != nil || err2 != nil || a != b {
			t.Fatalf("retried sendEdoc: %q %v / %q %v", a, err1, b, err2)
		}
		sent, err := cl.GetSentEdocList(ctx, vxp.MessageEdoc)
		if err != nil {
			t.Fatal(err)
		}
		count := 0
		for _, s := range sent {
			if string(s.SenderDocID) == a {
				count++
			}
		}
		if count != 1 {
			t.Fatalf("%d exchanges for one retried sendEdoc", count)
		}
	})
}

func storeSystem(code string) store.System {
	return store.System{Code: code, Name: "Hệ thống " + code, Unit: "UBND tỉnh", Contact: "vanthu@example.gov.vn"}
}
