package test

import (
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
)

// TestAdminTokenBearerOnly: the admin API takes its token only as
// "Authorization: Bearer <token>"; a bare token or a wrong one is refused
// with admin.unauthorized, and the refusal does not name the token file.
func TestAdminTokenBearerOnly(t *testing.T) {
	n := startNode(t, "sqlite")
	tok := n.svc.AdminToken()
	call := func(authz string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, n.url+"/admin/v1/routes", nil)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	for _, authz := range []string{"", tok, "bearer " + tok, "Bearer  " + tok, "Basic " + tok, "Bearer " + tok + "x"} {
		resp, body := call(authz)
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("X-LGSP-Error-Code") != "admin.unauthorized" {
			t.Fatalf("Authorization %q: %d %s, want 401 admin.unauthorized", redact(authz, tok), resp.StatusCode, resp.Header.Get("X-LGSP-Error-Code"))
		}
		for _, leak := range []string{"admin.token", n.dataDir, tok} {
			if strings.Contains(body, leak) {
				t.Fatalf("refusal of %q names %q: %s", redact(authz, tok), redact(leak, tok), redact(body, tok))
			}
		}
	}
	if resp, body := call("Bearer " + tok); resp.StatusCode != http.StatusOK {
		t.Fatalf("Bearer token: %d %s", resp.StatusCode, body)
	}
}

func redact(s, secret string) string { return strings.ReplaceAll(s, secret, "<token>") }

// TestRequestIDValidated: a client's X-Request-Id is echoed and logged only
// when it is 1–128 characters of [A-Za-z0-9._:-]; any other value is
// replaced by a generated id and never reaches the log.
func TestRequestIDValidated(t *testing.T) {
	n := startNode(t, "sqlite")
	get := func(rid string) string {
		req, _ := http.NewRequest(http.MethodGet, n.url+"/healthz", nil)
		req.Header.Set("X-Request-Id", rid)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("X-Request-Id")
	}
	good := "client-42.retry_1:abc"
	if got := get(good); got != good {
		t.Fatalf("valid id %q echoed as %q", good, got)
	}
	if got := get(strings.Repeat("a", 128)); got != strings.Repeat("a", 128) {
		t.Fatalf("128-character id not kept: %q", got)
	}
	bad := []string{
		strings.Repeat("b", 129),
		`evil" level=error msg="forged`,
		"with space",
		"đơn-vị",
		"a/b",
		"x{y}",
		"<script>",
	}
	for _, rid := range bad {
		got := get(rid)
		if got == rid || !strings.HasPrefix(got, "rq") || len(got) > 128 {
			t.Fatalf("invalid id %q answered as %q, want a generated rq… id", rid, got)
		}
	}
	// The access log of the last request is written when it ends; wait for
	// it, then check that no bad id reached the log file.
	eventually(t, "access log of the requests", func() (bool, error) {
		b, err := os.ReadFile(n.logFile)
		return strings.Count(string(b), `"path":"/healthz"`) >= 2+len(bad), err
	})
	logs, err := os.ReadFile(n.logFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(logs), good) {
		t.Fatalf("valid id %q not in the log", good)
	}
	// Markers that survive JSON escaping of the log line.
	for _, m := range []string{strings.Repeat("b", 129), "forged", "with space", "đơn-vị", "a/b", "x{y}", "<script>"} {
		if strings.Contains(string(logs), m) {
			t.Fatalf("invalid id with %q reached the log", m)
		}
	}
}
