package test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tuyenquang/lgsp/adapters/rest"
	"github.com/tuyenquang/lgsp/bus/exchange"
	"github.com/tuyenquang/lgsp/bus/store"
)

// TestRequireSHA256Enforced: on a route whose validate step has
// require_sha256: true (the test route "van-ban"), an exchange whose
// sender declared no SHA-256 — neither in the request nor at completion —
// is refused at completion with exchange.sha256_required. The refusal
// changes nothing: the exchange stays requested with its content, and a
// completion that declares the hash is then accepted. Both the signed REST
// path and the bearer-token path (no X-LGSP-Content-SHA256 on the upload).
func TestRequireSHA256Enforced(t *testing.T) {
	n := startNode(t, "sqlite")
	ctx := context.Background()
	src := n.system(t, "000.00.00.H60", "UBND tỉnh")
	n.system(t, "000.00.01.H60", "Văn phòng")
	n.grant(t, "exchange", "000.00.00.H60", "000.00.01.H60", "*")
	payload := []byte("<VanBan>nội dung</VanBan>")
	sum := sha256.Sum256(payload)
	sumHex := hex.EncodeToString(sum[:])
	req := exchange.Request{Recipients: []string{"000.00.01.H60"}, Title: "Công văn", DataType: "edoc", MediaType: "application/xml"}

	t.Run("signed", func(t *testing.T) {
		sp, err := src.Request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := src.UploadBytes(ctx, sp.ExchangeID, payload); err != nil {
			t.Fatal(err)
		}
		_, err = src.Complete(ctx, sp.ExchangeID, exchange.CompleteRequest{})
		wantAPIError(t, err, "exchange.sha256_required")
		wantRequested(t, n, sp.ExchangeID, int64(len(payload)))
		v, err := src.Complete(ctx, sp.ExchangeID, exchange.CompleteRequest{SHA256: sumHex})
		if err != nil || v.Status != store.ExchangeAccepted {
			t.Fatalf("completion with sha256: %+v %v", v, err)
		}
		// Declared in the request (F2) is as good as at completion.
		r2 := req
		r2.SHA256 = sumHex
		sp, err = src.Request(ctx, r2)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := src.UploadBytes(ctx, sp.ExchangeID, payload); err != nil {
			t.Fatal(err)
		}
		if v, err := src.Complete(ctx, sp.ExchangeID, exchange.CompleteRequest{}); err != nil || v.Status != store.ExchangeAccepted {
			t.Fatalf("completion after sha256 in the request: %+v %v", v, err)
		}
	})

	t.Run("bearer", func(t *testing.T) {
		tok := bearerToken(t, n, src)
		call := func(method, path, ctype string, body []byte, hdr map[string]string) *http.Response {
			r, _ := http.NewRequest(method, n.url+path, bytes.NewReader(body))
			r.Header.Set("Authorization", "Bearer "+tok)
			if ctype != "" {
				r.Header.Set("Content-Type", ctype)
			}
			for k, v := range hdr {
				r.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { resp.Body.Close() })
			return resp
		}
		b, _ := json.Marshal(req)
		resp := call(http.MethodPost, "/v1/exchanges", "application/json", b, nil)
		var sp exchange.Space
		if err := json.NewDecoder(resp.Body).Decode(&sp); err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("request with a bearer token: %d %v", resp.StatusCode, err)
		}
		resp = call(http.MethodPut, "/v1/exchanges/"+sp.ExchangeID+"/content", "application/octet-stream", payload, map[string]string{rest.HeaderUploadOffset: "0"})
		if resp.StatusCode/100 != 2 {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("upload with a bearer token: %d %s", resp.StatusCode, b)
		}
		wantProblem(t, call(http.MethodPost, "/v1/exchanges/"+sp.ExchangeID+"/complete", "application/json", []byte(`{}`), nil), http.StatusUnprocessableEntity, "exchange.sha256_required")
		wantRequested(t, n, sp.ExchangeID, int64(len(payload)))
		resp = call(http.MethodPost, "/v1/exchanges/"+sp.ExchangeID+"/complete", "application/json", []byte(`{"sha256":"`+sumHex+`"}`), nil)
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("bearer completion with sha256: %d %s", resp.StatusCode, b)
		}
	})

	// A route without require_sha256 still takes an exchange without one.
	sp, err := src.Request(ctx, exchange.Request{Recipients: []string{"000.00.01.H60"}, Title: "Báo cáo", DataType: "report"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.UploadBytes(ctx, sp.ExchangeID, payload); err != nil {
		t.Fatal(err)
	}
	if v, err := src.Complete(ctx, sp.ExchangeID, exchange.CompleteRequest{}); err != nil || v.Status != store.ExchangeAccepted {
		t.Fatalf("route without require_sha256: %+v %v", v, err)
	}
}

// sumHex is the lower-case hex SHA-256 a sender declares.
func sumHex(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// wantRequested checks that a refused completion left the exchange
// requested with its content.
func wantRequested(t *testing.T, n *node, id string, received int64) {
	t.Helper()
	ex, err := n.svc.Store().GetExchange(context.Background(), id)
	if err != nil || ex.Status != store.ExchangeRequested || ex.Received != received || !ex.PurgedAt.IsZero() {
		t.Fatalf("after the refusal: status %s, received %d, purged %v (%v)", ex.Status, ex.Received, ex.PurgedAt, err)
	}
}

// bearerToken asks POST /token for a client-credentials bearer token.
func bearerToken(t *testing.T, n *node, c *rest.Client) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, n.url+"/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(c.AccessKey, c.SecretKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok rest.TokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		t.Fatalf("token: %d %+v %v", resp.StatusCode, tok, err)
	}
	return tok.AccessToken
}
