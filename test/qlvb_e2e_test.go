package test

// LGSP's SOAP document-exchange service for QLVB systems (adapters/qlvb,
// wsdl/lgsp-edoc.wsdl) driven by REAL independent SOAP stacks: python3-zeep
// 4.2.1 (test/interop/zeep_edoc.py) and node-soap 1.13.0
// (test/interop/node_edoc.js). Both call every operation over SOAP 1.1 and
// 1.2, faults included, with UsernameToken PasswordDigest (access key +
// secret key). The tests fail, never skip, when a peer is missing.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/tuyenquang/lgsp/adapters/qlvb"
	"github.com/tuyenquang/lgsp/bus/edxml"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/transform"
	"github.com/tuyenquang/lgsp/test/testenv"
)

const qlvbRoute = `routes:
  - name: van-ban-edxml
    description: gói tin edXML từ hệ thống QLVB (SOAP) hoặc REST
    match: {sources: ["*"], data_types: ["edxml"]}
    steps:
      - validate: {media_types: ["application/xml"]}
    delivery: {mode: immediate, expiry: 24h}
`

const (
	qlvbSender    = "000.00.10.H60"
	qlvbRecipient = "000.00.11.H60"
	qlvbUnknownAK = "AKUNKNOWNUNKNOWNUNKNO"
)

