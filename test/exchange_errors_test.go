package test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/adapters/rest"
	"github.com/tuyenquang/lgsp/bus/exchange"
	"github.com/tuyenquang/lgsp/bus/schedule"
)

// TestExchangeRefusals checks that bad requests get their own coded error
// and change nothing.
func TestExchangeRefusals(t *testing.T) {
	n := startNode(t, "sqlite")
	ctx := context.Background()
	a := n.system(t, "000.00.00.H60", "UBND tỉnh")
	b := n.system(t, "000.00.01.H60", "Văn phòng")
	n.grant(t, "exchange", "000.00.00.H60", "000.00.*.H60", "*")
	good := exchange.Request{Recipients: []string{"000.00.01.H60"}, Title: "Công văn", DataType: "edoc"}

	cases := []struct {
		name string
		req  func(r exchange.Request) exchange.Request
		code string
	}{
		{"no recipients", func(r exchange.Request) exchange.Request { r.Recipients = nil; return r }, "exchange.invalid"},
		{"unregistered recipient", func(r exchange.Request) exchange.Request { r.Recipients = []string{"000.00.09.H60"}; return r }, "exchange.recipient_unknown"},
		{"malformed recipient code", func(r exchange.Request) exchange.Request { r.Recipients = []string{"not a code!"}; return r }, "registry.invalid_code"},
		{"duplicate recipient", func(r exchange.Request) exchange.Request {
			r.Recipients = []string{"000.00.01.H60", "000.00.01.H60"}
			return r
		}, "exchange.invalid"},
		{"no title", func(r exchange.Request) exchange.Request { r.Title = " "; return r }, "exchange.invalid"},
		{"bad data type", func(r exchange.Request) exchange.Request { r.DataType = "Công Văn"; return r }, "exchange.invalid"},
		{"no route for data type", func(r exchange.Request) exchange.Request { r.DataType = "unknown-type"; return r }, "exchange.no_route"},
		{"bad importance", func(r exchange.Request) exchange.Request { r.Importance = "very"; return r }, "exchange.invalid"},
		{"bad protocol", func(r exchange.Request) exchange.Request { r.Protocol = "ftp"; return r }, "exchange.invalid"},
		{"declared size over the limit", func(r exchange.Request) exchange.Request { r.Size = 1 << 40; return r }, "exchange.too_large"},
		{"bad sha256", func(r exchange.Request) exchange.Request { r.SHA256 = "XYZ"; return r }, "exchange.invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.Request(ctx, tc.req(good))
			wantAPIError(t, err, tc.code)
		})
	}
	sent, err := n.svc.Exchange().Sent(ctx, "000.00.00.H60", 10)
	if err != nil || len(sent) != 0 {
		t.Fatalf("refused requests left %d exchanges (%v)", len(sent), err)
	}

	// A suspended recipient is refused.
	if err := n.svc.Registry().Suspend(ctx, "000.00.01.H60"); err != nil {
		t.Fatal(err)
	}
	_, err = a.Request(ctx, good)
	wantAPIError(t, err, "exchange.recipient_unknown")
	// … and a suspended system cannot call at all.
	_, err = b.Inbox(ctx)
	wantAPIError(t, err, "auth.system_suspended")
	if err := n.svc.Registry().Resume(ctx, "000.00.01.H60"); err != nil {
		t.Fatal(err)
	}

	// Unknown fields and broken JSON.
	resp := rawSigned(t, a, http.MethodPost, "/v1/exchanges", `{"recipients":["000.00.01.H60"],"title":"x","data_type":"edoc","recipent":"typo"}`)
	wantProblem(t, resp, http.StatusBadRequest, "request.bad_json")
	resp = rawSigned(t, a, http.MethodPost, "/v1/exchanges", `{"recipients":`)
	wantProblem(t, resp, http.StatusBadRequest, "request.bad_json")
	resp = rawSigned(t, a, http.MethodPost, "/v1/exchanges", `{"title":"`+strings.Repeat("x", 2<<20)+`"}`)
	wantProblem(t, resp, http.StatusRequestEntityTooLarge, "request.too_large")

	// Complete with nothing uploaded, then with the wrong hash: nothing changes.
	sp, err := a.Request(ctx, good)
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Complete(ctx, sp.ExchangeID, exchange.CompleteRequest{})
	wantAPIError(t, err, "exchange.invalid")
	if _, err := a.UploadBytes(ctx, sp.ExchangeID, []byte("<doc>ok</doc>")); err != nil {
		t.Fatal(err)
	}
	_, err = a.Complete(ctx, sp.ExchangeID, exchange.CompleteRequest{SHA256: strings.Repeat("0", 64)})
	wantAPIError(t, err, "exchange.hash_mismatch")
	st, err := a.Status(ctx, sp.ExchangeID)
	if err != nil || st.Status != "requested" {
		t.Fatalf("after refused completion: %+v %v", st, err)
	}
	// Another system cannot upload into the space, nor complete it.
	_, err = b.UploadBytes(ctx, sp.ExchangeID, []byte("x"))
	wantAPIError(t, err, "exchange.not_found")
	// The sender cancels: content deleted, recipients cancelled.
	v, err := a.Cancel(ctx, sp.ExchangeID)
	if err != nil || v.Status != "cancelled" {
		t.Fatalf("cancel: %+v %v", v, err)
	}
	_, err = a.UploadBytes(ctx, sp.ExchangeID, []byte("x"))
	wantAPIError(t, err, "exchange.purged")
	if idx, _ := n.svc.Store().ChunkIndex(ctx, sp.ExchangeID); len(idx) != 0 {
		t.Fatalf("cancelled exchange kept %d chunks", len(idx))
	}
}

