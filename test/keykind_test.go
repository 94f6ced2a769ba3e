package test

// Issue #8: an RSA key's public key is never usable as a shared secret. A
// system's certificate is public, so its public key (PEM) offered wherever
// a secret is expected must be refused with auth.key_kind and grant
// nothing; webhooks to such a system are signed by the platform key.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/adapters/qlvb"
	"github.com/tuyenquang/lgsp/adapters/rest"
	"github.com/tuyenquang/lgsp/adapters/soap"
	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/wsdl/gen/lgspedoc"
)

const (
	rsaSystem = "000.00.21.H60" // signs LGSP-RSA-SHA256 only; its certificate is public
	rsaCaller = "000.00.22.H60" // an HMAC system that calls a service rsaSystem owns
)

// rsaOnlySystem registers code with the public key of testdata and no
// secret, and returns its access key and the public PEM.
func rsaOnlySystem(t *testing.T, n *node, code, webhook string) (string, string) {
	t.Helper()
	ctx := context.Background()
	reg := n.svc.Registry()
	if _, _, err := reg.AddSystem(ctx, store.System{Code: code, Name: "Hệ thống ký RSA", WebhookURL: webhook}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.AllowAlg(ctx, code, auth.AlgRSASHA256); err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(filepath.Join("..", "bus", "auth", "testdata", "rsa-example.pub"))
	if err != nil {
		t.Fatal(err)
	}
	ak, err := reg.RegisterRSAKey(ctx, code, pub, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return ak, string(pub)
}

// countRows counts the rows of a table in the node's SQLite database.
func countRows(t *testing.T, n *node, table string) int {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(n.dataDir, "*.db"))
	if len(files) != 1 {
		t.Fatalf("SQLite files in %s: %v", n.dataDir, files)
	}
	db, err := sql.Open("sqlite", "file:"+files[0]+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var c int
	if err := db.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPublicKeyIsNeverASecret(t *testing.T) {
	t.Setenv(qlvb.PasswordTextEnv, rsaSystem)
	var destCalls atomic.Int64
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		destCalls.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	defer dest.Close()
	services := fmt.Sprintf("services:\n  - name: ho-so-rsa\n    owner: %q\n    endpoint: %q\n    scopes: [read]\n    timeout: 2s\n", rsaSystem, dest.URL)
	n := startNodeWith(t, "sqlite", func(c *service.Config) {
		if err := os.WriteFile(filepath.Join(c.RoutesDir, "dich-vu.yaml"), []byte(services), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	ctx := context.Background()
	ak, pemText := rsaOnlySystem(t, n, rsaSystem, "")
	caller := n.system(t, rsaCaller, "Cổng dịch vụ công")
	if err := n.svc.Store().SetLegacyToken(ctx, rsaSystem, true, time.Now()); err != nil {
		t.Fatal(err)
	}
	do := func(req *http.Request) *http.Response {
		t.Helper()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}

	t.Run("POST /token", func(t *testing.T) {
		for _, basic := range []bool{true, false} {
			form := url.Values{"grant_type": {"client_credentials"}}
			if !basic {
				form.Set("client_id", ak)
				form.Set("client_secret", pemText)
			}
			req, _ := http.NewRequest(http.MethodPost, n.url+"/token", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if basic {
				req.SetBasicAuth(ak, pemText)
			}
			resp := do(req)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("X-LGSP-Error-Code") != "auth.key_kind" || bytes.Contains(body, []byte("access_token")) {
				t.Fatalf("token for a public key (basic %v): %d %s %s", basic, resp.StatusCode, resp.Header.Get("X-LGSP-Error-Code"), body)
			}
		}
		if c := countRows(t, n, "bearer_tokens"); c != 0 {
			t.Fatalf("%d bearer tokens were stored", c)
		}
	})

	t.Run("bearer token bound to a public key", func(t *testing.T) {
		// A token obtained through the hole before it was closed.
		tok := "lgst_" + bus.RandomToken(32)
		sum := sha256.Sum256([]byte(tok))
		now := time.Now().UTC()
		if err := n.svc.Store().CreateToken(ctx, store.Token{Hash: hex.EncodeToString(sum[:]), SystemCode: rsaSystem, AccessKey: ak, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, n.url+"/v1/inbox", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		wantProblem(t, do(req), http.StatusUnauthorized, "auth.key_kind")
	})

	t.Run("lgspaccesstoken", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, n.url+"/v1/inbox", nil)
		req.Header.Set(auth.HeaderLegacyToken, auth.EncodeLegacyToken(auth.LegacyCredentials{AccessKey: ak, SecretKey: pemText}))
		wantProblem(t, do(req), http.StatusUnauthorized, "auth.key_kind")
	})

	t.Run("REST signature with an HMAC algorithm under the public key", func(t *testing.T) {
		for _, alg := range []string{auth.AlgHMACSHA256, auth.AlgHMACSHA1} {
			req, _ := http.NewRequest(http.MethodGet, n.url+"/v1/inbox", nil)
			if err := auth.SignWith(alg, req, ak, []byte(pemText), auth.EmptySHA256, time.Now(), ""); err != nil {
				t.Fatal(err)
			}
			wantProblem(t, do(req), http.StatusUnauthorized, "auth.key_kind")
		}
	})

	t.Run("SOAP UsernameToken", func(t *testing.T) {
		for _, digest := range []bool{true, false} {
			c, err := soap.NewClient(n.url+qlvb.Path, soap.WithTimeout(30*time.Second), soap.WithUsernameToken(ak, pemText, digest))
			if err != nil {
				t.Fatal(err)
			}
			var resp lgspedoc.GetReceivedEdocListResponse
			err = c.Call(ctx, lgspedoc.ActionGetReceivedEdocList, &lgspedoc.GetReceivedEdocList{}, &resp)
			wantSOAPFault(t, err, "auth.key_kind")
		}
	})

	t.Run("calls forwarded to a service the RSA system owns", func(t *testing.T) {
		adminCall(t, n, http.MethodPost, "/admin/v1/grants", map[string]string{"kind": "service", "source": rsaCaller, "service": "ho-so-rsa", "scope": "read"}, http.StatusCreated)
		sess, err := caller.OpenSession(ctx, rest.OpenSessionRequest{Service: "ho-so-rsa", Scope: "read"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = caller.CallService(ctx, sess, http.MethodGet, "x", nil, nil)
		wantAPICode(t, err, "service.unreachable")
		if c := destCalls.Load(); c != 0 {
			t.Fatalf("the destination got %d calls signed with the owner's public key as a secret", c)
		}
	})

	// The real client, signing with its private key, still works.
	priv, err := os.ReadFile(filepath.Join("..", "bus", "auth", "testdata", "rsa-example.key"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, n.url+"/v1/inbox", nil)
	if err := auth.SignWith(auth.AlgRSASHA256, req, ak, priv, auth.EmptySHA256, time.Now(), ""); err != nil {
		t.Fatal(err)
	}
	if resp := do(req); resp.StatusCode != http.StatusOK {
		t.Fatalf("RSA-signed inbox: %d", resp.StatusCode)
	}
}

// TestWebhookToRSASystem: the webhook of a system whose newest key is RSA
// is signed LGSP-RSA-SHA256 by the platform key: it verifies with the
// public key GET /v1/platform/keys publishes, and an HMAC under the
// system's public PEM (what anyone could compute) does not match it.
func TestWebhookToRSASystem(t *testing.T) {
	n := startNodeWith(t, "sqlite", func(c *service.Config) { c.Webhooks.AllowCIDRs = []string{"127.0.0.0/8"} }) // the receiver is on loopback
	got := make(chan *http.Request, 4)
	bodies := make(chan []byte, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- r
		bodies <- body
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()
	n.system(t, "000.00.00.H60", "UBND tỉnh")
	ak, pemText := rsaOnlySystem(t, n, rsaSystem, hook.URL+"/lgsp/events")
	sendSmall(t, n, "000.00.00.H60", rsaSystem)

	var r *http.Request
	var body []byte
	select {
	case r = <-got:
		body = <-bodies
	case <-time.After(20 * time.Second):
		t.Fatal("no webhook within 20s")
	}
	a, err := auth.ParseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(n.url + "/v1/platform/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var pub struct {
		Keys []auth.PlatformPublicKey `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&pub); err != nil || resp.StatusCode != http.StatusOK || len(pub.Keys) != 1 {
		t.Fatalf("GET /v1/platform/keys: %d %+v %v", resp.StatusCode, pub, err)
	}
	pk := pub.Keys[0]
	if a.Alg != auth.AlgRSASHA256 || a.AccessKey != pk.KeyID || pk.Alg != auth.AlgRSASHA256 || a.AccessKey == ak {
		t.Fatalf("webhook Authorization %s %s, published key %s %s", a.Alg, a.AccessKey, pk.KeyID, pk.Alg)
	}
	sum := sha256.Sum256(body)
	if hex.EncodeToString(sum[:]) != r.Header.Get(auth.HeaderContentSHA256) {
		t.Fatal("body hash does not match")
	}
	canon, err := auth.CanonicalRequestFor(a.Alg, r, a.SignedHeaders, r.Header.Get(auth.HeaderTimestamp), r.Header.Get(auth.HeaderNonce), r.Header.Get(auth.HeaderContentSHA256))
	if err != nil {
		t.Fatal(err)
	}
	key, err := auth.ParseRSAPublicKey([]byte(pk.PublicKey))
	if err != nil || key.N.BitLen() < 3072 {
		t.Fatalf("published key: %v", err)
	}
	h := sha256.Sum256([]byte(canon))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, h[:], a.Signature); err != nil {
		t.Fatalf("the webhook does not verify with the published platform key: %v", err)
	}
	// The openssl check docs/auth.md gives receivers.
	dir := t.TempDir()
	for name, b := range map[string][]byte{"canonical.txt": []byte(canon), "sig.bin": a.Signature, "lgsp-platform.pem": []byte(pk.PublicKey)} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("openssl", "dgst", "-sha256", "-verify", "lgsp-platform.pem", "-signature", "sig.bin", "canonical.txt")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "Verified OK") {
		t.Fatalf("openssl dgst -verify: %s %v", out, err)
	}
	for _, c := range []string{canon, strings.Replace(canon, auth.AlgRSASHA256, auth.AlgHMACSHA256, 1)} {
		m := hmac.New(sha256.New, []byte(pemText))
		m.Write([]byte(c))
		if hmac.Equal(m.Sum(nil), a.Signature) {
			t.Fatal("the webhook is an HMAC under the system's public key")
		}
	}
	// The same key on every call and from the store: created once.
	again := httpGetJSON(n.url + "/v1/platform/keys")
	if b, _ := json.Marshal(again["keys"]); !strings.Contains(string(b), pk.KeyID) {
		t.Fatalf("platform key changed: %s", b)
	}
}
