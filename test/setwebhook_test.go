package test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus/service"
)

// adminPut sends an admin API PUT with the node's token (or none).
func adminPut(t *testing.T, n *node, path, body string, withToken bool) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, n.url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if withToken {
		req.Header.Set("Authorization", "Bearer "+n.svc.AdminToken())
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestSetWebhookAfterRegistration: an operator sets a webhook on a system
// registered without one (PUT /admin/v1/systems/{code}/webhook); the URL
// goes through the same checks and outbound policy as at registration, a
// refusal leaves the stored URL unchanged, and once set the recipient gets
// the documented body {"exchange_id","recipient","event":"notified"}.
func TestSetWebhookAfterRegistration(t *testing.T) {
	n := startNodeWith(t, "sqlite", func(c *service.Config) { c.Webhooks.AllowCIDRs = []string{"127.0.0.0/8"} })
	ctx := context.Background()
	bodies := make(chan []byte, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies <- b
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()
	n.system(t, "000.00.00.H60", "UBND tỉnh")
	n.system(t, "000.00.07.H60", "Sở Y tế")
	path := "/admin/v1/systems/000.00.07.H60/webhook"

	wantProblem(t, adminPut(t, n, path, `{"webhook_url":"`+hook.URL+`"}`, false), http.StatusUnauthorized, "admin.unauthorized")
	wantProblem(t, adminPut(t, n, path, `{"webhook_url":"http://169.254.169.254/latest/"}`, true), http.StatusUnprocessableEntity, "outbound.refused")
	wantProblem(t, adminPut(t, n, path, `{"webhook_url":"ftp://example.gov.vn/hook"}`, true), http.StatusUnprocessableEntity, "registry.invalid")
	wantProblem(t, adminPut(t, n, "/admin/v1/systems/000.00.09.H60/webhook", `{"webhook_url":"`+hook.URL+`"}`, true), http.StatusNotFound, "registry.system_not_found")
	if s, err := n.svc.Store().GetSystem(ctx, "000.00.07.H60"); err != nil || s.WebhookURL != "" {
		t.Fatalf("refused changes stored a webhook: %q %v", s.WebhookURL, err)
	}

	resp := adminPut(t, n, path, `{"webhook_url":"`+hook.URL+`/lgsp"}`, true)
	var out struct {
		System service.SystemJSON `json:"system"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil || out.System.WebhookURL != hook.URL+"/lgsp" {
		t.Fatalf("set webhook: %d %+v", resp.StatusCode, out)
	}
	id := sendSmall(t, n, "000.00.00.H60", "000.00.07.H60")
	var got map[string]any
	select {
	case b := <-bodies:
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("webhook body %q: %v", b, err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no webhook within 15s of setting it")
	}
	if want := map[string]any{"exchange_id": id, "recipient": "000.00.07.H60", "event": "notified"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("webhook body %v, want exactly %v", got, want)
	}

	// Removing it: the system polls or subscribes again.
	if resp := adminPut(t, n, path, `{"webhook_url":""}`, true); resp.StatusCode != http.StatusOK {
		t.Fatalf("clear webhook: %d", resp.StatusCode)
	}
	if s, err := n.svc.Store().GetSystem(ctx, "000.00.07.H60"); err != nil || s.WebhookURL != "" {
		t.Fatalf("webhook not removed: %q %v", s.WebhookURL, err)
	}
}

// TestCLISetWebhook: `lgsp systems set-webhook` changes the URL through the
// registry's outbound policy (a loopback literal is refused by default and
// nothing changes), and --clear removes it.
func TestCLISetWebhook(t *testing.T) {
	bin := buildLGSP(t)
	work := t.TempDir()
	lgsp := func(args ...string) (string, int) {
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = work, append(os.Environ(), "LGSP_CONFIG=", "LGSP_DATA_DIR=", "LGSP_WEBHOOKS_ALLOW_PRIVATE=")
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	show := func() string {
		out, code := lgsp("systems", "show", "--code", "000.00.07.H60")
		if code != 0 {
			t.Fatalf("systems show: %d\n%s", code, out)
		}
		var v struct {
			System service.SystemJSON `json:"system"`
		}
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("systems show: %v\n%s", err, out)
		}
		return v.System.WebhookURL
	}
	if out, code := lgsp("systems", "add", "--code", "000.00.07.H60", "--name", "Sở Y tế"); code != 0 {
		t.Fatalf("systems add: %d\n%s", code, out)
	}
	if out, code := lgsp("systems", "set-webhook", "--code", "000.00.07.H60", "--webhook", "https://qlvb.example.gov.vn/hook"); code != 0 || !strings.Contains(out, "https://qlvb.example.gov.vn/hook") {
		t.Fatalf("set-webhook: %d\n%s", code, out)
	}
	if out, code := lgsp("systems", "set-webhook", "--code", "000.00.07.H60", "--webhook", "http://127.0.0.1:9/hook"); code != 1 || !strings.Contains(out, "outbound.refused") {
		t.Fatalf("loopback webhook: exit %d\n%s", code, out)
	}
	if got := show(); got != "https://qlvb.example.gov.vn/hook" {
		t.Fatalf("after the refusal the webhook is %q", got)
	}
	if out, code := lgsp("systems", "set-webhook", "--code", "000.00.07.H60"); code != 2 {
		t.Fatalf("set-webhook without --webhook or --clear: exit %d\n%s", code, out)
	}
	if out, code := lgsp("systems", "set-webhook", "--code", "000.00.07.H60", "--clear"); code != 0 || !strings.Contains(out, "removed") {
		t.Fatalf("set-webhook --clear: %d\n%s", code, out)
	}
	if got := show(); got != "" {
		t.Fatalf("after --clear the webhook is %q", got)
	}
	if _, err := os.Stat(filepath.Join(work, "data", "lgsp.db")); err != nil {
		t.Fatal(err)
	}
}