// qlvbPackets builds a document packet from sender to recipient and the
// recipient's status packet (code) answering it.
func qlvbPackets(t *testing.T, from, to string, code edxml.StatusCode, desc string) (doc, status []byte) {
	t.Helper()
	js := `{"from": {"organ_id": "` + from + `", "organ_name": "Sở Nội vụ"},
	  "to": [{"organ_id": "` + to + `", "organ_name": "Sở Tư pháp"}],
	  "code": {"number": "12", "notation": "SNV-VP"},
	  "promulgation": {"place": "Tuyên Quang", "date": "2026-11-26"},
	  "type": {"code": "1", "name": "Công văn"},
	  "signer": {"position": "Giám đốc", "full_name": "Trần Văn B"},
	  "files": [{"name": "cv.pdf", "media_type": "application/pdf", "content_base64": "JVBERi0xLjcKJcOkw7w="}]}`
	p, err := transform.PacketFromJSON(func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(js)), nil },
		transform.Meta{Source: from, Recipients: []string{to}, Title: "V/v thử nghiệm liên thông văn bản qua SOAP", Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := edxml.Build(&b, p); err != nil {
		t.Fatal(err)
	}
	doc = b.Bytes()
	parsed, err := edxml.Parse(bytes.NewReader(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := edxml.StatusFor(parsed, code, edxml.Organization{OrganId: to, OrganName: "Sở Tư pháp"}, time.Now(), desc)
	if err != nil {
		t.Fatal(err)
	}
	var sb bytes.Buffer
	if err := edxml.Build(&sb, st); err != nil {
		t.Fatal(err)
	}
	return doc, sb.Bytes()
}

// qlvbNode starts a node with the edxml route, a sender and a recipient
// system (keys returned) and the grant between them.
func qlvbNode(t *testing.T) (n *node, creds map[string][2]string) {
	t.Helper()
	dir := routesWith(t, map[string]string{"edxml.yaml": qlvbRoute})
	n = startNodeWith(t, "sqlite", func(c *service.Config) { c.RoutesDir = dir; c.PublicURL = "" })
	s := n.system(t, qlvbSender, "Sở Nội vụ — QLVB")
	r := n.system(t, qlvbRecipient, "Sở Tư pháp — QLVB")
	n.grant(t, "exchange", qlvbSender, qlvbRecipient, "edxml")
	return n, map[string][2]string{"S": {s.AccessKey, s.SecretKey}, "R": {r.AccessKey, r.SecretKey}, "X": {qlvbUnknownAK, "không-đúng"}}
}

// peerCall is one call of a plan (test/interop/zeep_edoc.py describes it).
type peerCall struct {
	ID      string         `json:"id"`
	As      string         `json:"as"`
	Version string         `json:"version"`
	Op      string         `json:"op"`
	Args    map[string]any `json:"args,omitempty"`
	Until   string         `json:"until,omitempty"`
}

type edocResult struct {
	OK    map[string]any `json:"ok"`
	Fault *struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		LGSPCode  string `json:"lgsp_code"`
		MessageVI string `json:"message_vi"`
	} `json:"fault"`
	Error string `json:"error"`
}

// runEdocPeer runs a peer script with the plan on stdin.
func runEdocPeer(t *testing.T, args []string, wsdl string, creds map[string][2]string, calls []peerCall) map[string]edocResult {
	t.Helper()
	plan, err := json.Marshal(map[string]any{"wsdl": wsdl, "creds": creds, "calls": calls})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin = bytes.NewReader(plan)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", args[1], err, stderr.String())
	}
	var rep struct {
		Results map[string]edocResult `json:"results"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("%s printed no JSON: %v\n%s\n%s", args[1], err, out, stderr.String())
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s: %s", filepath.Base(args[1]), out)
		}
	})
	return rep.Results
}

func interopScript(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("interop", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func b64(b []byte) map[string]any { return map[string]any{"b64": base64.StdEncoding.EncodeToString(b)} }

// everyOperation is the interop plan for one SOAP version: every operation
// once as it should work and once as a fault.
func everyOperation(v string, doc, status []byte) []peerCall {
	sfx := "_" + strings.ReplaceAll(v, ".", "")
	send := map[string]any{"edxml": b64(doc)}
	if v == "1.2" {
		send["to"] = []string{qlvbRecipient} // the recipient override
	}
	id := "${send" + sfx + ".docId}"
	return []peerCall{
		{ID: "agency" + sfx, As: "S", Version: v, Op: "getAgencyList"},
		{ID: "agencyFault" + sfx, As: "X", Version: v, Op: "getAgencyList"},
		{ID: "send" + sfx, As: "S", Version: v, Op: "sendEdoc", Args: send},
		{ID: "sendFault" + sfx, As: "S", Version: v, Op: "sendEdoc", Args: map[string]any{"edxml": b64([]byte("<edXML><oops/>"))}},
		{ID: "inbox" + sfx, As: "R", Version: v, Op: "getReceivedEdocList", Until: id},
		{ID: "inboxFault" + sfx, As: "X", Version: v, Op: "getReceivedEdocList"},
		{ID: "get" + sfx, As: "R", Version: v, Op: "getEdoc", Args: map[string]any{"docId": id}},
		{ID: "getFault" + sfx, As: "R", Version: v, Op: "getEdoc", Args: map[string]any{"docId": "ex-khong-co"}},
		{ID: "status" + sfx, As: "R", Version: v, Op: "updateStatus", Args: map[string]any{"docId": id, "edxml": b64(status)}},
		{ID: "statusFault" + sfx, As: "R", Version: v, Op: "updateStatus", Args: map[string]any{"docId": id, "edxml": b64(doc)}},
		{ID: "sent" + sfx, As: "S", Version: v, Op: "getSentEdocList", Args: map[string]any{"docId": id}},
		{ID: "sentFault" + sfx, As: "S", Version: v, Op: "getSentEdocList", Args: map[string]any{"docId": "ex-khong-co"}},
	}
}

func wantFault(t *testing.T, res map[string]edocResult, id, code, lgspCode string) {
	t.Helper()
	f := res[id].Fault
	if f == nil {
		t.Errorf("%s: want fault %s, got %+v", id, lgspCode, res[id])
		return
	}
	if !strings.HasSuffix(f.Code, code) || f.LGSPCode != lgspCode || !strings.Contains(f.Message, lgspCode) || f.MessageVI == "" {
		t.Errorf("%s: fault %+v, want %s/%s", id, *f, code, lgspCode)
	}
}

func ok(t *testing.T, res map[string]edocResult, id string) map[string]any {
	t.Helper()
	r := res[id]
	if r.OK == nil {
		t.Fatalf("%s: %+v", id, r)
	}
	return r.OK
}

func list(v any) []map[string]any {
	var out []map[string]any
	for _, x := range toSlice(v) {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func toSlice(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case nil:
		return nil
	default:
		return []any{x}
	}
}

// checkEveryOperation asserts a peer's results for one version.
func checkEveryOperation(t *testing.T, res map[string]edocResult, v string, doc []byte) {
	sfx := "_" + strings.ReplaceAll(v, ".", "")
	client := "Client"
	if v == "1.2" {
		client = "Sender"
	}
	ag := ok(t, res, "agency"+sfx)
	codes := map[string]bool{}
	for _, a := range list(ag["agency"]) {
		codes[a["code"].(string)] = a["name"] != "" && a["unit"] == "UBND tỉnh"
	}
	if !codes[qlvbSender] || !codes[qlvbRecipient] {
		t.Errorf("getAgencyList: %v", ag)
	}
	wantFault(t, res, "agencyFault"+sfx, client, "auth.bad_signature")

	sent := ok(t, res, "send"+sfx)
	id, _ := sent["docId"].(string)
	if !strings.HasPrefix(id, "ex") || sent["status"] != "accepted" || len(toSlice(sent["to"])) != 1 || toSlice(sent["to"])[0] != qlvbRecipient {
		t.Errorf("sendEdoc: %v", sent)
	}
	wantFault(t, res, "sendFault"+sfx, client, "edxml.invalid")

	var found bool
	for _, e := range list(ok(t, res, "inbox"+sfx)["edoc"]) {
		if e["docId"] == id {
			found = e["from"] == qlvbSender && e["dataType"] == "edxml" && e["title"] == "V/v thử nghiệm liên thông văn bản qua SOAP" && e["expiresTime"] != nil
		}
	}
	if !found {
		t.Errorf("getReceivedEdocList: %s not listed right: %v", id, res["inbox"+sfx].OK)
	}
	wantFault(t, res, "inboxFault"+sfx, client, "auth.bad_signature")

	got := ok(t, res, "get"+sfx)
	if got["edxml"] != base64.StdEncoding.EncodeToString(doc) || got["from"] != qlvbSender || got["docId"] != id {
		t.Errorf("getEdoc: docId %v from %v, %d base64 chars (want %d)", got["docId"], got["from"], len(got["edxml"].(string)), base64.StdEncoding.EncodedLen(len(doc)))
	}
	wantFault(t, res, "getFault"+sfx, client, "exchange.not_found")

	st := ok(t, res, "status"+sfx)
	if st["statusCode"] != "03" || st["confirmed"] != true {
		t.Errorf("updateStatus: %v", st)
	}
	wantFault(t, res, "statusFault"+sfx, client, "edxml.invalid")

	se := list(ok(t, res, "sent"+sfx)["edoc"])
	if len(se) != 1 || se[0]["docId"] != id {
		t.Fatalf("getSentEdocList: %v", res["sent"+sfx].OK)
	}
	rc := list(se[0]["recipient"])
	if len(rc) != 1 || rc[0]["code"] != qlvbRecipient || rc[0]["status"] != "confirmed" || rc[0]["statusCode"] != "03" || rc[0]["statusDesc"] != "Đã vào sổ văn bản đến" {
		t.Errorf("getSentEdocList recipient: %v", rc)
	}
	wantFault(t, res, "sentFault"+sfx, client, "exchange.not_found")
}

func TestQLVBInteropZeep(t *testing.T) {
	py := testenv.RequireZeep(t)
	n, creds := qlvbNode(t)
	doc, status := qlvbPackets(t, qlvbSender, qlvbRecipient, edxml.StatusAccepted, "Đã vào sổ văn bản đến")
	calls := append(everyOperation("1.1", doc, status), everyOperation("1.2", doc, status)...)
	res := runEdocPeer(t, []string{py, interopScript(t, "zeep_edoc.py")}, n.url+"/soap/edoc?wsdl", creds, calls)
	for _, v := range []string{"1.1", "1.2"} {
		t.Run(v, func(t *testing.T) { checkEveryOperation(t, res, v, doc) })
	}
}

func TestQLVBInteropNodeSoap(t *testing.T) {
	dir, err := filepath.Abs("interop")
	if err != nil {
		t.Fatal(err)
	}
	testenv.RequireNodeModules(t, dir)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "soap", "package.json")); err != nil {
		t.Fatalf("node-soap is not installed in %s: run `npm ci --no-audit --no-fund` there (test/run.sh does)", dir)
	}
	n, creds := qlvbNode(t)
	doc, status := qlvbPackets(t, qlvbSender, qlvbRecipient, edxml.StatusAccepted, "Đã vào sổ văn bản đến")
	calls := append(everyOperation("1.1", doc, status), everyOperation("1.2", doc, status)...)
	res := runEdocPeer(t, []string{"node", interopScript(t, "node_edoc.js")}, n.url+"/soap/edoc?wsdl", creds, calls)
	for _, v := range []string{"1.1", "1.2"} {
		t.Run(v, func(t *testing.T) { checkEveryOperation(t, res, v, doc) })
	}
}

// TestQLVBEndToEnd: a legacy QLVB system (zeep, SOAP) sends an edXML
// document; LGSP routes it (data type edxml) to a REST destination, which
// takes delivery (ready, download), sends a status packet and confirms;
// the legacy system sees the per-recipient status in getSentEdocList.
func TestQLVBEndToEnd(t *testing.T) {
	py := testenv.RequireZeep(t)
	dir := routesWith(t, map[string]string{"edxml.yaml": qlvbRoute})
	n := startNodeWith(t, "sqlite", func(c *service.Config) { c.RoutesDir = dir; c.PublicURL = "" })
	s := n.system(t, qlvbSender, "Sở Nội vụ — QLVB (SOAP)")
	d := n.system(t, qlvbRecipient, "Sở Tư pháp — REST")
	n.grant(t, "exchange", qlvbSender, qlvbRecipient, "edxml")
	creds := map[string][2]string{"S": {s.AccessKey, s.SecretKey}}
	wsdl := n.url + "/soap/edoc?wsdl"
	doc, status := qlvbPackets(t, qlvbSender, qlvbRecipient, edxml.StatusAccepted, "Đã vào sổ văn bản đến")

	res := runEdocPeer(t, []string{py, interopScript(t, "zeep_edoc.py")}, wsdl, creds,
		[]peerCall{{ID: "send", As: "S", Version: "1.1", Op: "sendEdoc", Args: map[string]any{"edxml": b64(doc)}}})
	id, _ := ok(t, res, "send")["docId"].(string)
	if id == "" {
		t.Fatalf("sendEdoc: %+v", res["send"])
	}

	ctx := context.Background()
	eventually(t, "delivery to the REST destination", func() (bool, error) {
		_, err := d.Ready(ctx, id)
		return err == nil, err
	})
	var got bytes.Buffer
	if _, err := d.Download(ctx, id, 0, &got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), doc) {
		t.Fatalf("the REST destination got %d bytes, not the %d sent over SOAP", got.Len(), len(doc))
	}
	if _, err := d.SendStatus(ctx, id, status); err != nil {
		t.Fatalf("SendStatus: %v", err)
	}
	if _, err := d.Confirm(ctx, id, "received", "đã nhận"); err != nil {
		t.Fatalf("Confirm: %v", err)
	}

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
			rc := list(e["recipient"])
			if e["status"] != "completed" || len(rc) != 1 || rc[0]["code"] != qlvbRecipient || rc[0]["status"] != "confirmed" ||
				rc[0]["outcome"] != "đã nhận" || rc[0]["statusCode"] != "03" || rc[0]["statusDesc"] != "Đã vào sổ văn bản đến" || rc[0]["statusTime"] == nil {
				t.Errorf("%s: %v", call, e)
			}
		}
		if !seen {
			t.Errorf("%s: %s not listed: %v", call, id, res[call].OK)
		}
	}
}
