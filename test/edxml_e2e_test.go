package test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/adapters/rest"
	"github.com/tuyenquang/lgsp/bus/edxml"
	"github.com/tuyenquang/lgsp/bus/exchange"
	"github.com/tuyenquang/lgsp/bus/notify"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/bus/transform"
)

// writeTestPKI writes a throw-away test CA and a signing key and
// certificate it issued into dir: ca.pem, key.pem, cert.pem.
func writeTestPKI(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	caKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "LGSP Test CA (e2e)"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "LGSP tỉnh Tuyên Quang (test)"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, blk := range map[string]*pem.Block{
		"ca.pem":   {Type: "CERTIFICATE", Bytes: caDER},
		"cert.pem": {Type: "CERTIFICATE", Bytes: leafDER},
		"key.pem":  {Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)},
	} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(blk), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// routesWith returns a routes folder holding the test routes plus extra
// files (name → content), for startNodeWith's mutate.
func routesWith(t *testing.T, extra map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "routes")
	files := map[string]string{"test.yaml": testRoutes}
	for k, v := range extra {
		files[k] = v
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// signedEdocRoute turns JSON documents into signed edXML packets; the key
// paths are relative to the routes folder.
const signedEdocRoute = `routes:
  - name: van-ban-edxml-ky-so
    match: {sources: ["*"], data_types: ["edoc-json"]}
    steps:
      - validate: {media_types: ["application/json"]}
      - edxml_from_json: {}
      - edxml_validate: {kinds: [document]}
      - xmldsig_sign: {key_file: keys/key.pem, cert_file: keys/cert.pem}
      - xmldsig_verify: {roots: [keys/ca.pem]}
    delivery: {mode: immediate, expiry: 24h}
`

const edocJSON = `{
  "from": {"organ_name": "UBND tỉnh Tuyên Quang"},
  "to": [{"organ_id": "000.00.01.H60", "organ_name": "Văn phòng UBND tỉnh"}],
  "code": {"number": "88", "notation": "UBND-KGVX"},
  "promulgation": {"place": "Tuyên Quang", "date": "2026-11-26"},
  "type": {"code": "1", "name": "Công văn"},
  "signer": {"position": "Chủ tịch", "full_name": "Nguyễn Văn A"},
  "files": [{"name": "cong-van.pdf", "media_type": "application/pdf", "content_base64": "JVBERi0xLjcKJcOkw7w="}]
}`

// TestEdXMLSignedDelivery: a document sent as JSON + files is delivered as
// a signed edXML packet, and the recipient's status packets show up in the
// sender's ledger and live notifications, also after the payload is purged.
func TestEdXMLSignedDelivery(t *testing.T) {
	dir := routesWith(t, map[string]string{"edoc.yaml": signedEdocRoute})
	writeTestPKI(t, filepath.Join(dir, "keys"))
	n := startNodeWith(t, "sqlite", func(c *service.Config) { c.RoutesDir = dir })
	ctx := context.Background()
	a := n.system(t, "000.00.00.H60", "UBND tỉnh")
	b := n.system(t, "000.00.01.H60", "Văn phòng UBND tỉnh")
	c := n.system(t, "000.00.02.H60", "Sở Tài chính")
	n.grant(t, "exchange", "000.00.00.H60", "000.00.01.H60", "edoc-json")

	sctx, stop := context.WithCancel(ctx)
	defer stop()
	live := make(chan notify.Event, 64)
	go a.Events(sctx, 0, func(e notify.Event) error { live <- e; return nil })
	eventually(t, "subscriber registered", func() (bool, error) { return hubCount(n) == 1, nil })

	sp, err := a.Request(ctx, exchange.Request{Recipients: []string{"000.00.01.H60"}, Title: "V/v triển khai liên thông văn bản", DataType: "edoc-json", Importance: "urgent", MediaType: "application/json"})
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	id := sp.ExchangeID
	if _, err := a.UploadBytes(ctx, id, []byte(edocJSON)); err != nil {
		t.Fatal(err)
	}
	v, err := a.Complete(ctx, id, exchange.CompleteRequest{})
	if err != nil {
		t.Fatalf("complete: %v", err)
	}
	if v.Status != "accepted" || v.MediaType != "application/xml" {
		t.Fatalf("after complete: %+v", v)
	}
	sameAsStored(t, a, v)

	// The recipient downloads application/xml: a valid edXML packet whose
	// signature verifies against the test CA.
	var d *exchange.Download
	eventually(t, "delivery to B", func() (bool, error) {
		d, err = b.Ready(ctx, id)
		return err == nil, err
	})
	if d.MediaType != "application/xml" {
		t.Errorf("media type = %q", d.MediaType)
	}
	var got bytes.Buffer
	if _, err := b.Download(ctx, id, 0, &got); err != nil {
		t.Fatal(err)
	}
	doc, err := edxml.Parse(bytes.NewReader(got.Bytes()), nil)
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, got.Bytes())
	}
	for _, is := range edxml.Validate(doc) {
		if is.Severity == edxml.SeverityError {
			t.Errorf("validate: %v", is)
		}
	}
	mh := doc.Envelope.Header.MessageHeader
	if mh.From.OrganId != "000.00.00.H60" || mh.To[0].OrganId != "000.00.01.H60" || mh.Subject != "V/v triển khai liên thông văn bản" || mh.OtherInfo.Priority != "1" || len(doc.Attachments) != 1 {
		t.Errorf("packet header: %+v, %d attachments", mh, len(doc.Attachments))
	}
	ver, err := transform.LoadVerifier([]string{filepath.Join(dir, "keys", "ca.pem")}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ver.Verify(got.Bytes())
	if err != nil {
		t.Fatalf("signature: %v", err)
	}
	if res.Cert.Subject.CommonName != "LGSP tỉnh Tuyên Quang (test)" {
		t.Errorf("signer = %s", res.Cert.Subject)
	}
	signed, err := res.Signed()
	if err != nil {
		t.Fatalf("signed content: %v", err)
	}
	if _, err := edxml.Parse(bytes.NewReader(signed), nil); err != nil {
		t.Errorf("the signed content is not an edXML packet: %v", err)
	}

	// The recipient answers with status packets.
	by := edxml.Organization{OrganId: "000.00.01.H60", OrganName: "Văn phòng UBND tỉnh"}
	status := func(code edxml.StatusCode, desc string) []byte {
		st, err := edxml.StatusFor(doc, code, by, time.Now(), desc)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := edxml.Build(&buf, st); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	rep, err := b.SendStatus(ctx, id, status(edxml.StatusAccepted, "Đã vào sổ văn bản đến"))
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	if rep.Code != "03" || rep.By != "000.00.01.H60" {
		t.Errorf("report = %+v", rep)
	}
	waitKind := func(kind string) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case e := <-live:
				if e.Kind == kind && e.ExchangeID == id {
					return
				}
			case <-deadline:
				t.Fatalf("no live %q event within 10s", kind)
			}
		}
	}
	waitKind("status")
	statuses := func() []map[string]string {
		t.Helper()
		v, err := a.Status(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var out []map[string]string
		for _, e := range v.Ledger {
			if e.Kind == "status" {
				var m map[string]string
				if err := json.Unmarshal([]byte(e.Detail), &m); err != nil {
					t.Fatal(err)
				}
				m["actor"] = e.Actor
				out = append(out, m)
			}
		}
		return out
	}
	if s := statuses(); len(s) != 1 || s[0]["source"] != "000.00.00.H60" || s[0]["code"] != "03" || s[0]["description"] != "Đã vào sổ văn bản đến" || s[0]["by"] != "000.00.01.H60" || s[0]["actor"] != "000.00.01.H60" {
		t.Errorf("status events = %v", s)
	}

	// Refusals: the sender and outsiders may not report; only status
	// packets that validate are taken.
	_, err = a.SendStatus(ctx, id, status(edxml.StatusAccepted, "x"))
	wantAPIError(t, err, "exchange.not_recipient")
	_, err = c.SendStatus(ctx, id, status(edxml.StatusAccepted, "x"))
	wantAPIError(t, err, "exchange.not_found")
	_, err = b.SendStatus(ctx, id, got.Bytes())
	wantAPIError(t, err, "edxml.invalid")
	_, err = b.SendStatus(ctx, id, bytes.Replace(status(edxml.StatusAccepted, "x"), []byte("<StatusCode>03</StatusCode>"), []byte("<StatusCode>99</StatusCode>"), 1))
	if wantAPIError(t, err, "edxml.invalid"); err == nil || !strings.Contains(err.Error(), "edxml.code_list") || !strings.Contains(err.Error(), "StatusCode") {
		t.Errorf("bad status code: %v", err)
	}
	_, err = b.SendStatus(ctx, id, []byte("<edXML><oops></edXML>"))
	wantAPIError(t, err, "edxml.invalid")
	resp := rawSigned(t, b, "POST", "/v1/exchanges/"+id+"/status", `{"code":"03"}`)
	wantProblem(t, resp, 400, "request.invalid")

	// After confirmation the payload is purged; status reports still count.
	if _, err := b.Confirm(ctx, id, "received", ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "purge", func() (bool, error) {
		v, err := a.Status(ctx, id)
		return err == nil && !v.PurgedAt.IsZero(), err
	})
	if _, err := b.SendStatus(ctx, id, status(edxml.StatusFinished, "Đã xử lý xong")); err != nil {
		t.Fatalf("status after purge: %v", err)
	}
	waitKind("status")
	if s := statuses(); len(s) != 2 || s[1]["code"] != "06" {
		t.Errorf("status events after purge = %v", s)
	}
}

