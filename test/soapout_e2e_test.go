package test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/adapters/rest"
	"github.com/tuyenquang/lgsp/adapters/soapout" // SOAP pushes
	"github.com/tuyenquang/lgsp/bus/exchange"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/test/sim/qlvbviettel"
	"github.com/tuyenquang/lgsp/test/sim/qlvbvnpt"
	vxpsim "github.com/tuyenquang/lgsp/test/sim/vxp"
	"github.com/tuyenquang/lgsp/test/testenv"
	_ "github.com/tuyenquang/lgsp/wsdl/consumed" // registers the consumed operations
)

const (
	pushSender  = "000.00.20.H60" // an ordinary system that sends
	pushVNPT    = "000.00.21.H60" // VNPT-style QLVB, pushed at once
	pushViettel = "000.00.22.H60" // Viettel-style e-Office, pushed on a schedule
	pushDown    = "000.00.23.H60" // always failing: retries run out
	pushRefuses = "000.00.24.H60" // answers with a Client fault of its own
	pushNode    = "000.00.25.H60" // node-soap server built from the same WSDL
)

const vnptMapping = `{MaGoiTin: exchange_id, MaDinhDanhGui: source, MaDinhDanhNhan: recipient, TrichYeu: title,
      SoKyHieu: "edxml:Code/CodeNumber", DoKhan: priority, LoaiDuLieu: data_type, NoiDungEdXML: content}`

func serveSim(t *testing.T, sim http.Handler, err error) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return srv.URL + "/ws"
}

// newVNPT starts a VNPT-style simulator from the consumed WSDL.
func newVNPT(t *testing.T) (*qlvbvnpt.Sim, string) {
	s, err := qlvbvnpt.New("../wsdl/consumed/qlvb-vnpt.wsdl")
	return s, serveSim(t, s, err)
}

// newViettel starts a Viettel-style simulator from the consumed WSDL.
func newViettel(t *testing.T) (*qlvbviettel.Sim, string) {
	s, err := qlvbviettel.New("../wsdl/consumed/qlvb-viettel.wsdl")
	return s, serveSim(t, s, err)
}

// sendPacket runs F1–F4 of an edXML packet from pushSender to one recipient.
func sendPacket(t *testing.T, n *node, to, title, importance string, packet []byte) string {
	t.Helper()
	ctx := context.Background()
	a := n.clients[pushSender]
	sp, err := a.Request(ctx, exchange.Request{Recipients: []string{to}, Title: title, DataType: "edoc", Importance: importance})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.UploadBytes(ctx, sp.ExchangeID, packet); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Complete(ctx, sp.ExchangeID, exchange.CompleteRequest{MediaType: "application/xml", SHA256: sumHex(packet)}); err != nil {
		t.Fatal(err)
	}
	return sp.ExchangeID
}

