package test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/edxml"
	"github.com/tuyenquang/lgsp/bus/exchange"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/bus/transform"
)

// retentionRoutes has one route per case of TestNoPayloadTextRetained; the
// data type names the case. Files (keys, roots, the legacy XML map) are in
// the same folder.
const retentionRoutes = `routes:
  - name: ok-json
    match: {sources: ["*"], data_types: ["ok-json"]}
    steps:
      - validate: {max_bytes: 10485760, media_types: [application/json]}
      - label: {key: "phong-ban", value: "van-thu"}
      - edxml_from_json: {}
      - edxml_validate: {kinds: [document]}
      - xmldsig_sign: {key_file: key.pem, cert_file: cert.pem}
      - xmldsig_verify: {roots: [ca.pem]}
    delivery: {mode: immediate, expiry: 24h}
  - name: ok-xml
    match: {sources: ["*"], data_types: ["ok-xml"]}
    steps:
      - edxml_from_xml: {map: {"MessageHeader/From/OrganName": "/CongVan/CoQuan/Ten", "MessageHeader/Code/CodeNumber": "/CongVan/So", "MessageHeader/Code/CodeNotation": "/CongVan/KyHieu", "MessageHeader/PromulgationInfo/PromulgationDate": "/CongVan/@ngay", "MessageHeader/Subject": "/CongVan/TrichYeu", "MessageHeader/SignerInfo/FullName": "/CongVan/NguoiKy", "MessageHeader/ToPlaces/Place": "/CongVan/NoiNhan"}, set: {"MessageHeader/DocumentType/Type": "1", "MessageHeader/DocumentType/TypeName": "Công văn"}}
      - edxml_validate: {}
    delivery: {mode: immediate, expiry: 24h}
  - name: ok-status
    match: {sources: ["*"], data_types: ["ok-status"]}
    steps:
      - edxml_validate: {kinds: [status]}
    delivery: {mode: immediate, expiry: 24h}
  - name: bad-json
    match: {sources: ["*"], data_types: ["bad-json"]}
    steps:
      - edxml_from_json: {}
    delivery: {mode: immediate, expiry: 24h}
  - name: bad-json-from
    match: {sources: ["*"], data_types: ["bad-json-from"]}
    steps:
      - edxml_from_json: {}
    delivery: {mode: immediate, expiry: 24h}
  - name: bad-xml
    match: {sources: ["*"], data_types: ["bad-xml"]}
    steps:
      - edxml_from_xml: {map: {"MessageHeader/Subject": "/CongVan/TrichYeu"}}
    delivery: {mode: immediate, expiry: 24h}
  - name: bad-edxml
    match: {sources: ["*"], data_types: ["bad-edxml"]}
    steps:
      - edxml_validate: {}
    delivery: {mode: immediate, expiry: 24h}
  - name: bad-edxml-from
    match: {sources: ["*"], data_types: ["bad-edxml-from"]}
    steps:
      - edxml_validate: {}
    delivery: {mode: immediate, expiry: 24h}
  - name: bad-status
    match: {sources: ["*"], data_types: ["bad-status"]}
    steps:
      - edxml_validate: {kinds: [status]}
    delivery: {mode: immediate, expiry: 24h}
  - name: bad-sign
    match: {sources: ["*"], data_types: ["bad-sign"]}
    steps:
      - xmldsig_sign: {key_file: key.pem, cert_file: cert.pem}
    delivery: {mode: immediate, expiry: 24h}
  - name: bad-verify
    match: {sources: ["*"], data_types: ["bad-verify"]}
    steps:
      - xmldsig_verify: {roots: [ca.pem]}
    delivery: {mode: immediate, expiry: 24h}
  - name: bad-validate
    match: {sources: ["*"], data_types: ["bad-validate"]}
    steps:
      - validate: {media_types: [application/pdf]}
    delivery: {mode: immediate, expiry: 24h}
  - name: bad-reject
    match: {sources: ["*"], data_types: ["bad-reject"]}
    steps:
      - reject: {reason: "loại dữ liệu này không được phép"}
    delivery: {mode: immediate, expiry: 24h}
`

// retentionCase is one exchange of TestNoPayloadTextRetained.
type retentionCase struct {
	dataType, mediaType string
	content             []byte
	ok                  bool     // the route accepts it (else a step refuses it)
	steps               []string // the step kinds its route runs
	code                string   // the refusal's code; default route.step_failed
}

