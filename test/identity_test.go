package test

// The sender's identity inside packets (issue 8, R6, Art. 5): a system
// sends and reports status only as itself or as an organ the registry lists
// for it (lgsp systems speaks-for), and reports status only about the
// document of an exchange it is a party of. Over SOAP (sendEdoc,
// updateStatus), REST status packets and edXML route steps; each refusal
// is coded and changes nothing in the store.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/adapters/qlvb"
	"github.com/tuyenquang/lgsp/adapters/rest"
	"github.com/tuyenquang/lgsp/adapters/soap"
	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/edxml"
	"github.com/tuyenquang/lgsp/bus/exchange"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/wsdl/gen/lgspedoc"
)

const (
	idUnit  = "000.01.10.H60" // a unit the sender's QLVB server serves; no system of its own
	idOther = qlvbOutsider    // a registered system, party to nothing
	// idMarker is packet text that no refusal may echo.
	idMarker = "MARKER-nội-dung-mật-7f3a"
)

// statusAbout builds a status packet answering the document packet doc,
// sent as organ by.
func statusAbout(t *testing.T, doc []byte, by string, code edxml.StatusCode) []byte {
	t.Helper()
	p, err := edxml.Parse(bytes.NewReader(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := edxml.StatusFor(p, code, edxml.Organization{OrganId: by, OrganName: "Đơn vị " + by}, time.Now(), idMarker)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := edxml.Build(&b, st); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// ledgerKinds counts the ledger events of id by kind.
func ledgerKinds(t *testing.T, n *node, id string) map[string]int {
	t.Helper()
	evs, err := n.svc.Store().Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range evs {
		out[e.Kind]++
		if strings.Contains(e.Detail, idMarker) && e.Kind != "status" {
			t.Errorf("ledger event %s quotes packet text: %s", e.Kind, e.Detail)
		}
	}
	return out
}

// recipientState is the delivery state of code on exchange id.
func recipientState(t *testing.T, n *node, id, code string) string {
	t.Helper()
	ex, err := n.svc.Store().GetExchange(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range ex.Recipients {
		if r.Code == code {
			return r.Status
		}
	}
	t.Fatalf("%s is not a recipient of %s", code, id)
	return ""
}

// wantFaultNoEcho asserts a SOAP fault with code that quotes no packet text.
func wantFaultNoEcho(t *testing.T, err error, code string) {
	t.Helper()
	wantSOAPFault(t, err, code)
	var f *soap.Fault
	errors.As(err, &f)
	if strings.Contains(f.String+string(f.Detail), idMarker) || strings.Contains(f.String+string(f.Detail), "Sở Nội vụ") {
		t.Errorf("the fault quotes packet text: %s %s", f.String, f.Detail)
	}
}

// TestSenderIdentitySOAP: sendEdoc refuses a packet whose From/OrganId is
// another agency or an organ not listed for the caller (deny by default),
// and accepts it once listed, until the listing is removed; updateStatus
// refuses a foreign From and a ResponseFor naming an unrelated document,
// leaving the recipient unconfirmed and recording no status.
func TestSenderIdentitySOAP(t *testing.T) {
	n, _ := qlvbNode(t)
	ctx := auth.WithActor(context.Background(), "test")
	s, r := n.clients[qlvbSender], n.clients[qlvbRecipient]
	n.system(t, idOther, "Sở Y tế — QLVB")
	client := func(c *rest.Client) *soap.Client {
		sc, err := soap.NewClient(n.url+qlvb.Path, soap.WithTimeout(time.Minute), soap.WithUsernameToken(c.AccessKey, c.SecretKey, true))
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	sS, sR := client(s), client(r)
	send := func(doc []byte) (string, error) {
		var resp lgspedoc.SendEdocResponse
		err := sS.Call(ctx, lgspedoc.ActionSendEdoc, &lgspedoc.SendEdoc{Edxml: []byte(base64.StdEncoding.EncodeToString(doc)), To: []string{qlvbRecipient}}, &resp)
		return resp.DocId, err
	}
	sent := func() int {
		list, err := n.svc.Exchange().Sent(ctx, qlvbSender, 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}

	// Another agency's code, and a unit not listed: refused, nothing stored.
	foreign, _ := qlvbPackets(t, qlvbRecipient, qlvbRecipient, edxml.StatusAccepted, "x")
	_, err := send(foreign)
	wantFaultNoEcho(t, err, "edxml.sender_mismatch")
	unitDoc, _ := qlvbPackets(t, idUnit, qlvbRecipient, edxml.StatusAccepted, "x")
	_, err = send(unitDoc)
	wantFaultNoEcho(t, err, "edxml.sender_mismatch")
	if k := sent(); k != 0 {
		t.Fatalf("%d exchanges stored after refusals", k)
	}

	// Listed for the sender: accepted at once; removed: refused again.
	if _, err := n.svc.SpeaksFor().Add(ctx, qlvbSender, idUnit); err != nil {
		t.Fatal(err)
	}
	if id, err := send(unitDoc); err != nil || id == "" {
		t.Fatalf("sendEdoc as a listed unit: %q %v", id, err)
	}
	if err := n.svc.SpeaksFor().Remove(ctx, qlvbSender, idUnit); err != nil {
		t.Fatal(err)
	}
	_, err = send(unitDoc)
	wantFaultNoEcho(t, err, "edxml.sender_mismatch")

	// The sender's own document; the recipient downloads it.
	doc, good := qlvbPackets(t, qlvbSender, qlvbRecipient, edxml.StatusAccepted, "Đã vào sổ văn bản đến")
	id, err := send(doc)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "delivery to R", func() (bool, error) {
		_, err := r.Ready(ctx, id)
		return err == nil, err
	})
	var got lgspedoc.GetEdocResponse
	if err := sR.Call(ctx, lgspedoc.ActionGetEdoc, &lgspedoc.GetEdoc{DocId: id}, &got); err != nil {
		t.Fatal(err)
	}
	update := func(packet []byte) (*lgspedoc.UpdateStatusResponse, error) {
		var resp lgspedoc.UpdateStatusResponse
		err := sR.Call(ctx, lgspedoc.ActionUpdateStatus, &lgspedoc.UpdateStatus{DocId: id, Edxml: []byte(base64.StdEncoding.EncodeToString(packet))}, &resp)
		return &resp, err
	}
	// From another system (03 would confirm receipt): refused.
	_, err = update(statusAbout(t, doc, idOther, edxml.StatusAccepted))
	wantFaultNoEcho(t, err, "edxml.sender_mismatch")
	// About an unrelated document (another agency's): refused.
	other, _ := qlvbPackets(t, idOther, qlvbRecipient, edxml.StatusAccepted, "x")
	_, err = update(statusAbout(t, other, qlvbRecipient, edxml.StatusAccepted))
	wantFaultNoEcho(t, err, "edxml.status_foreign")
	if st := recipientState(t, n, id, qlvbRecipient); st != store.RecipientDownloaded {
		t.Fatalf("after refused status packets the recipient is %s, want %s", st, store.RecipientDownloaded)
	}
	if k := ledgerKinds(t, n, id); k["status"] != 0 || k["confirmed"] != 0 {
		t.Fatalf("refused status packets left events: %v", k)
	}

	// The recipient's own status about this document: recorded, confirmed.
	resp, err := update(good)
	if err != nil || !resp.Confirmed {
		t.Fatalf("updateStatus of the recipient: %+v %v", resp, err)
	}
	if k := ledgerKinds(t, n, id); k["status"] != 1 || k["confirmed"] != 1 {
		t.Fatalf("events after the good status: %v", k)
	}
}

// TestSenderIdentityRESTStatus (MariaDB): a REST status packet whose From
// is another system, or whose ResponseFor names another document, is
// refused with 403 and its code; naming the exchange by its id, or by the
// edXML identity after the payload is purged, is accepted.
func TestSenderIdentityRESTStatus(t *testing.T) {
	dir := routesWith(t, map[string]string{"edxml.yaml": qlvbRoute})
	n := startNodeWith(t, "mysql", func(c *service.Config) { c.RoutesDir = dir; c.PublicURL = "" })
	ctx := context.Background()
	s := n.system(t, qlvbSender, "Sở Nội vụ")
	r := n.system(t, qlvbRecipient, "Sở Tư pháp")
	n.system(t, idOther, "Sở Y tế")
	n.grant(t, "exchange", qlvbSender, qlvbRecipient, "edxml")
	doc, _ := qlvbPackets(t, qlvbSender, qlvbRecipient, edxml.StatusAccepted, "x")
	id := sendREST(t, s, doc, "edxml")
	eventually(t, "delivery to R", func() (bool, error) {
		_, err := r.Ready(ctx, id)
		return err == nil, err
	})
	if _, err := r.Download(ctx, id, 0, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	refuse := func(packet []byte, code string) {
		t.Helper()
		_, err := r.SendStatus(ctx, id, packet)
		wantAPIError(t, err, code)
		var ae *rest.APIError
		errors.As(err, &ae)
		if ae.Status != http.StatusForbidden || strings.Contains(err.Error(), idMarker) {
			t.Errorf("refusal: HTTP %d, %v", ae.Status, err)
		}
	}
	refuse(statusAbout(t, doc, idOther, edxml.StatusAccepted), "edxml.sender_mismatch")
	other, _ := qlvbPackets(t, idOther, qlvbRecipient, edxml.StatusAccepted, "x")
	refuse(statusAbout(t, other, qlvbRecipient, edxml.StatusAccepted), "edxml.status_foreign")
	if k := ledgerKinds(t, n, id); k["status"] != 0 {
		t.Fatalf("refused status packets were recorded: %v", k)
	}

	// ResponseFor/DocumentId = the exchange id names it too.
	pkt, err := edxml.Parse(bytes.NewReader(statusAbout(t, other, qlvbRecipient, edxml.StatusArrived)), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The other document's issuer, number and date, but this exchange's id.
	pkt.Envelope.Header.MessageHeader.ResponseFor[0].DocumentId = id
	var b bytes.Buffer
	if err := edxml.Build(&b, pkt); err != nil {
		t.Fatal(err)
	}
	if _, err := r.SendStatus(ctx, id, b.Bytes()); err != nil {
		t.Fatalf("status naming the exchange id: %v", err)
	}
	if _, err := r.Confirm(ctx, id, "received", ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "purge", func() (bool, error) {
		v, err := s.Status(ctx, id)
		return err == nil && !v.PurgedAt.IsZero(), err
	})
	// After the purge the document is still recognised by its identity.
	if _, err := r.SendStatus(ctx, id, statusAbout(t, doc, qlvbRecipient, edxml.StatusFinished)); err != nil {
		t.Fatalf("status after purge: %v", err)
	}
	refuse(statusAbout(t, other, qlvbRecipient, edxml.StatusFinished), "edxml.status_foreign")
	if k := ledgerKinds(t, n, id); k["status"] != 2 {
		t.Fatalf("status events: %v", k)
	}
}

// sendREST sends content as an exchange to qlvbRecipient and returns its id.
func sendREST(t *testing.T, c *rest.Client, content []byte, dataType string) string {
	t.Helper()
	ctx := context.Background()
	sp, err := c.Request(ctx, exchange.Request{Recipients: []string{qlvbRecipient}, Title: "Công văn", DataType: dataType, MediaType: "application/xml"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UploadBytes(ctx, sp.ExchangeID, content); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Complete(ctx, sp.ExchangeID, exchange.CompleteRequest{}); err != nil {
		t.Fatal(err)
	}
	return sp.ExchangeID
}

const edxmlCheckRoute = `routes:
  - name: van-ban-kiem-tra
    description: gói tin edXML, kiểm tra đơn vị gửi
    match: {sources: ["*"], data_types: ["edxml-kt"]}
    steps:
      - edxml_validate: {kinds: [document]}
    delivery: {mode: immediate, expiry: 24h}
`

// TestSenderIdentityRouteStep: the edxml_validate step of a route refuses a
// packet whose From the exchange's source may not speak for
// (edxml.sender_mismatch, the exchange fails); an organ listed for the
// source passes.
func TestSenderIdentityRouteStep(t *testing.T) {
	dir := routesWith(t, map[string]string{"kt.yaml": edxmlCheckRoute})
	n := startNodeWith(t, "sqlite", func(c *service.Config) { c.RoutesDir = dir })
	ctx := auth.WithActor(context.Background(), "test")
	s := n.system(t, qlvbSender, "Sở Nội vụ")
	n.system(t, qlvbRecipient, "Sở Tư pháp")
	n.grant(t, "exchange", qlvbSender, qlvbRecipient, "edxml-kt")
	doc, _ := qlvbPackets(t, idUnit, qlvbRecipient, edxml.StatusAccepted, "x")
	complete := func() (string, error) {
		sp, err := s.Request(ctx, exchange.Request{Recipients: []string{qlvbRecipient}, Title: "Công văn", DataType: "edxml-kt", MediaType: "application/xml"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.UploadBytes(ctx, sp.ExchangeID, doc); err != nil {
			t.Fatal(err)
		}
		_, err = s.Complete(ctx, sp.ExchangeID, exchange.CompleteRequest{})
		return sp.ExchangeID, err
	}
	id, err := complete()
	wantAPIError(t, err, "edxml.sender_mismatch")
	if k := ledgerKinds(t, n, id); k["accepted"] != 0 || k["failed"] != 1 {
		t.Fatalf("refused exchange events: %v", k)
	}
	if _, err := n.svc.SpeaksFor().Add(ctx, qlvbSender, idUnit); err != nil {
		t.Fatal(err)
	}
	if id, err = complete(); err != nil {
		t.Fatalf("a listed unit: %v", err)
	}
	if k := ledgerKinds(t, n, id); k["accepted"] != 1 {
		t.Fatalf("accepted exchange events: %v", k)
	}
}

// TestSpeaksForAdminAPI: add, list, remove through the admin API; each
// change is in the key audit record with the actor; deny by default.
func TestSpeaksForAdminAPI(t *testing.T) {
	n := startNode(t, "sqlite")
	n.system(t, qlvbSender, "Sở Nội vụ")
	call := func(method, path, body string, want int) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, n.url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+n.svc.AdminToken())
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: HTTP %d, want %d: %v", method, path, resp.StatusCode, want, out)
		}
		return out
	}
	base := "/admin/v1/systems/" + qlvbSender + "/speaks-for"
	if l := call("GET", base, "", http.StatusOK)["speaks_for"].([]any); len(l) != 0 {
		t.Fatalf("listed by default: %v", l)
	}
	o := call("POST", base, `{"organ":"`+idUnit+`"}`, http.StatusCreated)["speaks_for"].(map[string]any)
	if o["organ"] != idUnit || o["system"] != qlvbSender || o["created_by"] != "admin-api" {
		t.Fatalf("added %v", o)
	}
	call("POST", base, `{"organ":"not a code!"}`, http.StatusUnprocessableEntity)
	call("POST", "/admin/v1/systems/000.00.99.H60/speaks-for", `{"organ":"`+idUnit+`"}`, http.StatusNotFound)
	if l := call("GET", "/admin/v1/speaks-for", "", http.StatusOK)["speaks_for"].([]any); len(l) != 1 {
		t.Fatalf("all listings: %v", l)
	}
	call("DELETE", base+"/"+idUnit, "", http.StatusOK)
	call("DELETE", base+"/"+idUnit, "", http.StatusNotFound)
	if l := call("GET", base, "", http.StatusOK)["speaks_for"].([]any); len(l) != 0 {
		t.Fatalf("listed after removal: %v", l)
	}
	evs, err := n.svc.Store().KeyEvents(context.Background(), qlvbSender, 0)
	if err != nil {
		t.Fatal(err)
	}
	var audit []string
	for _, e := range evs {
		if strings.HasPrefix(e.Action, "speaks_for") {
			audit = append(audit, e.Action+" "+e.Detail+" "+e.Actor)
		}
	}
	if want := []string{"speaks_for_added organ " + idUnit + " admin-api", "speaks_for_removed organ " + idUnit + " admin-api"}; strings.Join(audit, "|") != strings.Join(want, "|") {
		t.Fatalf("audit = %q, want %q", audit, want)
	}
}

// TestSpeaksForCLI: the real binary lists, adds and removes organs in the
// store of a running node (no restart): the node's next sendEdoc follows
// each change; keys history shows who made them.
func TestSpeaksForCLI(t *testing.T) {
	bin := buildLGSP(t)
	n, _ := qlvbNode(t)
	ctx := context.Background()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "LGSP_DATA_DIR="+n.dataDir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("lgsp %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out := run("systems", "speaks-for", "list", "--system", qlvbSender); strings.Contains(out, idUnit) {
		t.Fatalf("listed by default:\n%s", out)
	}
	s := n.clients[qlvbSender]
	sc, err := soap.NewClient(n.url+qlvb.Path, soap.WithUsernameToken(s.AccessKey, s.SecretKey, true))
	if err != nil {
		t.Fatal(err)
	}
	unitDoc, _ := qlvbPackets(t, idUnit, qlvbRecipient, edxml.StatusAccepted, "x")
	send := func() error {
		var resp lgspedoc.SendEdocResponse
		return sc.Call(ctx, lgspedoc.ActionSendEdoc, &lgspedoc.SendEdoc{Edxml: []byte(base64.StdEncoding.EncodeToString(unitDoc)), To: []string{qlvbRecipient}}, &resp)
	}
	wantSOAPFault(t, send(), "edxml.sender_mismatch")
	run("systems", "speaks-for", "add", "--system", qlvbSender, "--organ", idUnit)
	if out := run("systems", "speaks-for", "list"); !strings.Contains(out, qlvbSender) || !strings.Contains(out, idUnit) || !strings.Contains(out, "cli:") {
		t.Fatalf("list after add:\n%s", out)
	}
	if err := send(); err != nil {
		t.Fatalf("sendEdoc after the CLI listed the unit: %v", err)
	}
	run("systems", "speaks-for", "remove", "--system", qlvbSender, "--organ", idUnit)
	wantSOAPFault(t, send(), "edxml.sender_mismatch")
	out := run("keys", "history", "--system", qlvbSender)
	if !strings.Contains(out, "speaks_for_added") || !strings.Contains(out, "speaks_for_removed") || !strings.Contains(out, "cli:") {
		t.Fatalf("keys history:\n%s", out)
	}
}

// TestSenderIdentityGatewayByConstruction: the VXP poller's path
// (exchange.AsGateway, set in-process only) lets the gateway system hand
// over packets from remote agencies; the same system's own requests, and
// another system under the gateway's mark, get the ordinary rule.
func TestSenderIdentityGatewayByConstruction(t *testing.T) {
	n := startNode(t, "sqlite")
	const gw, remote = "000.00.90.H60", "000.00.00.G22"
	n.system(t, gw, "Trục VXP")
	ctx := context.Background()
	ex := n.svc.Exchange()
	if err := ex.CheckSender(exchange.AsGateway(ctx, gw), gw, remote); err != nil {
		t.Fatalf("the poller's path: %v", err)
	}
	wantCode(t, ex.CheckSender(ctx, gw, remote), "edxml.sender_mismatch")
	wantCode(t, ex.CheckSender(exchange.AsGateway(ctx, gw), qlvbSender, remote), "edxml.sender_mismatch")
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var be *bus.Error
	if !errors.As(err, &be) || string(be.Def.Code) != code {
		t.Fatalf("got %v, want %s", err, code)
	}
}