// sameAsStored checks that the exchange Complete answered (v, built from
// what the accept wrote, not read back) is the stored one: the same as a
// status read, but for the recipients' moves since (the dispatcher may
// have notified them already).
func sameAsStored(t *testing.T, c *rest.Client, v *exchange.View) {
	t.Helper()
	st, err := c.Status(context.Background(), v.ID)
	if err != nil {
		t.Fatalf("status of %s: %v", v.ID, err)
	}
	got, want := *v, *st
	got.Ledger, want.Ledger = nil, nil
	if len(got.Recipients) != len(want.Recipients) {
		t.Fatalf("complete answered %d recipients, the store has %d", len(got.Recipients), len(want.Recipients))
	}
	got.Recipients, want.Recipients = slices.Clone(got.Recipients), slices.Clone(want.Recipients)
	for i := range want.Recipients {
		r, w := got.Recipients[i], &want.Recipients[i]
		if r.Status != store.RecipientPlanned {
			t.Errorf("complete answered recipient %s %s, want planned", r.Code, r.Status)
		}
		if w.Status == store.RecipientNotified {
			w.Status, w.NotifiedAt = r.Status, r.NotifiedAt
		}
	}
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if !bytes.Equal(gj, wj) {
		t.Errorf("complete answered\n%s\nthe store has\n%s", gj, wj)
	}
}
