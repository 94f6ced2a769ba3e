package test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tuyenquang/lgsp/adapters/rest"
	"github.com/tuyenquang/lgsp/adapters/vxp"
	"github.com/tuyenquang/lgsp/bus/delivery"
	"github.com/tuyenquang/lgsp/bus/edxml"
	"github.com/tuyenquang/lgsp/bus/exchange"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
	vxpsim "github.com/tuyenquang/lgsp/test/sim/vxp"
)

// The province on the axis, the national office, and the LGSP systems.
const (
	gwOrgan   = "000.00.00.H60" // the province's systemid on VXP
	vpcpOrgan = "000.00.00.G22" // Văn phòng Chính phủ
	gwSystem  = "000.00.99.H60" // the LGSP system that stands for VXP
	rcptSys   = "000.00.01.H60" // a QLVB system inside the province
	senderSys = "000.00.02.H60" // another one, which sends out
	vxpSecret = "province-secret-on-the-axis"
)

// vxpGateway returns a simulator and a mutate function that turns the
// adapter on for it.
func vxpGateway(t *testing.T, schedule string) (*vxpsim.Server, func(*service.Config)) {
	t.Helper()
	sim := vxpsim.New(map[string]string{gwOrgan: vxpSecret, vpcpOrgan: "vpcp-secret"})
	srv := sim.Start()
	t.Cleanup(srv.Close)
	t.Setenv("LGSP_VXP_SECRET", vxpSecret)
	section := map[string]any{
		"url": srv.URL, "system_id": gwOrgan, "gateway_system": gwSystem, "organ_name": "UBND tỉnh Tuyên Quang",
		"schedule": schedule, "organs": map[string][]string{rcptSys: {rcptSys}},
		"retry": map[string]any{"initial": "10ms", "max_interval": "50ms", "max_attempts": 2},
	}
	var node yaml.Node
	if err := node.Encode(section); err != nil {
		t.Fatal(err)
	}
	return sim, func(c *service.Config) { c.Gateways = map[string]yaml.Node{"vxp": node} }
}

func statusPacketsTo(sim *vxpsim.Server, to string) []edxml.MessageHeader {
	var out []edxml.MessageHeader
	for _, d := range sim.Docs(func(d *vxpsim.Doc) bool { return d.MessageType == "status" && len(d.To) == 1 && d.To[0] == to }) {
		p, err := edxml.Parse(bytes.NewReader(d.Body), nil)
		if err == nil {
			out = append(out, p.Envelope.Header.MessageHeader)
		}
	}
	return out
}