// noFailureMode lists step kinds that never read content and cannot fail
// on it: they are run on success only; noSuccessMode those that refuse
// every message.
var (
	noFailureMode = map[string]bool{"label": true}
	noSuccessMode = map[string]bool{"reject": true}
)

func TestNoPayloadTextRetainedSQLite(t *testing.T)  { testNoPayloadText(t, "sqlite") }
func TestNoPayloadTextRetainedMariaDB(t *testing.T) { testNoPayloadText(t, "mysql") }

// testNoPayloadText runs every registered route step, on success and on
// failure, over content with a unique marker in each field (edXML header
// fields, JSON fields, legacy XML fields, attachment names, status packet
// fields), through a real node with debug logs in a file; once every
// exchange is completed or failed it finds no marker — plain, base64 at
// three alignments, hex lower/upper, UTF-16 LE/BE — in the database files
// (db, WAL, SHM), in any cell of any MariaDB table, in the logs or in the
// temp folder (R2).
func testNoPayloadText(t *testing.T, dialect string) {
	routes := t.TempDir()
	writeTestPKI(t, routes)
	if err := os.WriteFile(filepath.Join(routes, "zr.yaml"), []byte(retentionRoutes), 0o644); err != nil {
		t.Fatal(err)
	}
	n := startNodeWith(t, dialect, func(c *service.Config) { c.RoutesDir = routes })
	ctx := context.Background()
	a := n.system(t, "000.00.00.H60", "UBND tỉnh")
	b := n.system(t, "000.00.01.H60", "Văn phòng UBND tỉnh")

	var markers []string
	mk := func() string {
		m := "mk" + randHex(10) + "zq"
		markers = append(markers, m)
		return m
	}
	cases := retentionCases(t, mk)

	// Every registered step kind has a success case and, unless it cannot
	// fail on content, a failure case: a new step cannot escape this test.
	seen := map[bool]map[string]bool{true: {}, false: {}}
	for _, c := range cases {
		for _, s := range c.steps {
			seen[c.ok][s] = true
		}
	}
	for _, spec := range bus.DefaultSteps.Specs() {
		if !seen[true][spec.Name] && !noSuccessMode[spec.Name] {
			t.Errorf("step %s has no success case in this test", spec.Name)
		}
		if !seen[false][spec.Name] && !noFailureMode[spec.Name] {
			t.Errorf("step %s has no failure case in this test", spec.Name)
		}
	}

	for _, c := range cases {
		n.grant(t, "exchange", "000.00.00.H60", "000.00.01.H60", c.dataType)
		sum := sha256.Sum256(c.content)
		sumHex := hex.EncodeToString(sum[:])
		sp, err := a.Request(ctx, exchange.Request{Recipients: []string{"000.00.01.H60"}, Title: "Thử nghiệm lưu giữ " + c.dataType, DataType: c.dataType, MediaType: c.mediaType, SHA256: sumHex})
		if err != nil {
			t.Fatalf("%s: request: %v", c.dataType, err)
		}
		if _, err := a.UploadBytes(ctx, sp.ExchangeID, c.content); err != nil {
			t.Fatalf("%s: upload: %v", c.dataType, err)
		}
		_, err = a.Complete(ctx, sp.ExchangeID, exchange.CompleteRequest{SHA256: sumHex})
		if !c.ok {
			if err == nil {
				t.Fatalf("%s: a step should have refused the content", c.dataType)
			}
			code := c.code
			if code == "" {
				code = "route.step_failed"
			}
			wantAPIError(t, err, code)
			continue
		}
		if err != nil {
			t.Fatalf("%s: complete: %v", c.dataType, err)
		}
		eventually(t, c.dataType+" notified to B", func() (bool, error) {
			_, err := b.Ready(ctx, sp.ExchangeID)
			return err == nil, err
		})
		if _, err := b.Download(ctx, sp.ExchangeID, 0, io.Discard); err != nil {
			t.Fatalf("%s: download: %v", c.dataType, err)
		}
		if c.dataType == "ok-json" {
			// A refused status report quoting a marker (REST status packet).
			bad := statusPacket(t, "000.00.01.H60", mk(), mk(), mk())
			if _, err := b.SendStatus(ctx, sp.ExchangeID, bad); err == nil {
				t.Fatal("a status packet with an unknown StatusCode was accepted")
			}
		}
		if v, err := b.Confirm(ctx, sp.ExchangeID, "received", ""); err != nil || v.Status != store.ExchangeCompleted {
			t.Fatalf("%s: confirm: %+v %v", c.dataType, v, err)
		}
	}
	// Every exchange reached its end state and was purged.
	sent, err := n.svc.Store().ListSent(ctx, "000.00.00.H60", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(sent) != len(cases) {
		t.Fatalf("%d exchanges sent, want %d", len(sent), len(cases))
	}
	for _, e := range sent {
		if e.Status != store.ExchangeCompleted && e.Status != store.ExchangeFailed {
			t.Fatalf("exchange %s is %s, want completed or failed", e.ID, e.Status)
		}
	}

	var needles [][]byte
	for _, m := range markers {
		needles = append(needles, allEncodings(m)...)
	}
	if dialect == "mysql" {
		scanMySQL(t, strings.TrimPrefix(n.dsn, "mysql://"), needles)
	}
	for _, dir := range []string{n.dataDir, n.tmpDir} {
		scanDir(t, dir, needles)
	}
	logs, err := os.ReadFile(n.logFile)
	if err != nil || !bytes.Contains(logs, []byte(`"level":"debug"`)) || !bytes.Contains(logs, []byte("route.step_failed")) {
		t.Fatalf("the debug log holds no debug line or no step failure (%v): the scan would prove nothing", err)
	}
	t.Logf("%d markers × %d encodings, %d exchanges", len(markers), len(needles)/len(markers), len(cases))
}

// allEncodings returns the marker plain, in base64 at the three alignments
// it can have in a longer stream, in hex (lower and upper case) and in
// UTF-16 (LE and BE).
func allEncodings(m string) [][]byte {
	out := markerNeedles(m)
	out = append(out, []byte(hex.EncodeToString([]byte(m))), []byte(strings.ToUpper(hex.EncodeToString([]byte(m)))))
	u := utf16.Encode([]rune(m))
	le, be := make([]byte, 0, 2*len(u)), make([]byte, 0, 2*len(u))
	for _, r := range u {
		le = append(le, byte(r), byte(r>>8))
		be = append(be, byte(r>>8), byte(r))
	}
	return append(out, le, be)
}

// jsonDoc is a JSON document (docs/edxml.md) with a marker in every text
// field, in a file name and in a file's content.
func jsonDoc(mk func() string) map[string]any {
	return map[string]any{
		"from":          map[string]any{"organ_name": mk(), "organization_in_charge": mk(), "address": mk(), "email": mk() + "@example.gov.vn"},
		"to":            []any{map[string]any{"organ_id": "000.00.01.H60", "organ_name": mk()}},
		"code":          map[string]any{"number": 12, "notation": "UBND-" + mk()},
		"promulgation":  map[string]any{"place": mk(), "date": "14/03/2025"},
		"type":          map[string]any{"code": 1, "name": mk()},
		"document_id":   mk(), // differs from the composed one: a warning that used to quote it
		"subject":       mk(),
		"signer":        map[string]any{"competence": mk(), "position": mk(), "full_name": mk()},
		"to_places":     []any{mk()},
		"steering_type": "0",
		"files": []any{map[string]any{"name": mk() + ".txt", "media_type": "text/plain", "description": mk(),
			"content_base64": base64.StdEncoding.EncodeToString([]byte("nội dung " + mk()))}},
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// edxmlPacket builds an edXML document packet from a JSON document, then
// lets change alter it before it is written.
func edxmlPacket(t *testing.T, doc []byte, change func(p *edxml.Packet)) []byte {
	t.Helper()
	open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(doc)), nil }
	p, err := transform.PacketFromJSON(open, transform.Meta{Source: "000.00.00.H60", Recipients: []string{"000.00.01.H60"}, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if change != nil {
		change(p)
	}
	var buf bytes.Buffer
	if err := edxml.Build(&buf, p); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// statusPacket builds a status packet in which reporter answers a small
// document the other test system sent it, with code, the reporting
// organisation's name and the description given.
func statusPacket(t *testing.T, reporter, code, organName, description string) []byte {
	t.Helper()
	doc := mustJSON(t, map[string]any{"code": map[string]any{"number": 12, "notation": "UBND-VP"}, "promulgation": map[string]any{"date": "14/03/2025"},
		"type": map[string]any{"code": 1, "name": "Công văn"}, "subject": "Công văn", "signer": map[string]any{"full_name": "Nguyễn Văn A"}})
	open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(doc)), nil }
	other := "000.00.00.H60"
	if reporter == other {
		other = "000.00.01.H60"
	}
	p, err := transform.PacketFromJSON(open, transform.Meta{Source: other, Recipients: []string{reporter}, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	st, err := edxml.StatusFor(p, edxml.StatusCode(code), edxml.Organization{OrganId: reporter, OrganName: organName}, time.Now(), description)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := edxml.Build(&buf, st); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func retentionCases(t *testing.T, mk func() string) []retentionCase {
	legacy := func(subject string) []byte {
		return []byte(`<?xml version="1.0" encoding="UTF-8"?><CongVan ngay="2025-03-14"><CoQuan><Ten>` + mk() + `</Ten></CoQuan><So>45</So><KyHieu>UBND-` + mk() +
			`</KyHieu><TrichYeu>` + subject + `</TrichYeu><NguoiKy>` + mk() + `</NguoiKy><NoiNhan>` + mk() + `</NoiNhan></CongVan>`)
	}
	cases := []retentionCase{
		{dataType: "ok-json", mediaType: "application/json", content: mustJSON(t, jsonDoc(mk)), ok: true,
			steps: []string{"validate", "label", "edxml_from_json", "edxml_validate", "xmldsig_sign", "xmldsig_verify"}},
		{dataType: "ok-xml", mediaType: "application/xml", content: legacy(mk()), ok: true, steps: []string{"edxml_from_xml", "edxml_validate"}},
		{dataType: "ok-status", mediaType: "application/xml", content: statusPacket(t, "000.00.00.H60", "03", mk(), mk()), ok: true, steps: []string{"edxml_validate"}},
		{dataType: "bad-json", mediaType: "application/json", content: []byte(`{"` + mk() + `": 1, "subject": "` + mk() + `", "page_amount": 1` + strings.Repeat("9", 400) + `}`), steps: []string{"edxml_from_json"}},
		{dataType: "bad-json-from", mediaType: "application/json", content: mustJSON(t, map[string]any{"from": map[string]any{"organ_id": mk()}, "to": []any{map[string]any{"organ_id": mk()}}, "subject": mk()}), steps: []string{"edxml_from_json"}, code: "edxml.sender_mismatch"},
		{dataType: "bad-xml", mediaType: "application/xml", content: []byte(`<CongVan><TrichYeu>` + mk() + `</TrichYeu><` + mk() + `></CongVan>`), steps: []string{"edxml_from_xml"}},
		{dataType: "bad-edxml", mediaType: "application/xml", content: edxmlPacket(t, mustJSON(t, jsonDoc(mk)), func(p *edxml.Packet) {
			mh := &p.Envelope.Header.MessageHeader
			mh.DocumentType.Type = mk()
			mh.SteeringType = mk()
			mh.OtherInfo = &edxml.OtherInfo{Priority: mk(), PageAmount: mk()}
			mh.DueDate = edxml.Date{Raw: mk()}
		}), steps: []string{"edxml_validate"}},
		{dataType: "bad-edxml-from", mediaType: "application/xml", content: edxmlPacket(t, mustJSON(t, jsonDoc(mk)), func(p *edxml.Packet) {
			p.Envelope.Header.MessageHeader.From.OrganId = mk()
		}), steps: []string{"edxml_validate"}, code: "edxml.sender_mismatch"},
		{dataType: "bad-status", mediaType: "application/xml", content: statusPacket(t, "000.00.00.H60", mk(), mk(), mk()), steps: []string{"edxml_validate"}},
		{dataType: "bad-sign", mediaType: "application/xml", content: []byte("văn bản không phải XML " + mk()), steps: []string{"xmldsig_sign"}},
		{dataType: "bad-verify", mediaType: "application/xml", content: edxmlPacket(t, mustJSON(t, jsonDoc(mk)), nil), steps: []string{"xmldsig_verify"}},
		{dataType: "bad-validate", mediaType: "application/xml", content: []byte("<x>" + mk() + "</x>"), steps: []string{"validate"}},
		{dataType: "bad-reject", mediaType: "application/xml", content: []byte("<x>" + mk() + "</x>"), steps: []string{"reject"}},
	}
	sort.SliceStable(cases, func(i, j int) bool { return cases[i].ok && !cases[j].ok })
	return cases
}
