package auth

import (
	"bytes"
	"context"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
)

func newRegistry(t *testing.T) (*Registry, *memStore, *clock) {
	st := newMemStore()
	clk := &clock{t: time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)}
	return &Registry{Store: st, Vault: testVault(t), Now: clk.Now}, st, clk
}

func TestAddSystem(t *testing.T) {
	cases := []struct {
		name     string
		in       store.System
		code     bus.Code
		warnings int
	}{
		{name: "legacy code", in: store.System{Code: "000.00.01.H60", Name: "UBND tỉnh", Unit: "Văn phòng UBND", WebhookURL: "https://qlvb.example.gov.vn/hook"}},
		{name: "trimmed", in: store.System{Code: "  000.00.02.H60\t", Name: "  Sở Nội vụ  ", Contact: " a@b.vn "}},
		{name: "dotted code", in: store.System{Code: "H60.25.10", Name: "Hệ thống mới"}, warnings: 1},
		{name: "empty code", in: store.System{Name: "x"}, code: "registry.invalid_code"},
		{name: "bad code", in: store.System{Code: "000-00-01-H60", Name: "x"}, code: "registry.invalid_code"},
		{name: "long code", in: store.System{Code: strings.Repeat("A", 36), Name: "x"}, code: "registry.invalid_code"},
		{name: "no name", in: store.System{Code: "000.00.03.H60", Name: "   "}, code: "registry.invalid"},
		{name: "control char in name", in: store.System{Code: "000.00.03.H60", Name: "a\nb"}, code: "registry.invalid"},
		{name: "long unit", in: store.System{Code: "000.00.03.H60", Name: "x", Unit: strings.Repeat("ă", 256)}, code: "registry.invalid"},
		{name: "ftp webhook", in: store.System{Code: "000.00.03.H60", Name: "x", WebhookURL: "ftp://example.gov.vn/x"}, code: "registry.invalid"},
		{name: "relative webhook", in: store.System{Code: "000.00.03.H60", Name: "x", WebhookURL: "/hook"}, code: "registry.invalid"},
		{name: "webhook without host", in: store.System{Code: "000.00.03.H60", Name: "x", WebhookURL: "https:///hook"}, code: "registry.invalid"},
		{name: "webhook with password", in: store.System{Code: "000.00.03.H60", Name: "x", WebhookURL: "https://u:p@example.gov.vn/"}, code: "registry.invalid"},
		{name: "webhook not a URL", in: store.System{Code: "000.00.03.H60", Name: "x", WebhookURL: "http://[::1"}, code: "registry.invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reg, st, clk := newRegistry(t)
			s, warns, err := reg.AddSystem(context.Background(), tc.in)
			if tc.code != "" {
				wantCode(t, err, tc.code)
				if len(st.systems) != 0 {
					t.Fatal("refused system was stored")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(warns) != tc.warnings {
				t.Fatalf("warnings %v", warns)
			}
			if tc.warnings > 0 && !strings.Contains(warns[0], "QĐ 20/2020 dotted form") {
				t.Fatalf("warning %q", warns[0])
			}
			if s.Code != strings.TrimSpace(tc.in.Code) || s.Name != strings.TrimSpace(tc.in.Name) || s.Status != store.SystemActive || !s.CreatedAt.Equal(clk.Now()) {
				t.Fatalf("system %+v", s)
			}
			if !reflect.DeepEqual(st.systems[s.Code], s) {
				t.Fatalf("stored %+v, returned %+v", st.systems[s.Code], s)
			}
		})
	}
	reg, _, _ := newRegistry(t)
	in := store.System{Code: "000.00.01.H60", Name: "x"}
	if _, _, err := reg.AddSystem(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	_, _, err := reg.AddSystem(context.Background(), in)
	wantCode(t, err, "registry.system_exists")
}

func TestSuspendResume(t *testing.T) {
	reg, _, clk := newRegistry(t)
	ctx := context.Background()
	if _, _, err := reg.AddSystem(ctx, store.System{Code: "000.00.01.H60", Name: "x"}); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour)
	for _, step := range []struct {
		f    func(context.Context, string) error
		want string
	}{{reg.Suspend, store.SystemSuspended}, {reg.Suspend, store.SystemSuspended}, {reg.Resume, store.SystemActive}} {
		if err := step.f(ctx, "000.00.01.H60"); err != nil {
			t.Fatal(err)
		}
		s, err := reg.Get(ctx, "000.00.01.H60")
		if err != nil || s.Status != step.want || !s.UpdatedAt.Equal(clk.Now()) {
			t.Fatalf("%+v %v", s, err)
		}
	}
	wantCode(t, reg.Suspend(ctx, "000.00.09.H60"), "registry.system_not_found")
	_, err := reg.Get(ctx, "000.00.09.H60")
	wantCode(t, err, "registry.system_not_found")
	l, err := reg.List(ctx)
	if err != nil || len(l) != 1 {
		t.Fatal(l, err)
	}
}

// TestSetWebhook: a webhook set after registration is checked as at
// registration (scheme, user info, outbound policy); a refusal changes
// nothing, "" removes it, and every change runs OnChange.
func TestSetWebhook(t *testing.T) {
	reg, _, _ := newRegistry(t)
	changes := 0
	reg.OnChange = func() { changes++ }
	ctx := context.Background()
	if _, _, err := reg.AddSystem(ctx, store.System{Code: "000.00.01.H60", Name: "x"}); err != nil {
		t.Fatal(err)
	}
	s, err := reg.SetWebhook(ctx, "000.00.01.H60", " https://qlvb.example.gov.vn/hook ")
	if err != nil || s.WebhookURL != "https://qlvb.example.gov.vn/hook" || changes != 1 {
		t.Fatalf("%+v %v (changes %d)", s, err, changes)
	}
	for url, code := range map[string]bus.Code{
		"http://127.0.0.1/hook":         "outbound.refused",
		"http://[::1]:8080/hook":        "outbound.refused",
		"ftp://example.gov.vn/hook":     "registry.invalid",
		"https://u:p@example.gov.vn/h":  "registry.invalid",
		"https://example.gov.vn/h#frag": "registry.invalid",
	} {
		_, err := reg.SetWebhook(ctx, "000.00.01.H60", url)
		wantCode(t, err, code)
	}
	_, err = reg.SetWebhook(ctx, "000.00.09.H60", "https://example.gov.vn/h")
	wantCode(t, err, "registry.system_not_found")
	if s, _ := reg.Get(ctx, "000.00.01.H60"); s.WebhookURL != "https://qlvb.example.gov.vn/hook" {
		t.Fatalf("a refused change altered the webhook: %q", s.WebhookURL)
	}
	if s, err := reg.SetWebhook(ctx, "000.00.01.H60", ""); err != nil || s.WebhookURL != "" {
		t.Fatalf("clearing: %+v %v", s, err)
	}
	if s, _ := reg.Get(ctx, "000.00.01.H60"); s.WebhookURL != "" {
		t.Fatalf("webhook not removed: %q", s.WebhookURL)
	}
}

var accessKeyShape = regexp.MustCompile(`^AK[0-9A-Z]{20}$`)

func TestIssueVerifyRevoke(t *testing.T) {
	reg, st, clk := newRegistry(t)
	ctx := context.Background()
	if _, _, err := reg.AddSystem(ctx, store.System{Code: "000.00.01.H60", Name: "x"}); err != nil {
		t.Fatal(err)
	}
	ak, secret, err := reg.IssueKey(ctx, " 000.00.01.H60 ", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if !accessKeyShape.MatchString(ak) || len(secret) < 40 {
		t.Fatalf("access key %q, secret of %d chars", ak, len(secret))
	}
	k := st.keys[ak]
	if k.SystemCode != "000.00.01.H60" || k.Alg != AlgHMACSHA256 || k.Status != store.KeyActive || bytes.Contains(k.SecretEnc, []byte(secret)) {
		t.Fatalf("stored key %+v", k)
	}
	if plain, err := reg.Vault.Open(k.SecretEnc, SecretAAD(ak)); err != nil || string(plain) != secret {
		t.Fatalf("sealed secret does not open to the secret: %v", err)
	}
	ak2, secret2, _ := reg.IssueKey(ctx, "000.00.01.H60", clk.Now().Add(time.Hour))
	if ak2 == ak || secret2 == secret {
		t.Fatal("keys repeat")
	}

	nonces := NewMemoryNonces(100)
	nonces.Now = clk.Now
	v := &Verifier{Keys: st, Vault: reg.Vault, Nonces: nonces, Now: clk.Now}
	req := func(ak, secret, nonce string) error {
		r := signedExample(t, ak, nonce)
		if err := Sign(r, ak, secret, exBodyHash, clk.Now(), nonce); err != nil {
			t.Fatal(err)
		}
		_, err := v.Verify(r)
		return err
	}
	if err := req(ak, secret, "issued-key-nonce-01"); err != nil {
		t.Fatal(err)
	}
	if err := req(ak2, secret2, "issued-key-nonce-02"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, req(ak, secret2, "issued-key-nonce-03"), "auth.bad_signature")

	keys, err := reg.Keys(ctx, "000.00.01.H60")
	if err != nil || len(keys) != 2 {
		t.Fatal(keys, err)
	}
	for _, k := range keys {
		if k.SecretEnc != nil {
			t.Fatal("Keys returned a sealed secret")
		}
	}

	if err := reg.RevokeKey(ctx, ak); err != nil {
		t.Fatal(err)
	}
	wantCode(t, req(ak, secret, "issued-key-nonce-04"), "auth.key_revoked")
	if err := req(ak2, secret2, "issued-key-nonce-05"); err != nil {
		t.Fatal(err) // the other key still works: rotation without downtime
	}
	clk.Add(time.Hour)
	wantCode(t, req(ak2, secret2, "issued-key-nonce-06"), "auth.key_expired")

	if err := reg.Suspend(ctx, "000.00.01.H60"); err != nil {
		t.Fatal(err)
	}
	ak3, secret3, err := reg.IssueKey(ctx, "000.00.01.H60", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, req(ak3, secret3, "issued-key-nonce-07"), "auth.system_suspended")
	if err := reg.Resume(ctx, "000.00.01.H60"); err != nil {
		t.Fatal(err)
	}
	if err := req(ak3, secret3, "issued-key-nonce-07"); err != nil {
		t.Fatal(err) // the suspended attempt did not use the nonce up
	}

	wantCode(t, reg.RevokeKey(ctx, "AKNOSUCH"), "registry.key_not_found")
	_, _, err = reg.IssueKey(ctx, "000.00.09.H60", time.Time{})
	wantCode(t, err, "registry.system_not_found")
	_, _, err = reg.IssueKey(ctx, "000.00.01.H60", clk.Now())
	wantCode(t, err, "request.invalid")
	_, err = reg.Keys(ctx, "000.00.09.H60")
	wantCode(t, err, "registry.system_not_found")
}
