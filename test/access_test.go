package test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/adapters/rest"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/exchange"
	"github.com/tuyenquang/lgsp/bus/store"
)

// grant lets source send dataType to dest (kind "exchange"), or call the
// service dest with scope dataType (kind "service"). Exchanges are deny by
// default, so every test that sends one grants it first. Granting the same
// thing twice is a no-op.
func (n *node) grant(t *testing.T, kind, source, dest, dataType string) store.Grant {
	t.Helper()
	g := store.Grant{Kind: kind, Source: source}
	if kind == store.GrantService {
		g.Service, g.Scope = dest, dataType
	} else {
		g.Destination, g.DataType = dest, dataType
	}
	out, err := n.svc.Grants().Add(auth.WithActor(context.Background(), "test"), g)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestExchangeGrantMatrix walks who may send what to whom over real HTTP:
// each refusal has its code, names what is missing, and creates nothing.
func TestExchangeGrantMatrix(t *testing.T) {
	n := startNode(t, "sqlite")
	ctx := context.Background()
	a := n.system(t, "000.00.00.H60", "UBND tỉnh")
	n.system(t, "000.00.01.H60", "Văn phòng")
	n.system(t, "000.00.02.H60", "Sở Tài chính")
	g := n.grant(t, "exchange", "000.00.00.H60", "000.00.01.H60", "edoc")

	req := func(dataType string, to ...string) exchange.Request {
		return exchange.Request{Recipients: to, Title: "Công văn", DataType: dataType}
	}
	sent := func() int {
		t.Helper()
		list, err := n.svc.Exchange().Sent(ctx, "000.00.00.H60", 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	refused := func(t *testing.T, c *rest.Client, r exchange.Request, code string, detail ...string) {
		t.Helper()
		before := sent()
		_, err := c.Request(ctx, r)
		wantAPIError(t, err, code)
		var ae *rest.APIError
		errors.As(err, &ae)
		for _, d := range detail {
			if !strings.Contains(ae.Detail, d) {
				t.Fatalf("detail %q lacks %q", ae.Detail, d)
			}
		}
		if sent() != before {
			t.Fatalf("a refused request created an exchange")
		}
	}

	t.Run("allowed", func(t *testing.T) {
		if _, err := a.Request(ctx, req("edoc", "000.00.01.H60")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("recipient not granted", func(t *testing.T) {
		refused(t, a, req("edoc", "000.00.02.H60"), "auth.forbidden", "000.00.00.H60", "000.00.02.H60", "edoc")
	})
	t.Run("one of two recipients not granted", func(t *testing.T) {
		refused(t, a, req("edoc", "000.00.01.H60", "000.00.02.H60"), "auth.forbidden", "000.00.02.H60")
	})
	t.Run("wrong data type", func(t *testing.T) {
		refused(t, a, req("report", "000.00.01.H60"), "auth.forbidden", "report")
	})
	t.Run("grant for another source", func(t *testing.T) {
		b := n.clients["000.00.01.H60"]
		_, err := b.Request(ctx, req("edoc", "000.00.00.H60"))
		wantAPIError(t, err, "auth.forbidden")
	})
	t.Run("pattern grant", func(t *testing.T) {
		p := n.grant(t, "exchange", "000.00.0?.H60", "000.00.*.H60", "report")
		defer n.svc.Grants().Revoke(ctx, p.ID)
		if _, err := a.Request(ctx, req("report", "000.00.01.H60", "000.00.02.H60")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("suspended", func(t *testing.T) {
		if err := n.svc.Registry().Suspend(ctx, "000.00.00.H60"); err != nil {
			t.Fatal(err)
		}
		refused(t, a, req("edoc", "000.00.01.H60"), "auth.system_suspended")
		if err := n.svc.Registry().Resume(ctx, "000.00.00.H60"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("revoked key", func(t *testing.T) {
		ak, sk, err := n.svc.Registry().IssueKey(ctx, "000.00.00.H60", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		c := &rest.Client{BaseURL: n.url, AccessKey: ak, SecretKey: sk}
		if _, err := c.Request(ctx, req("edoc", "000.00.01.H60")); err != nil {
			t.Fatal(err)
		}
		if err := n.svc.Registry().RevokeKey(ctx, ak); err != nil {
			t.Fatal(err)
		}
		refused(t, c, req("edoc", "000.00.01.H60"), "auth.key_revoked")
	})
	t.Run("expired key after rotation without overlap", func(t *testing.T) {
		ak, sk, err := n.svc.Registry().IssueKey(ctx, "000.00.00.H60", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		rot, err := n.svc.Registry().RotateKey(ctx, ak, 0, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		old := &rest.Client{BaseURL: n.url, AccessKey: ak, SecretKey: sk}
		refused(t, old, req("edoc", "000.00.01.H60"), "auth.key_expired")
		fresh := &rest.Client{BaseURL: n.url, AccessKey: rot.AccessKey, SecretKey: rot.SecretKey}
		if _, err := fresh.Request(ctx, req("edoc", "000.00.01.H60")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("rotation with overlap keeps both keys", func(t *testing.T) {
		ak, sk, err := n.svc.Registry().IssueKey(ctx, "000.00.00.H60", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		rot, err := n.svc.Registry().RotateKey(auth.WithActor(ctx, "cli:vanthu"), ak, 72*time.Hour, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []*rest.Client{{BaseURL: n.url, AccessKey: ak, SecretKey: sk}, {BaseURL: n.url, AccessKey: rot.AccessKey, SecretKey: rot.SecretKey}} {
			if _, err := c.Request(ctx, req("edoc", "000.00.01.H60")); err != nil {
				t.Fatalf("%s during the overlap: %v", c.AccessKey, err)
			}
		}
		hist, err := n.svc.Registry().History(ctx, "000.00.00.H60", 0)
		if err != nil {
			t.Fatal(err)
		}
		var rotated bool
		for _, e := range hist {
			rotated = rotated || e.Action == store.KeyEventRotated && e.AccessKey == ak && e.Actor == "cli:vanthu" && strings.Contains(e.Detail, rot.AccessKey)
		}
		if !rotated {
			t.Fatalf("history lacks the rotation of %s: %+v", ak, hist)
		}
	})
	t.Run("revoked grant", func(t *testing.T) {
		if err := n.svc.Grants().Revoke(ctx, g.ID); err != nil {
			t.Fatal(err)
		}
		refused(t, a, req("edoc", "000.00.01.H60"), "auth.forbidden")
	})
}

// TestAdminGrants adds, lists and revokes a grant through the admin API,
// which records "admin-api" as the actor.
func TestAdminGrants(t *testing.T) {
	n := startNode(t, "sqlite")
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
	out := call("POST", "/admin/v1/grants", `{"kind":"exchange","source":"000.00.00.H60","destination":"000.00.*.H60","data_type":"edoc"}`, http.StatusCreated)
	g := out["grant"].(map[string]any)
	if g["created_by"] != "admin-api" || !strings.HasPrefix(g["id"].(string), "gr_") {
		t.Fatalf("grant %v", g)
	}
	call("POST", "/admin/v1/grants", `{"kind":"exchange","source":"bad source!","destination":"x","data_type":"edoc"}`, http.StatusUnprocessableEntity)
	list := call("GET", "/admin/v1/grants?source=000.00.00.H60", "", http.StatusOK)["grants"].([]any)
	if len(list) != 1 {
		t.Fatalf("grants %v", list)
	}
	call("POST", "/admin/v1/grants/"+g["id"].(string)+"/revoke", "", http.StatusOK)
	call("POST", "/admin/v1/grants/gr_missing/revoke", "", http.StatusNotFound)
	if list := call("GET", "/admin/v1/grants", "", http.StatusOK)["grants"].([]any); len(list) != 0 {
		t.Fatalf("revoked grant still listed: %v", list)
	}
}