func inboxOf(t *testing.T, c *rest.Client) []exchange.InboxView {
	t.Helper()
	items, err := c.Inbox(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// TestVXPGatewayE2E: a packet placed on the axis is pulled by the cron
// job into the recipient's inbox as application/xml edXML, status 01 goes
// back, the packet is acknowledged; an exchange sent to the gateway system
// is pushed to the axis with sendEdoc.
func TestVXPGatewayE2E(t *testing.T) {
	sim, mutate := vxpGateway(t, "@every 1s")
	n := startNodeWith(t, "sqlite", mutate)
	ctx := context.Background()
	n.system(t, gwSystem, "Trục liên thông văn bản quốc gia (VXP)")
	rcpt := n.system(t, rcptSys, "QLVB Văn phòng UBND tỉnh")
	sender := n.system(t, senderSys, "QLVB Sở Nội vụ")
	n.grant(t, "exchange", gwSystem, rcptSys, "edoc")
	n.grant(t, "exchange", senderSys, gwSystem, "edoc")

	// Inbound.
	pkt := vxpsim.SamplePacket(vpcpOrgan, []string{rcptSys}, "Công văn về liên thông văn bản", bytes.Repeat([]byte("%PDF-1.7 "), 50_000))
	docID := sim.Put(vpcpOrgan, []string{gwOrgan}, "edoc", pkt)
	var item exchange.InboxView
	eventually(t, "the pulled packet is in the recipient's inbox", func() (bool, error) {
		items := inboxOf(t, rcpt)
		if len(items) == 1 {
			item = items[0]
		}
		return len(items) == 1, nil
	})
	if item.MediaType != "application/xml" || item.Source != gwSystem || item.Title != "Công văn về liên thông văn bản" {
		t.Fatalf("inbox item = %+v", item)
	}
	if _, err := rcpt.Ready(ctx, item.ExchangeID); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := rcpt.Download(ctx, item.ExchangeID, 0, &got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), pkt) {
		t.Fatalf("downloaded %d bytes, want the packet's %d", got.Len(), len(pkt))
	}
	eventually(t, "status 01 reported and the packet acknowledged", func() (bool, error) {
		st := statusPacketsTo(sim, vpcpOrgan)
		return len(st) == 1 && sim.Transport(docID, gwOrgan) == vxp.TransportDone, nil
	})
	st := statusPacketsTo(sim, vpcpOrgan)[0]
	if st.StatusCode != string(edxml.StatusArrived) || st.From.OrganId != gwOrgan || len(st.ResponseFor) != 1 || st.ResponseFor[0].OrganId != vpcpOrgan {
		t.Fatalf("status packet = %+v", st)
	}
	// The poller writes gateway_acked after the axis took the acknowledgement.
	kinds := map[string]bool{}
	eventually(t, "the acknowledgement in the ledger", func() (bool, error) {
		events, err := n.svc.Store().Events(ctx, item.ExchangeID)
		for _, e := range events {
			kinds[e.Kind] = true
		}
		return kinds["gateway_acked"], err
	})
	for _, k := range []string{"gateway_received", "gateway_reported", "gateway_acked"} {
		if !kinds[k] {
			t.Errorf("ledger of %s has no %s event (%v)", item.ExchangeID, k, kinds)
		}
	}

	// Outbound.
	out := vxpsim.SamplePacket(senderSys, []string{vpcpOrgan}, "Báo cáo gửi Văn phòng Chính phủ", []byte("bao cao"))
	sum := sha256.Sum256(out)
	space, err := sender.Request(ctx, exchange.Request{Recipients: []string{gwSystem}, Title: "Báo cáo gửi VPCP", DataType: "edoc", MediaType: "application/xml", SHA256: hex.EncodeToString(sum[:])})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sender.UploadBytes(ctx, space.ExchangeID, out); err != nil {
		t.Fatal(err)
	}
	if _, err := sender.Complete(ctx, space.ExchangeID, exchange.CompleteRequest{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the exchange is pushed to the axis and confirmed", func() (bool, error) {
		docs := sim.Docs(func(d *vxpsim.Doc) bool { return d.From == gwOrgan && d.MessageType == "edoc" })
		v, err := sender.Status(ctx, space.ExchangeID)
		if err != nil {
			return false, err
		}
		return len(docs) == 1 && bytes.Equal(docs[0].Body, out) && docs[0].To[0] == vpcpOrgan && v.Status == store.ExchangeCompleted, nil
	})
	row, err := n.svc.Store().GetGatewayDoc(ctx, vxp.GatewayName, store.GatewayOut, space.ExchangeID)
	if err != nil || row.Status != vxp.OutSent || !strings.Contains(row.Detail, "vxp_doc_id") {
		t.Fatalf("gateway row = %+v, %v", row, err)
	}
	// Nothing was pulled twice.
	if items := inboxOf(t, rcpt); len(items) != 1 {
		t.Fatalf("recipient inbox has %d items, want 1", len(items))
	}
}

// adminJSON calls the admin API with a JSON body (nil: none) and decodes
// the answer into out (nil: dropped); it returns the HTTP status.
func adminJSON(t *testing.T, n *node, method, path string, body, out any) int {
	t.Helper()
	var rd io.Reader = http.NoBody
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, n.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+n.svc.AdminToken())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// deadVXP lists the dead letters of a VXP delivery kind through the admin API.
func deadVXP(t *testing.T, n *node, kind string) []delivery.View {
	t.Helper()
	var list struct{ Items []delivery.View }
	if code := adminJSON(t, n, "GET", "/admin/v1/deliveries?status=dead&kind="+kind, nil, &list); code != http.StatusOK {
		t.Fatalf("listing dead %s deliveries: HTTP %d", kind, code)
	}
	return list.Items
}

// TestVXPPullTwiceDeliversOnce: the acknowledgement fails after the
// packet became an exchange (as a crash between pull and ack would leave
// it): the vxp_status delivery exhausts its retries and is a dead letter
// in /admin/v1/deliveries with the VXP document id as its key; requeued
// there, it acknowledges without a second delivery or a second status 01.
func TestVXPPullTwiceDeliversOnce(t *testing.T) {
	sim, mutate := vxpGateway(t, "@every 1s")
	n := startNodeWith(t, "sqlite", mutate)
	ctx := context.Background()
	n.system(t, gwSystem, "VXP")
	rcpt := n.system(t, rcptSys, "QLVB")
	n.grant(t, "exchange", gwSystem, rcptSys, "edoc")
	sim.FailOp("updateStatus", 1000) // more than the retry policy's attempts
	docID := sim.Put(vpcpOrgan, []string{gwOrgan}, "edoc", vxpsim.SamplePacket(vpcpOrgan, []string{rcptSys}, "Một lần thôi", []byte("x")))
	var dead []delivery.View
	eventually(t, "the acknowledgement is a dead letter", func() (bool, error) {
		dead = deadVXP(t, n, vxp.KindStatus)
		return len(dead) == 1, nil
	})
	if d := dead[0]; d.Key != docID || d.Attempts != 2 || !strings.Contains(d.LastError, "acknowledging") || d.Target != gwSystem {
		t.Fatalf("dead vxp_status = %+v; want key %s, 2 attempts, the acknowledgement's error", d, docID)
	}
	if sim.Transport(docID, gwOrgan) != "" {
		t.Fatal("the packet was acknowledged although updateStatus failed")
	}
	// The pull itself is done: one exchange, due to the recipient.
	eventually(t, "the exchange is due", func() (bool, error) { return len(inboxOf(t, rcpt)) == 1, nil })
	sim.FailOp("updateStatus", 0)
	var res struct{ Count int }
	if code := adminJSON(t, n, "POST", "/admin/v1/deliveries/retry", map[string]any{"kind": vxp.KindStatus}, &res); code != http.StatusOK || res.Count != 1 {
		t.Fatalf("retry: HTTP %d, count %d", code, res.Count)
	}
	eventually(t, "the requeued acknowledgement reaches the axis", func() (bool, error) {
		return sim.Transport(docID, gwOrgan) == vxp.TransportDone, nil
	})
	// More polls list nothing new.
	lists := func() int {
		k := 0
		for _, c := range sim.Calls() {
			if c.Op == "getReceivedEdocList" {
				k++
			}
		}
		return k
	}
	more := lists() + 4
	eventually(t, "two more polls", func() (bool, error) { return lists() >= more, nil })
	if sent, err := n.svc.Exchange().Sent(ctx, gwSystem, 10); err != nil || len(sent) != 1 {
		t.Fatalf("the gateway system sent %d exchanges (%v), want 1", len(sent), err)
	}
	if st := statusPacketsTo(sim, vpcpOrgan); len(st) != 1 {
		t.Fatalf("%d status packets sent back, want 1", len(st))
	}
	row, err := n.svc.Store().GetGatewayDoc(ctx, vxp.GatewayName, store.GatewayIn, docID)
	if err != nil || row.Status != vxp.InAcked {
		t.Fatalf("gateway row = %+v, %v", row, err)
	}
	if left := deadVXP(t, n, vxp.KindStatus); len(left) != 0 {
		t.Fatalf("dead letters left: %+v", left)
	}
	// The pull is in the activity log (M5), with the failed acknowledgement.
	eventually(t, "the pull in the activity log", func() (bool, error) {
		got, err := n.svc.Store().ListActivity(ctx, store.ActivityFilter{SystemCode: gwSystem})
		for _, e := range got {
			if e.Kind == "gateway.pull.packet" && e.Subject == docID && e.Outcome != "ok" {
				return true, nil
			}
		}
		return false, err
	})
}

// TestVXPTwoNodesMissedRun: two nodes on one MariaDB database poll the
// same axis every second: no poll runs on both at once and every packet
// is delivered once; a node started after a downtime runs the missed
// (daily) poll once at start.
func TestVXPTwoNodesMissedRun(t *testing.T) {
	sim, mutate := vxpGateway(t, "@every 1s")
	a := startNodeWith(t, "mysql", func(c *service.Config) { mutate(c); c.Node = "node-a" })
	b := startNodeWith(t, "sqlite", func(c *service.Config) {
		mutate(c)
		c.Node = "node-b"
		c.Store = a.dsn
		c.MasterKeyFile = filepath.Join(a.dataDir, "master.key")
	})
	ctx := context.Background()
	a.system(t, gwSystem, "VXP")
	rcpt := a.system(t, rcptSys, "QLVB")
	rcpt.BaseURL = b.url // read through the other node
	a.grant(t, "exchange", gwSystem, rcptSys, "edoc")
	for i := range 5 {
		sim.Put(vpcpOrgan, []string{gwOrgan}, "edoc", vxpsim.SamplePacket(vpcpOrgan, []string{rcptSys}, "Văn bản "+string(rune('A'+i)), []byte{byte(i)}))
	}
	eventually(t, "five packets delivered", func() (bool, error) { return len(inboxOf(t, rcpt)) == 5, nil })
	polls := func() []time.Time {
		var at []time.Time
		for _, c := range sim.Calls() {
			if c.Op == "getReceivedEdocList" && c.Headers["messagetype"] == vxp.MessageEdoc {
				at = append(at, c.At)
			}
		}
		return at
	}
	// Let both nodes poll a few more times over the packets already taken.
	more := len(polls()) + 3
	eventually(t, "three more polls", func() (bool, error) { return len(polls()) >= more, nil })
	if sent, err := a.svc.Exchange().Sent(ctx, gwSystem, 20); err != nil || len(sent) != 5 {
		t.Fatalf("the gateway system sent %d exchanges (%v), want 5", len(sent), err)
	}
	lists := polls()
	for i := 1; i < len(lists); i++ {
		if d := lists[i].Sub(lists[i-1]); d < 400*time.Millisecond {
			t.Fatalf("two polls %v apart: one firing ran on both nodes", d)
		}
	}
	if err := a.shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := b.shutdown(); err != nil {
		t.Fatal(err)
	}

	// Downtime: the daily 02:00 poll last ran three days ago.
	st, err := store.Open(ctx, a.dsn)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetLastRun(ctx, vxp.JobName, time.Now().Add(-72*time.Hour)); err != nil {
		t.Fatal(err)
	}
	st.Close()
	sim.Put(vpcpOrgan, []string{gwOrgan}, "edoc", vxpsim.SamplePacket(vpcpOrgan, []string{rcptSys}, "Sau thời gian dừng", []byte("late")))
	_, daily := vxpGateway2(t, sim)
	startC := time.Now()
	c := startNodeWith(t, "sqlite", func(cfg *service.Config) {
		daily(cfg)
		cfg.Node = "node-c"
		cfg.Store = a.dsn
		cfg.MasterKeyFile = filepath.Join(a.dataDir, "master.key")
	})
	rcpt.BaseURL = c.url
	eventually(t, "the missed daily poll ran at start", func() (bool, error) { return len(inboxOf(t, rcpt)) == 6, nil })
	count := func() int {
		k := 0
		for _, call := range sim.Calls() {
			if call.Op == "getReceivedEdocList" && call.Headers["messagetype"] == vxp.MessageEdoc && call.At.After(startC) {
				k++
			}
		}
		return k
	}
	if k := count(); k != 1 {
		t.Fatalf("node-c polled %d times at start; want one catch-up poll", k)
	}
	// The catch-up is recorded, so the next firing is the next 02:00 and a
	// restart does not catch up again.
	eventually(t, "the catch-up run recorded", func() (bool, error) {
		last, err := c.svc.Store().LastRun(ctx, vxp.JobName)
		return err == nil && !last.Before(startC), err
	})
}

// vxpGateway2 configures a daily poll at 02:00 on an existing simulator.
func vxpGateway2(t *testing.T, sim *vxpsim.Server) (*vxpsim.Server, func(*service.Config)) {
	t.Helper()
	srv := sim.Start()
	t.Cleanup(srv.Close)
	section := map[string]any{
		"url": srv.URL, "system_id": gwOrgan, "gateway_system": gwSystem,
		"schedule": "0 2 * * *", "organs": map[string][]string{rcptSys: {rcptSys}},
	}
	var node yaml.Node
	if err := node.Encode(section); err != nil {
		t.Fatal(err)
	}
	return sim, func(c *service.Config) { c.Gateways = map[string]yaml.Node{"vxp": node} }
}

// TestVXPStatusAnswersPushedExchange: a status packet pulled from the axis
// that answers a pushed document (ResponseFor) is recorded on the exchange
// it was pushed from, as the gateway system's status, and acknowledged
// once; one that answers nothing LGSP pushed is acknowledged as fail, and
// its vxp_pull item is a dead letter with the refusal.
func TestVXPStatusAnswersPushedExchange(t *testing.T) {
	sim, mutate := vxpGateway(t, "@every 1s")
	n := startNodeWith(t, "sqlite", mutate)
	ctx := context.Background()
	n.system(t, gwSystem, "VXP")
	sender := n.system(t, senderSys, "QLVB Sở Nội vụ")
	n.grant(t, "exchange", senderSys, gwSystem, "edoc")
	out := vxpsim.SamplePacket(senderSys, []string{vpcpOrgan}, "Báo cáo", []byte("bao cao"))
	space, err := sender.Request(ctx, exchange.Request{Recipients: []string{gwSystem}, Title: "Báo cáo", DataType: "edoc", MediaType: "application/xml"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sender.UploadBytes(ctx, space.ExchangeID, out); err != nil {
		t.Fatal(err)
	}
	if _, err := sender.Complete(ctx, space.ExchangeID, exchange.CompleteRequest{SHA256: sumHex(out)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "pushed", func() (bool, error) {
		return len(sim.Docs(func(d *vxpsim.Doc) bool { return d.From == gwOrgan && d.MessageType == "edoc" })) == 1, nil
	})

	status := func(doc []byte, code edxml.StatusCode) []byte {
		parsed, err := edxml.Parse(bytes.NewReader(doc), nil)
		if err != nil {
			t.Fatal(err)
		}
		st, err := edxml.StatusFor(parsed, code, edxml.Organization{OrganId: vpcpOrgan, OrganName: "VPCP"}, time.Now(), "Đã tiếp nhận")
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := edxml.Build(&b, st); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	answer := sim.Put(vpcpOrgan, []string{gwOrgan}, "status", status(out, edxml.StatusAccepted))
	stray := sim.Put(vpcpOrgan, []string{gwOrgan}, "status", status(vxpsim.SamplePacket(vpcpOrgan, []string{"000.00.00.G99"}, "Khác", []byte("x")), edxml.StatusAccepted))
	eventually(t, "the answer acknowledged done and the stray one fail", func() (bool, error) {
		return sim.Transport(answer, gwOrgan) == vxp.TransportDone && sim.Transport(stray, gwOrgan) == vxp.TransportFail, nil
	})
	var dead []delivery.View
	eventually(t, "the stray status packet's vxp_pull item dead", func() (bool, error) {
		dead = deadVXP(t, n, vxp.KindPull)
		return len(dead) == 1, nil
	})
	if len(dead) != 1 || dead[0].Key != stray || !strings.Contains(dead[0].LastError, "exchange.not_found") && !strings.Contains(dead[0].LastError, "answers no document") || dead[0].Attempts != 1 {
		t.Fatalf("dead vxp_pull items = %+v; want the stray status packet, refused at once", dead)
	}
	v, err := sender.Status(ctx, space.ExchangeID)
	if err != nil {
		t.Fatal(err)
	}
	var got []exchange.EventView
	for _, e := range v.Ledger {
		if e.Kind == "status" {
			got = append(got, e)
		}
	}
	if len(got) != 1 || got[0].Actor != gwSystem || got[0].Recipient != gwSystem || !strings.Contains(got[0].Detail, `"code":"03"`) {
		t.Fatalf("status events on the pushed exchange: %+v", got)
	}
}