// TestRouteStepRefusal: a route step refusing the content ends the exchange
// as failed and purges it; the sender sees the step's reason.
func TestRouteStepRefusal(t *testing.T) {
	n := startNode(t, "sqlite")
	ctx := context.Background()
	a := n.system(t, "000.00.00.H60", "UBND tỉnh")
	n.system(t, "000.00.01.H60", "Văn phòng")
	n.grant(t, "exchange", "000.00.00.H60", "000.00.*.H60", "blocked")
	sp, err := a.Request(ctx, exchange.Request{Recipients: []string{"000.00.01.H60"}, Title: "Tài liệu", DataType: "blocked"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.UploadBytes(ctx, sp.ExchangeID, []byte("nội dung")); err != nil {
		t.Fatal(err)
	}
	_, err = a.Complete(ctx, sp.ExchangeID, exchange.CompleteRequest{})
	wantAPIError(t, err, "route.step_failed")
	if ae := err.(*rest.APIError); !strings.Contains(ae.Detail, "không được phép") {
		t.Errorf("detail does not carry the route's reason: %q", ae.Detail)
	}
	st, err := a.Status(ctx, sp.ExchangeID)
	if err != nil || st.Status != "failed" || st.PurgedAt.IsZero() || st.Recipients[0].Status != "failed" {
		t.Fatalf("after refusal: %+v %v", st, err)
	}
}

// TestCronDelivery: a cron route plans delivery at the next 07:00 in
// Asia/Ho_Chi_Minh; before that the destination gets exchange.not_due.
func TestCronDelivery(t *testing.T) {
	n := startNode(t, "sqlite")
	ctx := context.Background()
	a := n.system(t, "000.00.00.H60", "UBND tỉnh")
	b := n.system(t, "000.00.01.H60", "Văn phòng")
	n.grant(t, "exchange", "000.00.00.H60", "000.00.*.H60", "*")
	sp, err := a.Request(ctx, exchange.Request{Recipients: []string{"000.00.01.H60"}, Title: "Báo cáo tuần", DataType: "report"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.UploadBytes(ctx, sp.ExchangeID, []byte("{\"so_lieu\":1}")); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	v, err := a.Complete(ctx, sp.ExchangeID, exchange.CompleteRequest{MediaType: "application/json"})
	if err != nil {
		t.Fatal(err)
	}
	due := v.Recipients[0].DueAt.In(schedule.Location)
	if due.Hour() != 7 || due.Minute() != 0 || !due.After(before) || due.Sub(before) > 24*time.Hour {
		t.Fatalf("due = %s, want the next 07:00 Asia/Ho_Chi_Minh after %s", due, before.In(schedule.Location))
	}
	if v.Recipients[0].Status != "planned" {
		t.Fatalf("recipient status %s, want planned", v.Recipients[0].Status)
	}
	_, err = b.Ready(ctx, sp.ExchangeID)
	wantAPIError(t, err, "exchange.not_due")
	items, err := b.Inbox(ctx)
	if err != nil || len(items) != 0 {
		t.Fatalf("not-yet-due exchange visible in inbox: %+v %v", items, err)
	}
}

// rawSigned sends a signed request with a literal body.
func rawSigned(t *testing.T, c *rest.Client, method, path, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, c.BaseURL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256([]byte(body))
	if err := signWith(req, c, hex.EncodeToString(sum[:])); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func wantProblem(t *testing.T, resp *http.Response, status int, code string) {
	t.Helper()
	if resp.StatusCode != status || resp.Header.Get("X-LGSP-Error-Code") != code || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		t.Fatalf("got %d %s %q, want %d %s problem+json; body %s", resp.StatusCode, resp.Header.Get("X-LGSP-Error-Code"), resp.Header.Get("Content-Type"), status, code, b.String())
	}
}

// TestImportanceAsNumber: importance is taken as a string ("3", "flash") or
// as a bare JSON number (3), as edXML writes Priority; anything else is
// refused with exchange.invalid and leaves no exchange behind.
func TestImportanceAsNumber(t *testing.T) {
	n := startNode(t, "sqlite")
	ctx := context.Background()
	a := n.system(t, "000.00.00.H60", "UBND tỉnh")
	n.system(t, "000.00.01.H60", "Văn phòng")
	n.grant(t, "exchange", "000.00.00.H60", "000.00.*.H60", "*")
	body := func(imp string) string {
		return `{"recipients":["000.00.01.H60"],"title":"Công văn","data_type":"edoc","importance":` + imp + `}`
	}
	for imp, want := range map[string]string{`3`: "flash", `"3"`: "flash", `0`: "normal", `"urgent"`: "urgent", `null`: "normal"} {
		resp := rawSigned(t, a, http.MethodPost, "/v1/exchanges", body(imp))
		var sp exchange.Space
		if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&sp) != nil {
			t.Fatalf("importance %s: status %d (%s)", imp, resp.StatusCode, resp.Header.Get("X-LGSP-Error-Code"))
		}
		resp.Body.Close()
		st, err := a.Status(ctx, sp.ExchangeID)
		if err != nil || st.Importance != want {
			t.Fatalf("importance %s stored as %q, want %q (%v)", imp, st.Importance, want, err)
		}
	}
	for _, imp := range []string{`7`, `3.5`, `-1`, `true`, `["3"]`, `{"v":3}`} {
		wantProblem(t, rawSigned(t, a, http.MethodPost, "/v1/exchanges", body(imp)), http.StatusUnprocessableEntity, "exchange.invalid")
	}
	// The custom decoding still refuses unknown fields.
	wantProblem(t, rawSigned(t, a, http.MethodPost, "/v1/exchanges", `{"recipients":["000.00.01.H60"],"title":"x","data_type":"edoc","importance":3,"priority":3}`), http.StatusBadRequest, "request.bad_json")
	if sent, err := n.svc.Exchange().Sent(ctx, "000.00.00.H60", 100); err != nil || len(sent) != 5 {
		t.Fatalf("want the 5 accepted requests only, got %d (%v)", len(sent), err)
	}
}

// TestSizeMismatchKeepsSpaceOpen: a completion whose uploaded bytes differ
// from the declared size is refused with exchange.size_mismatch (not
// hash_mismatch); the space stays open, so the sender uploads the rest from
// the offset HEAD reports and completes again.
func TestSizeMismatchKeepsSpaceOpen(t *testing.T) {
	n := startNode(t, "sqlite")
	ctx := context.Background()
	a := n.system(t, "000.00.00.H60", "UBND tỉnh")
	n.system(t, "000.00.01.H60", "Văn phòng")
	n.grant(t, "exchange", "000.00.00.H60", "000.00.*.H60", "*")
	doc := []byte("<congvan><so>12/UBND-VP</so></congvan>")
	sum := sha256.Sum256(doc)
	sp, err := a.Request(ctx, exchange.Request{Recipients: []string{"000.00.01.H60"}, Title: "Công văn", DataType: "edoc", Size: int64(len(doc)), SHA256: hex.EncodeToString(sum[:])})
	if err != nil {
		t.Fatal(err)
	}
	first := doc[:10]
	fs := sha256.Sum256(first)
	if _, err := a.Upload(ctx, sp.ExchangeID, 0, bytes.NewReader(first), int64(len(first)), hex.EncodeToString(fs[:])); err != nil {
		t.Fatal(err)
	}
	_, err = a.Complete(ctx, sp.ExchangeID, exchange.CompleteRequest{})
	wantAPIError(t, err, "exchange.size_mismatch")
	if ae := err.(*rest.APIError); !strings.Contains(ae.Detail, "declared size 38 but 10 bytes") {
		t.Errorf("detail does not give the sizes: %q", ae.Detail)
	}
	st, err := a.Status(ctx, sp.ExchangeID)
	if err != nil || st.Status != "requested" || !st.PurgedAt.IsZero() {
		t.Fatalf("after the refused completion: %+v %v", st, err)
	}
	off, err := a.UploadOffset(ctx, sp.ExchangeID)
	if err != nil || off != 10 {
		t.Fatalf("offset after refusal: %d %v", off, err)
	}
	tail := doc[10:]
	rs := sha256.Sum256(tail)
	if _, err := a.Upload(ctx, sp.ExchangeID, off, bytes.NewReader(tail), int64(len(tail)), hex.EncodeToString(rs[:])); err != nil {
		t.Fatal(err)
	}
	v, err := a.Complete(ctx, sp.ExchangeID, exchange.CompleteRequest{})
	if err != nil || v.Status != "accepted" {
		t.Fatalf("completion after the rest was uploaded: %+v %v", v, err)
	}
}