// ledgerEvents returns the ledger events of id of kind.
func ledgerEvents(t *testing.T, n *node, id, kind string) []store.Event {
	t.Helper()
	st, err := n.svc.Exchange().Status(context.Background(), "", id)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Event
	for _, e := range st.Ledger {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

func recipientStatus(t *testing.T, n *node, id, code string) string {
	t.Helper()
	st, err := n.svc.Exchange().Status(context.Background(), "", id)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range st.Exchange.Recipients {
		if r.Code == code {
			return r.Status
		}
	}
	return ""
}

func TestSoapPush(t *testing.T) {
	vnpt, vnptURL := newVNPT(t)
	viettel, viettelURL := newViettel(t)
	down, downURL := newVNPT(t)
	refuses, refusesURL := newVNPT(t)
	nodeURL := startNodeQLVB(t)
	down.FailNext(1000)
	refuses.Refuse("Client", "QLVB-409: văn bản đã được tiếp nhận trước đó")

	pushes := fmt.Sprintf(`pushes:
  - system: %s
    description: QLVB kiểu VNPT, đẩy ngay
    wsdl: consumed/qlvb-vnpt.wsdl
    operation: NhanVanBan
    endpoint: %s
    version: "1.1"
    timeout: 5s
    mapping: %s
    retry: {initial: 100ms, max_interval: 200ms, max_attempts: 5}
  - system: %s
    description: e-Office kiểu Viettel, đẩy theo lịch
    wsdl: consumed/qlvb-viettel.wsdl
    operation: ReceiveDocument
    endpoint: %s
    version: "1.2"
    schedule: "*/2 * * * * *"
    mapping:
      TransactionId: exchange_id
      FromOrgan: "edxml:From/OrganName"
      Number: "edxml:Code/CodeNumber"
      Notation: "edxml:Code/CodeNotation"
      Subject: title
      Urgent: urgent
      Attachment[].FileName: attachment.name
      Attachment[].ContentType: attachment.content_type
      Attachment[].Data: attachment.content
  - system: %s
    wsdl: consumed/qlvb-vnpt.wsdl
    operation: NhanVanBan
    endpoint: %s
    mapping: %s
    retry: {initial: 100ms, max_interval: 200ms, max_attempts: 3}
  - system: %s
    wsdl: consumed/qlvb-vnpt.wsdl
    operation: NhanVanBan
    endpoint: %s
    mapping: %s
  - system: %s
    wsdl: consumed/qlvb-vnpt.wsdl
    operation: NhanVanBan
    endpoint: %s
    timeout: 10s
    mapping: %s
`, pushVNPT, vnptURL, vnptMapping, pushViettel, viettelURL, pushDown, downURL, vnptMapping, pushRefuses, refusesURL, vnptMapping, pushNode, nodeURL, vnptMapping)
	n := startNodeWith(t, "sqlite", func(c *service.Config) {
		if err := os.WriteFile(filepath.Join(c.RoutesDir, "pushes.yaml"), []byte(pushes), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	if got := len(soapout.Pushes(n.svc.Routes())); got != 5 {
		t.Fatalf("%d pushes loaded, want 5", got)
	}
	n.system(t, pushSender, "Văn phòng UBND tỉnh")
	for _, c := range []string{pushVNPT, pushViettel, pushDown, pushRefuses, pushNode} {
		n.system(t, c, "QLVB "+c)
		n.grant(t, "exchange", pushSender, c, "edoc")
	}
	// The simulator's VXP packet carries its attachment in <Value>; QCVN 102
	// puts it in <ContentTransferEncoded>.
	packet := vxpsim.SamplePacket("000.00.20.H60", []string{pushVNPT}, "Về việc triển khai LGSP", []byte("%PDF-1.7 tệp đính kèm"))
	packet = bytes.Replace(bytes.Replace(packet, []byte("<Value>"), []byte("<ContentTransferEncoded>"), 1), []byte("</Value>"), []byte("</ContentTransferEncoded>"), 1)

	t.Run("VNPT at once", func(t *testing.T) {
		id := sendPacket(t, n, pushVNPT, "Về việc triển khai LGSP", "urgent", packet)
		eventually(t, "the VNPT simulator receives the packet", func() (bool, error) { return len(vnpt.Received()) == 1, nil })
		got := vnpt.Received()[0]
		r := got.Request
		if r.MaGoiTin != id || r.MaDinhDanhGui != pushSender || r.MaDinhDanhNhan != pushVNPT || r.TrichYeu != "Về việc triển khai LGSP" ||
			r.SoKyHieu != "7816" || r.DoKhan != 1 || r.LoaiDuLieu != "edoc" || !bytes.Equal(got.EdXML, packet) {
			t.Fatalf("received %+v (edXML %d bytes, sent %d)", r, len(got.EdXML), len(packet))
		}
		eventually(t, "the delivery is confirmed on the recipient's behalf", func() (bool, error) {
			return recipientStatus(t, n, id, pushVNPT) == store.RecipientConfirmed, nil
		})
		ev := ledgerEvents(t, n, id, "soap_pushed")
		if len(ev) != 1 || !strings.Contains(ev[0].Detail, `"MaTiepNhan":"TN-0001"`) || !strings.Contains(ev[0].Detail, "qlvb-vnpt/NhanVanBan") {
			t.Fatalf("soap_pushed events %+v", ev)
		}
	})

	t.Run("Viettel on a schedule", func(t *testing.T) {
		before := time.Now()
		id := sendPacket(t, n, pushViettel, "Báo cáo tuần", "normal", packet)
		eventually(t, "the push is planned", func() (bool, error) { return len(ledgerEvents(t, n, id, "soap_push_planned")) == 1, nil })
		var planned struct {
			Due      time.Time `json:"due"`
			Schedule string    `json:"schedule"`
		}
		if err := json.Unmarshal([]byte(ledgerEvents(t, n, id, "soap_push_planned")[0].Detail), &planned); err != nil {
			t.Fatal(err)
		}
		if planned.Schedule != "*/2 * * * * *" || planned.Due.Second()%2 != 0 || planned.Due.Nanosecond() != 0 || planned.Due.Before(before) {
			t.Fatalf("planned %+v: want the next even second of the schedule", planned)
		}
		eventually(t, "the Viettel simulator receives the document", func() (bool, error) { return len(viettel.Received()) == 1, nil })
		got := viettel.Received()[0]
		r := got.Request
		if r.TransactionId != id || r.Number != "7816" || r.Notation != "VPCP-TTĐT" || r.FromOrgan != "Văn phòng Chính phủ" || r.Subject != "Báo cáo tuần" || r.Urgent {
			t.Fatalf("received %+v", r)
		}
		if len(got.Files) != 1 || string(got.Files[0].Data) != "%PDF-1.7 tệp đính kèm" || got.Files[0].Name == "" {
			t.Fatalf("attachments %+v", got.Files)
		}
		// The ledger records the push once the simulator has answered.
		var pushed []store.Event
		eventually(t, "the push is recorded", func() (bool, error) {
			pushed = ledgerEvents(t, n, id, "soap_pushed")
			return len(pushed) == 1, nil
		})
		if pushed[0].At.Before(planned.Due) {
			t.Fatalf("pushed %+v before its planned time %s", pushed, planned.Due)
		}
		eventually(t, "confirmed", func() (bool, error) { return recipientStatus(t, n, id, pushViettel) == store.RecipientConfirmed, nil })
	})

	t.Run("retries after two failures", func(t *testing.T) {
		vnpt.FailNext(2)
		calls := vnpt.Calls()
		id := sendPacket(t, n, pushVNPT, "Giấy mời họp", "normal", packet)
		eventually(t, "received after retries", func() (bool, error) { return len(vnpt.Received()) == 2, nil })
		if got := vnpt.Calls() - calls; got != 3 {
			t.Fatalf("%d calls, want 3 (two failures, one success)", got)
		}
		retries := ledgerEvents(t, n, id, "soap_push_retry")
		if len(retries) != 2 || !strings.Contains(retries[0].Detail, `"fault_code":"Server"`) || !strings.Contains(retries[0].Detail, "QLVB-503") {
			t.Fatalf("retry events %+v", retries)
		}
		eventually(t, "confirmed", func() (bool, error) { return recipientStatus(t, n, id, pushVNPT) == store.RecipientConfirmed, nil })
	})

	t.Run("exhausted is dead", func(t *testing.T) {
		id := sendPacket(t, n, pushDown, "Công văn", "normal", packet)
		eventually(t, "the push is given up", func() (bool, error) { return len(ledgerEvents(t, n, id, "soap_push_failed")) == 1, nil })
		if down.Calls() != 3 {
			t.Fatalf("%d calls, want max_attempts 3", down.Calls())
		}
		item := deadPush(t, n, id)
		if item["attempts"].(float64) != 3 || !strings.Contains(item["last_error"].(string), "fault Server: QLVB-503") {
			t.Fatalf("dead item %v", item)
		}
		if s := recipientStatus(t, n, id, pushDown); s == store.RecipientConfirmed {
			t.Fatalf("a failed push must not confirm: %s", s)
		}
	})

	t.Run("fault recorded with its code", func(t *testing.T) {
		id := sendPacket(t, n, pushRefuses, "Công văn trùng", "normal", packet)
		eventually(t, "the refusal is recorded", func() (bool, error) { return len(ledgerEvents(t, n, id, "soap_push_failed")) == 1, nil })
		var d map[string]any
		_ = json.Unmarshal([]byte(ledgerEvents(t, n, id, "soap_push_failed")[0].Detail), &d)
		if d["code"] != "service.fault" || d["fault_code"] != "Client" || !strings.Contains(fmt.Sprint(d["fault_string"]), "QLVB-409") || d["attempt"].(float64) != 1 {
			t.Fatalf("failure detail %v: a Client fault is final at the first attempt", d)
		}
		if item := deadPush(t, n, id); !strings.Contains(item["last_error"].(string), "fault Client: QLVB-409") {
			t.Fatalf("dead item %v", item)
		}
	})

	t.Run("node-soap server from the consumed WSDL", func(t *testing.T) {
		id := sendPacket(t, n, pushNode, "Thông báo kết luận", "flash", packet)
		eventually(t, "node-soap accepts the packet", func() (bool, error) { return len(ledgerEvents(t, n, id, "soap_pushed")) == 1, nil })
		d := ledgerEvents(t, n, id, "soap_pushed")[0].Detail
		want := fmt.Sprintf(`"MaTiepNhan":"NODE-%s-%d"`, id, len(packet))
		if !strings.Contains(d, want) || !strings.Contains(d, "Thông báo kết luận|7816|3") {
			t.Fatalf("answer %s, want %s and the fields node-soap read", d, want)
		}
	})
}

// deadPush returns the dead soap_push item of exchange id, as operators see
// it in GET /admin/v1/outbox (dead items by default).
func deadPush(t *testing.T, n *node, id string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, n.url+"/admin/v1/outbox?status=dead", nil)
	req.Header.Set("Authorization", "Bearer "+n.svc.AdminToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Items []map[string]any }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	for _, it := range out.Items {
		if it["exchange_id"] == id && it["kind"] == "soap_push" && it["status"] == store.OutboxDead {
			return it
		}
	}
	t.Fatalf("no dead soap_push item for %s in /admin/v1/outbox: %v", id, out.Items)
	return nil
}

// startNodeQLVB runs test/interop/node_qlvb_server.js over the consumed
// VNPT-style WSDL and returns its endpoint.
func startNodeQLVB(t *testing.T) string {
	t.Helper()
	testenv.RequireNodeModules(t, "interop")
	wsdl, _ := filepath.Abs("../wsdl/consumed/qlvb-vnpt.wsdl")
	cmd := exec.Command("node", "interop/node_qlvb_server.js", wsdl)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close() // the server exits when stdin closes
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			if p, ok := strings.CutPrefix(s.Text(), "listening "); ok {
				line <- p
			}
		}
		close(line)
	}()
	select {
	case port, ok := <-line:
		if !ok {
			t.Fatalf("node_qlvb_server.js exited: %s", stderr.String())
		}
		return "http://127.0.0.1:" + port + "/qlvb"
	case <-time.After(30 * time.Second):
		t.Fatalf("node_qlvb_server.js did not start within 30 s: %s", stderr.String())
	}
	return ""
}

// TestSoapBridge: a REST caller calls a service whose destination is a SOAP
// operation of a legacy system; JSON in, JSON out, faults as problem+json.
func TestSoapBridge(t *testing.T) {
	vnpt, vnptURL := newVNPT(t)
	viettel, viettelURL := newViettel(t)
	services := fmt.Sprintf(`services:
  - name: qlvb-nhan
    owner: %q
    endpoint: %q
    scopes: [write]
    timeout: 5s
    soap:
      wsdl: consumed/qlvb-vnpt.wsdl
      operation: NhanVanBan
      version: "1.1"
      mapping:
        MaGoiTin: json:ma
        MaDinhDanhGui: json:nguoi_gui.ma_dinh_danh
        MaDinhDanhNhan: const:000.00.21.H60
        TrichYeu: json:trich_yeu
        DoKhan: json:do_khan
        LoaiDuLieu: const:edoc
        NoiDungEdXML: json:noi_dung
  - name: eoffice
    owner: %q
    endpoint: %q
    scopes: [write]
    timeout: 5s
    soap: {wsdl: consumed/qlvb-viettel.wsdl, operation: ReceiveDocument, version: "1.2"}
`, pushVNPT, vnptURL, pushViettel, viettelURL)
	n := startNodeWith(t, "sqlite", func(c *service.Config) {
		if err := os.WriteFile(filepath.Join(c.RoutesDir, "bridge.yaml"), []byte(services), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	ctx := context.Background()
	src := n.system(t, pushSender, "Cổng dịch vụ công")
	n.system(t, pushVNPT, "QLVB VNPT")
	n.system(t, pushViettel, "e-Office Viettel")
	for _, s := range []string{"qlvb-nhan", "eoffice"} {
		adminCall(t, n, http.MethodPost, "/admin/v1/grants", map[string]string{"kind": "service", "source": pushSender, "service": s, "scope": "write"}, http.StatusCreated)
	}
	call := func(t *testing.T, svc string, body string) (*http.Response, []byte, error) {
		t.Helper()
		sess, err := src.OpenSession(ctx, rest.OpenSessionRequest{Service: svc, Scope: "write"})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := src.CallService(ctx, sess, http.MethodPost, "", []byte(body), http.Header{"Content-Type": {"application/json"}})
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b, nil
	}

	t.Run("JSON to SOAP 1.1 and back", func(t *testing.T) {
		resp, body, err := call(t, "qlvb-nhan", `{"ma":"HS-001","nguoi_gui":{"ma_dinh_danh":"000.00.20.H60"},"trich_yeu":"Hồ sơ đất đai","do_khan":2,"noi_dung":"<edXML>hồ sơ</edXML>"}`)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("HTTP %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		var out struct {
			KetQua               int
			MaTiepNhan, ThongBao string
		}
		if err := json.Unmarshal(body, &out); err != nil || out.MaTiepNhan != "TN-0001" || out.ThongBao != "Đã tiếp nhận" {
			t.Fatalf("answer %s (%v)", body, err)
		}
		r := vnpt.Received()[0]
		if r.Request.MaGoiTin != "HS-001" || r.Request.MaDinhDanhGui != "000.00.20.H60" || r.Request.DoKhan != 2 || r.Request.TrichYeu != "Hồ sơ đất đai" || string(r.EdXML) != "<edXML>hồ sơ</edXML>" {
			t.Fatalf("the legacy system received %+v", r)
		}
	})

	t.Run("JSON by the generated names to SOAP 1.2", func(t *testing.T) {
		resp, body, err := call(t, "eoffice", `{"TransactionId":"T-1","FromOrgan":"Sở Nội vụ","Number":"12","Notation":"SNV-VP","Subject":"Tờ trình","Urgent":true}`)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"DocumentId":"VT-1"`) || !strings.Contains(string(body), `"Accepted":true`) {
			t.Fatalf("HTTP %d: %s", resp.StatusCode, body)
		}
		if r := viettel.Received()[0].Request; r.Subject != "Tờ trình" || !r.Urgent || r.Notation != "SNV-VP" {
			t.Fatalf("received %+v", r)
		}
	})

	t.Run("fault as problem+json", func(t *testing.T) {
		vnpt.Refuse("Client", "QLVB-409: văn bản đã được tiếp nhận trước đó")
		defer vnpt.Refuse("", "")
		_, _, err := call(t, "qlvb-nhan", `{"ma":"HS-001","trich_yeu":"x","do_khan":0,"noi_dung":"x"}`)
		var api *rest.APIError
		if !errors.As(err, &api) || api.HTTPStatus != http.StatusBadGateway || api.Code != "service.fault" || !strings.Contains(api.Detail, "fault Client: QLVB-409") {
			t.Fatalf("got %v: want a service.fault problem with the legacy fault in its detail", err)
		}
	})

	t.Run("bad JSON", func(t *testing.T) {
		_, _, err := call(t, "eoffice", `{"NoSuchField":1}`)
		wantAPICode(t, err, "request.bad_json")
	})
}
