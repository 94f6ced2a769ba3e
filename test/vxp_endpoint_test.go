package test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	_ "github.com/tuyenquang/lgsp/adapters/qlvb"
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
	sdkSOAPSys = "000.00.23.H60" // a SOAP (QLVB, /soap/edoc) recipient
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
	return &vxp.Client{BaseURL: n.url + "/vxp", SystemID: code, Secret: secret}
}

// TestVXPEndpointDropIn: a document sent by an SDK-style client through
// /vxp/sendEdoc reaches a REST recipient and a SOAP (QLVB, /soap/edoc,
// driven by python3-zeep) recipient through the exchange core; both
// recipients' status packets (REST status packet, SOAP updateStatus) come
// back to the sender's getReceivedEdocList with messagetype=status, are
// fetched with getEdoc and acknowledged with updateStatus.
func TestVXPEndpointDropIn(t *testing.T) {
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import zeep").Run(); err != nil {
		t.Fatalf("python3-zeep is not installed for %s (%v)", py, err)
	}
	n := startNodeWith(t, "sqlite", func(c *service.Config) { vxpEndpointOn(c); c.PublicURL = "" })
	ctx := context.Background()
	n.system(t, sdkSys, "Hệ thống QLVB dùng SDK")
	rcpt := n.system(t, sdkRESTSys, "Hệ thống QLVB REST")
	soapRcpt := n.system(t, sdkSOAPSys, "Hệ thống QLVB SOAP")
	n.grant(t, "exchange", sdkSys, sdkRESTSys, "edoc")
	n.grant(t, "exchange", sdkSys, sdkSOAPSys, "edoc")
	cl := sdkClient(n, sdkSys, n.clients[sdkSys].SecretKey)

	pkt := vxpsim.SamplePacket(sdkSys, []string{sdkRESTSys, sdkSOAPSys}, "Công văn qua SDK", []byte("pdf"))
	docID, err := cl.SendEdoc(ctx, vxp.SendRequest{From: sdkSys, To: []string{sdkRESTSys, sdkSOAPSys}, Body: bytes.NewReader(pkt)})
	if err != nil || docID == "" {
		t.Fatalf("sendEdoc = %q, %v", docID, err)
	}
	doc, err := edxml.Parse(bytes.NewReader(pkt), nil)
	if err != nil {
		t.Fatal(err)
	}
	statusOf := func(organ string, code edxml.StatusCode, desc string) []byte {
		st, err := edxml.StatusFor(doc, code, edxml.Organization{OrganId: organ, OrganName: organ}, time.Now(), desc)
		if err != nil {
			t.Fatal(err)
		}
		var sb bytes.Buffer
		if err := edxml.Build(&sb, st); err != nil {
			t.Fatal(err)
		}
		return sb.Bytes()
	}
	// The REST recipient receives the very bytes and reports "arrived".
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
	if _, err := rcpt.SendStatus(ctx, docID, statusOf(sdkRESTSys, edxml.StatusArrived, "Đã đến")); err != nil {
		t.Fatal(err)
	}
	// The SOAP recipient lists it, fetches the very bytes and answers with
	// updateStatus "accepted".
	creds := map[string][2]string{"R": {soapRcpt.AccessKey, soapRcpt.SecretKey}}
	res := runEdocPeer(t, []string{py, interopScript(t, "zeep_edoc.py")}, n.url+"/soap/edoc?wsdl", creds, []peerCall{
		{ID: "inbox", As: "R", Version: "1.1", Op: "getReceivedEdocList", Until: docID},
		{ID: "get", As: "R", Version: "1.1", Op: "getEdoc", Args: map[string]any{"docId": docID}},
		{ID: "status", As: "R", Version: "1.1", Op: "updateStatus",
			Args: map[string]any{"docId": docID, "edxml": b64(statusOf(sdkSOAPSys, edxml.StatusAccepted, "Đã vào sổ"))}},
	})
	if b, _ := ok(t, res, "get")["edxml"].(string); b != base64.StdEncoding.EncodeToString(pkt) {
		t.Fatalf("the SOAP recipient got other bytes: %v", res["get"].OK)
	}
	ok(t, res, "status")

	// Both statuses come back to the SDK sender, each naming the document.
	var list []vxp.Edoc
	eventually(t, "both statuses are listed for the SDK sender", func() (bool, error) {
		list, err = cl.GetReceivedEdocList(ctx, vxp.MessageStatus)
		return err == nil && len(list) == 2, err
	})
	want := map[string]string{sdkRESTSys: string(edxml.StatusArrived), sdkSOAPSys: string(edxml.StatusAccepted)}
	for _, e := range list {
		code, known := want[string(e.From)]
		if e.MessageType != vxp.MessageStatus || !known {
			t.Fatalf("status entry %+v", e)
		}
		delete(want, string(e.From))
		rc, err := cl.GetEdoc(ctx, string(e.DocID))
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
		if mh.StatusCode != code || mh.From == nil || mh.From.OrganId != string(e.From) || len(mh.ResponseFor) != 1 ||
			mh.ResponseFor[0].DocumentId != doc.Envelope.Header.MessageHeader.DocumentId {
			t.Fatalf("status packet of %s says %+v\n%s", e.From, mh, raw)
		}
		if err := cl.UpdateStatus(ctx, string(e.DocID), vxp.TransportDone); err != nil {
			t.Fatal(err)
		}
	}
	if list, err := cl.GetReceivedEdocList(ctx, vxp.MessageStatus); err != nil || len(list) != 0 {
		t.Fatalf("an acknowledged status is still listed: %+v %v", list, err)
	}
	sent, err := cl.GetSentEdocList(ctx, vxp.MessageEdoc)
	if err != nil || len(sent) != 2 {
		t.Fatalf("getSentEdocList = %+v, %v", sent, err)
	}
	if ag, err := cl.GetAgencies(ctx); err != nil || len(ag) < 3 {
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
