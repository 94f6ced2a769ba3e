package test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	_ "github.com/tuyenquang/lgsp/adapters/qlvb"
	"github.com/tuyenquang/lgsp/adapters/vxp"
	"github.com/tuyenquang/lgsp/bus/edxml"
	"github.com/tuyenquang/lgsp/bus/schedule"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/bus/transform"
	vxpsim "github.com/tuyenquang/lgsp/test/sim/vxp"
	"github.com/tuyenquang/lgsp/test/testenv"
)

// TestSoapVxpEndToEnd (issue #5): a legacy QLVB system S (python3-zeep,
// SOAP 1.1/1.2, UsernameToken digest) sends ONE edXML document addressed
// to a REST destination R inside the province and to Văn phòng Chính phủ
// on the national axis; LGSP routes it (data type edxml) to R and to the
// VXP gateway system G. R takes delivery over REST and answers 03; the
// VXP poller pushes the packet to the axis simulator when its schedule
// fires; the remote agency's status packet (05) comes back on the axis,
// is pulled by the poller and recorded on the original exchange for G.
// S then sees both recipients' statuses through getSentEdocList.
func TestSoapVxpEndToEnd(t *testing.T) {
	py := testenv.RequireZeep(t)
	const every = "*/1 * * * * *" // the poller fires at each whole second
	sched, err := schedule.Parse(every)
	if err != nil {
		t.Fatal(err)
	}
	sim := vxpsim.New(map[string]string{gwOrgan: vxpSecret, vpcpOrgan: "vpcp-secret"})
	srv := sim.Start()
	t.Cleanup(srv.Close)
	t.Setenv("LGSP_VXP_SECRET", vxpSecret)
	var section yaml.Node
	if err := section.Encode(map[string]any{
		"url": srv.URL, "system_id": gwOrgan, "gateway_system": gwSystem, "organ_name": "UBND tỉnh Tuyên Quang",
		"schedule": every, "organs": map[string][]string{qlvbRecipient: {qlvbRecipient}}, // R is inside the province
		"retry": map[string]any{"initial": "10ms", "max_interval": "50ms", "max_attempts": 2},
	}); err != nil {
		t.Fatal(err)
	}
	dir := routesWith(t, map[string]string{"edxml.yaml": qlvbRoute})
	n := startNodeWith(t, "sqlite", func(c *service.Config) {
		c.RoutesDir, c.PublicURL = dir, ""
		c.Gateways = map[string]yaml.Node{"vxp": section}
	})
	s := n.system(t, qlvbSender, "Sở Nội vụ — QLVB (SOAP)")
	r := n.system(t, qlvbRecipient, "Sở Tư pháp — REST")
	n.system(t, gwSystem, "Trục liên thông văn bản quốc gia (VXP)")
	n.grant(t, "exchange", qlvbSender, qlvbRecipient, "edxml")
	n.grant(t, "exchange", qlvbSender, gwSystem, "edxml")
	creds := map[string][2]string{"S": {s.AccessKey, s.SecretKey}}
	wsdl := n.url + "/soap/edoc?wsdl"
	ctx := context.Background()

	// One packet, To: R (an LGSP system code) and VPCP (an organ on the axis).
	js := `{"from": {"organ_id": "` + qlvbSender + `", "organ_name": "Sở Nội vụ"},
	  "to": [{"organ_id": "` + qlvbRecipient + `", "organ_name": "Sở Tư pháp"}, {"organ_id": "` + vpcpOrgan + `", "organ_name": "Văn phòng Chính phủ"}],
	  "code": {"number": "34", "notation": "SNV-VP"},
	  "promulgation": {"place": "Tuyên Quang", "date": "2026-11-27"},
	  "type": {"code": "1", "name": "Công văn"},
	  "signer": {"position": "Giám đốc", "full_name": "Trần Văn B"},
	  "files": [{"name": "cv.pdf", "media_type": "application/pdf", "content_base64": "JVBERi0xLjcKJcOkw7w="}]}`
	const title = "V/v liên thông văn bản tới Sở Tư pháp và Văn phòng Chính phủ"
	pp, err := transform.PacketFromJSON(func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(js)), nil },
		transform.Meta{Source: qlvbSender, Title: title, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	var db bytes.Buffer
	if err := edxml.Build(&db, pp); err != nil {
		t.Fatal(err)
	}
	doc := db.Bytes()
	parsed, err := edxml.Parse(bytes.NewReader(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	statusOf := func(code edxml.StatusCode, by edxml.Organization, desc string) []byte {
		t.Helper()
		st, err := edxml.StatusFor(parsed, code, by, time.Now(), desc)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := edxml.Build(&b, st); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}

	// S sends over SOAP. The packet's To/OrganId of VPCP is no LGSP system,
	// so the recipients are given with "to": R and the gateway system G.
	before := time.Now()
	res := runEdocPeer(t, []string{py, interopScript(t, "zeep_edoc.py")}, wsdl, creds, []peerCall{{ID: "send", As: "S", Version: "1.1", Op: "sendEdoc",
		Args: map[string]any{"edxml": b64(doc), "to": []string{qlvbRecipient, gwSystem}}}})
	sent := ok(t, res, "send")
	id, _ := sent["docId"].(string)
	if to := toSlice(sent["to"]); id == "" || sent["status"] != "accepted" || len(to) != 2 || to[0] != qlvbRecipient || to[1] != gwSystem {
		t.Fatalf("sendEdoc: %v", sent)
	}

	// R takes delivery over REST: inbox, ready, download — the bytes S sent.
	eventually(t, "the document in R's inbox", func() (bool, error) {
		for _, it := range inboxOf(t, r) {
			if it.ExchangeID == id {
				return it.Source == qlvbSender && it.DataType == "edxml" && it.MediaType == "application/xml", nil
			}
		}
		return false, nil
	})
	if _, err := r.Ready(ctx, id); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := r.Download(ctx, id, 0, &got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), doc) {
		t.Fatalf("R downloaded %d bytes, not the %d S sent over SOAP", got.Len(), len(doc))
	}
	rep, err := r.SendStatus(ctx, id, statusOf(edxml.StatusAccepted, edxml.Organization{OrganId: qlvbRecipient, OrganName: "Sở Tư pháp"}, "Đã vào sổ văn bản đến"))
	if err != nil || rep.Code != "03" {
		t.Fatalf("SendStatus: %+v, %v", rep, err)
	}
	if _, err := r.Confirm(ctx, id, "received", "đã nhận"); err != nil {
		t.Fatal(err)
	}

	// The poller pushes the packet to the axis when the schedule fires.
	var pushed vxpsim.Doc
	eventually(t, "the packet pushed to VXP", func() (bool, error) {
		docs := sim.Docs(func(d *vxpsim.Doc) bool { return d.From == gwOrgan && d.MessageType == "edoc" })
		if len(docs) == 1 {
			pushed = docs[0]
		}
		return len(docs) == 1, nil
	})
	if !bytes.Equal(pushed.Body, doc) || len(pushed.To) != 1 || pushed.To[0] != vpcpOrgan {
		t.Fatalf("pushed to %v: %d bytes (byte-equal: %v), want the %d bytes S sent, to %s only", pushed.To, len(pushed.Body), bytes.Equal(pushed.Body, doc), len(doc), vpcpOrgan)
	}
	var sendCalls []time.Time
	for _, c := range sim.Calls() {
		if c.Op == "sendEdoc" && c.Headers["messagetype"] == vxp.MessageEdoc {
			sendCalls = append(sendCalls, c.At)
		}
	}
	if fire := sched.Next(before); len(sendCalls) != 1 || sendCalls[0].Before(fire) {
		t.Fatalf("sendEdoc calls at %v; want one, not before the first firing after the SOAP send (%v)", sendCalls, fire)
	}

	// The remote agency answers on the axis; the poller pulls the status.
	remote := statusOf(edxml.StatusProcessing, edxml.Organization{OrganId: vpcpOrgan, OrganName: "Văn phòng Chính phủ"}, "Văn phòng Chính phủ đang xử lý văn bản")
	statusDoc := sim.Put(vpcpOrgan, []string{gwOrgan}, "status", remote)
	eventually(t, "the remote status pulled and acknowledged", func() (bool, error) {
		return sim.Transport(statusDoc, gwOrgan) == vxp.TransportDone, nil
	})
	// The poller records the acknowledgement after the axis took it.
	var row store.GatewayDoc
	eventually(t, "the status packet's gateway row acknowledged", func() (bool, error) {
		var err error
		row, err = n.svc.Store().GetGatewayDoc(ctx, vxp.GatewayName, store.GatewayIn, statusDoc)
		return err == nil && row.Status == vxp.InAcked, err
	})
	if row.ExchangeID != id {
		t.Fatalf("gateway row of the status packet = %+v; want it on %s", row, id)
	}
	events, err := n.svc.Store().Events(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var gwStatus int
	for _, e := range events {
		if e.Kind == "status" && e.Recipient == gwSystem {
			gwStatus++
			if e.Actor != gwSystem || !strings.Contains(e.Detail, `"code":"05"`) || !strings.Contains(e.Detail, vpcpOrgan) {
				t.Errorf("status event for G: %+v", e)
			}
		}
	}
	if gwStatus != 1 {
		t.Fatalf("%d status events for %s on %s, want 1: %+v", gwStatus, gwSystem, id, events)
	}

	// S sees both recipients' statuses over SOAP.
	res = runEdocPeer(t, []string{py, interopScript(t, "zeep_edoc.py")}, wsdl, creds, []peerCall{
		{ID: "one", As: "S", Version: "1.2", Op: "getSentEdocList", Args: map[string]any{"docId": id}},
		{ID: "all", As: "S", Version: "1.1", Op: "getSentEdocList"},
	})
	for _, call := range []string{"one", "all"} {
		var seen bool
		for _, e := range list(ok(t, res, call)["edoc"]) {
			if e["docId"] != id {
				continue
			}
			seen = true
			if e["status"] != "completed" || e["dataType"] != "edxml" {
				t.Errorf("%s: %v", call, e)
			}
			byCode := map[string]map[string]any{}
			for _, rc := range list(e["recipient"]) {
				code, _ := rc["code"].(string)
				byCode[code] = rc
			}
			rr, gr := byCode[qlvbRecipient], byCode[gwSystem]
			if len(byCode) != 2 || rr == nil || gr == nil {
				t.Fatalf("%s: recipients %v, want %s and %s", call, e["recipient"], qlvbRecipient, gwSystem)
			}
			if rr["status"] != "confirmed" || rr["outcome"] != "đã nhận" || rr["statusCode"] != "03" || rr["statusDesc"] != "Đã vào sổ văn bản đến" || rr["statusTime"] == nil {
				t.Errorf("%s: R = %v", call, rr)
			}
			if outcome, _ := gr["outcome"].(string); gr["status"] != "confirmed" || !strings.HasPrefix(outcome, "VXP DocId "+pushed.ID) ||
				gr["statusCode"] != "05" || gr["statusDesc"] != "Văn phòng Chính phủ đang xử lý văn bản" || gr["statusTime"] == nil {
				t.Errorf("%s: G = %v", call, gr)
			}
		}
		if !seen {
			t.Errorf("%s: %s not listed: %v", call, id, res[call].OK)
		}
	}
}
