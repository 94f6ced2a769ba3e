package auth

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/test/testenv"
)

// accessMem adds the access methods of store.Store to memStore.
type accessMem struct {
	*memStore
	amu    sync.Mutex
	events []store.KeyEvent
	grants []store.Grant
}

var (
	_ AuditStore = (*accessMem)(nil)
	_ GrantStore = (*accessMem)(nil)
	_ AuditStore = store.Store(nil)
	_ GrantStore = store.Store(nil)
)

func (m *accessMem) AddKeyEvents(_ context.Context, evs ...store.KeyEvent) error {
	m.amu.Lock()
	defer m.amu.Unlock()
	m.events = append(m.events, evs...)
	return nil
}

func (m *accessMem) KeyEvents(_ context.Context, system string, _ int) ([]store.KeyEvent, error) {
	m.amu.Lock()
	defer m.amu.Unlock()
	var out []store.KeyEvent
	for _, e := range m.events {
		if system == "" || e.System == system {
			out = append(out, e)
		}
	}
	return out, nil
}

func (m *accessMem) RotateKey(ctx context.Context, r store.Rotation) error {
	old, err := m.GetKey(ctx, r.Old)
	if err != nil {
		return err
	}
	if err := m.CreateKey(ctx, r.New); err != nil {
		return err
	}
	m.mu.Lock()
	old.ExpiresAt = r.OldExpires
	m.keys[r.Old] = old
	m.mu.Unlock()
	return m.AddKeyEvents(ctx, r.Events...)
}

func (m *accessMem) SetSystemAlgs(ctx context.Context, code string, algs []string, evs ...store.KeyEvent) error {
	m.mu.Lock()
	s, ok := m.systems[code]
	if !ok {
		m.mu.Unlock()
		return bus.ErrSystemNotFound.New("%s", code)
	}
	s.Algs = slices.Clone(algs)
	m.systems[code] = s
	m.mu.Unlock()
	return m.AddKeyEvents(ctx, evs...)
}

func (m *accessMem) CreateGrant(_ context.Context, g store.Grant) (store.Grant, error) {
	m.amu.Lock()
	defer m.amu.Unlock()
	m.grants = append(m.grants, g)
	return g, nil
}

func (m *accessMem) ListGrants(_ context.Context, f store.GrantFilter) ([]store.Grant, error) {
	m.amu.Lock()
	defer m.amu.Unlock()
	var out []store.Grant
	for _, g := range m.grants {
		if (f.Kind == "" || g.Kind == f.Kind) && (f.Source == "" || g.Source == f.Source) && (f.Revoked || g.Active()) {
			out = append(out, g)
		}
	}
	return out, nil
}

func (m *accessMem) RevokeGrant(_ context.Context, id string, at time.Time, by string) error {
	m.amu.Lock()
	defer m.amu.Unlock()
	for i := range m.grants {
		if m.grants[i].ID == id {
			m.grants[i].RevokedAt, m.grants[i].RevokedBy = at, by
			return nil
		}
	}
	return bus.ErrGrantNotFound.New("%s", id)
}

// accessFixture is newFixture with an audit store and limits.
func accessFixture(t *testing.T) (*fixture, *accessMem) {
	f := newFixture(t)
	am := &accessMem{memStore: f.st}
	f.reg.Audit = am
	return f, am
}

// The worked examples of LGSP-HMAC-SHA1 and LGSP-RSA-SHA256 in
// docs/auth.md: the request, timestamp and nonce of the HMAC-SHA256
// example; only the first line of the canonical request and the signature
// change.
const (
	exSHA1Signature = "26091515989578eafa85af0e692ad7c517d2b3bf"
	exRSAAccessKey  = "RKD55CKJS1KCHQ5TW0HCT0"
	exRSASignature  = "020b6c50e15a2c3905e074aabd7cf3f0cc3a506109f1cac653852ac8a8961090e2cfce0ba47f1c049f3c4dcc5be70647dce2485e35a0c5cec00f7178edee449661b44fee2ba080016f385674c81e5bdc54063ff493bc3d18ea7b74856a86869445c2013a8079e1249c7784ad395a798d232e90c6794b96b6d9dc06a76c5d813f4dd253d0a79904b0ef3f00076258119964b67ac91a218fbb80b17fb3ee7d55884f55e82978bae1fd92f2d1a774846ea6e7b6858c3e7415cff303a6e6653a28a9596e7c27f07ae11993c1b1b8810a7cde1c9fcbf5d40e8e7fc5047233ef4dea302ef6f624c042b35044a604c112a375519640c5977af80031f37b68ceff202169"
)

func canonicalAs(alg string) string {
	return alg + strings.TrimPrefix(exCanonical, AlgHMACSHA256)
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWorkedExamplesOtherAlgs(t *testing.T) {
	doc := readDoc(t)
	priv := readTestdata(t, "rsa-example.key")
	for _, tc := range []struct {
		alg, accessKey, sig string
		key                 []byte
	}{
		{AlgHMACSHA1, exAccessKey, exSHA1Signature, []byte(exSecret)},
		{AlgRSASHA256, exRSAAccessKey, exRSASignature, priv},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			r := exampleRequest(t)
			if err := SignWith(tc.alg, r, tc.accessKey, tc.key, exBodyHash, time.Unix(1790000000, 0), exNonce); err != nil {
				t.Fatal(err)
			}
			auth := tc.alg + " Credential=" + tc.accessKey + ", SignedHeaders=content-type;host, Signature=" + tc.sig
			if got := r.Header.Get(HeaderAuthorization); got != auth {
				t.Fatalf("Authorization = %q, want %q", got, auth)
			}
			for name, v := range map[string]string{"canonical": "```text\n" + canonicalAs(tc.alg) + "\n```", "signature": tc.sig, "authorization": "Authorization: " + auth + "\n"} {
				if !strings.Contains(doc, v) {
					t.Errorf("docs/auth.md lacks the %s %q", name, v)
				}
			}
		})
	}
	pub, err := ParseRSAPublicKey(readTestdata(t, "rsa-example.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if got := RSAAccessKey(pub); got != exRSAAccessKey {
		t.Fatalf("RSA access key = %s, want %s", got, exRSAAccessKey)
	}
	if !strings.Contains(doc, string(readTestdata(t, "rsa-example.pub"))) {
		t.Error("docs/auth.md lacks the example public key")
	}
}

// TestWorkedExamplesOpenSSL checks the examples with OpenSSL: HMAC-SHA1
// with `openssl dgst -sha1 -hmac`, the RSA signature with `openssl dgst
// -sha256 -verify` (and -sign gives the same bytes: PKCS#1 v1.5 is
// deterministic).
func TestWorkedExamplesOpenSSL(t *testing.T) {
	testenv.RequireTool(t, "openssl")
	run := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command("openssl", args...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if got := strings.Fields(run(canonicalAs(AlgHMACSHA1), "dgst", "-sha1", "-hmac", exSecret, "-r"))[0]; got != exSHA1Signature {
		t.Errorf("openssl HMAC-SHA1 = %s, want %s", got, exSHA1Signature)
	}
	dir := t.TempDir()
	sig, _ := hex.DecodeString(exRSASignature)
	sigFile := filepath.Join(dir, "sig.bin")
	if err := os.WriteFile(sigFile, sig, 0o600); err != nil {
		t.Fatal(err)
	}
	pub, priv := filepath.Join("testdata", "rsa-example.pub"), filepath.Join("testdata", "rsa-example.key")
	if out := run(canonicalAs(AlgRSASHA256), "dgst", "-sha256", "-verify", pub, "-signature", sigFile); !strings.Contains(out, "Verified OK") {
		t.Errorf("openssl verify: %s", out)
	}
	cmd := exec.Command("openssl", "dgst", "-sha256", "-sign", priv)
	cmd.Stdin = strings.NewReader(canonicalAs(AlgRSASHA256))
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(out); got != exRSASignature {
		t.Errorf("openssl -sign = %s, want %s", got, exRSASignature)
	}
}

// TestVerifyOtherAlgs: a key of each algorithm is accepted once its system
// may use the algorithm, and refused with auth.algorithm otherwise.
func TestVerifyOtherAlgs(t *testing.T) {
	f, am := accessFixture(t)
	ctx := WithActor(context.Background(), "cli:test")
	const sha1Key = "AKSHA1EXAMPLE00000001"
	putKey(t, f.st, f.reg.Vault, store.Key{AccessKey: sha1Key, SystemCode: exSystem, Alg: AlgHMACSHA1}, exSecret)
	send := func(alg, ak string, key []byte) error {
		r := exampleRequest(t)
		if err := SignWith(alg, r, ak, key, exBodyHash, f.clk.Now(), ""); err != nil {
			t.Fatal(err)
		}
		_, err := f.v.Verify(r)
		return err
	}
	wantCode(t, send(AlgHMACSHA1, sha1Key, []byte(exSecret)), "auth.algorithm") // off by default
	if _, _, err := f.reg.IssueKeyAlg(ctx, exSystem, AlgHMACSHA1, time.Time{}); bus.CodeOf(err) != "request.invalid" {
		t.Fatalf("issuing an HMAC-SHA1 key before it is allowed: %v", err)
	}
	if _, err := f.reg.RegisterRSAKey(ctx, exSystem, readTestdata(t, "rsa-example.pub"), time.Time{}); bus.CodeOf(err) != "request.invalid" {
		t.Fatalf("registering an RSA key before it is allowed: %v", err)
	}
	algs, err := f.reg.AllowAlg(ctx, exSystem, AlgHMACSHA1)
	if err != nil || strings.Join(algs, ",") != "LGSP-HMAC-SHA1,LGSP-HMAC-SHA256" {
		t.Fatalf("AllowAlg = %v, %v", algs, err)
	}
	wantCode(t, send(AlgHMACSHA1, sha1Key, []byte(exSecret)), "")
	if _, err := f.reg.AllowAlg(ctx, exSystem, AlgRSASHA256); err != nil {
		t.Fatal(err)
	}
	ak, err := f.reg.RegisterRSAKey(ctx, exSystem, readTestdata(t, "rsa-example.pub"), time.Time{})
	if err != nil || ak != exRSAAccessKey {
		t.Fatalf("RegisterRSAKey = %s, %v", ak, err)
	}
	if _, err := f.reg.RegisterRSAKey(ctx, exSystem, readTestdata(t, "rsa-example.pub"), time.Time{}); bus.CodeOf(err) != "request.invalid" {
		t.Fatalf("registering the same public key twice: %v", err)
	}
	priv := readTestdata(t, "rsa-example.key")
	wantCode(t, send(AlgRSASHA256, exRSAAccessKey, priv), "")
	// An RSA signature under an HMAC key, and a bad RSA signature.
	wantCode(t, send(AlgRSASHA256, exAccessKey, priv), "auth.algorithm")
	r := exampleRequest(t)
	if err := SignWith(AlgRSASHA256, r, exRSAAccessKey, priv, exBodyHash, f.clk.Now(), ""); err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "text/plain")
	_, err = f.v.Verify(r)
	wantCode(t, err, "auth.bad_signature")
	// Denying the algorithm again refuses its keys at once.
	if _, err := f.reg.DenyAlg(ctx, exSystem, AlgHMACSHA1); err != nil {
		t.Fatal(err)
	}
	wantCode(t, send(AlgHMACSHA1, sha1Key, []byte(exSecret)), "auth.algorithm")
	if _, err := f.reg.AllowAlg(ctx, exSystem, "LGSP-HMAC-MD5"); bus.CodeOf(err) != "request.invalid" {
		t.Fatalf("allowing an unknown algorithm: %v", err)
	}
	var actions []string
	for _, e := range am.events {
		actions = append(actions, e.Action+":"+e.Actor)
	}
	want := "algs_changed:cli:test algs_changed:cli:test registered:cli:test algs_changed:cli:test"
	if got := strings.Join(actions, " "); got != want {
		t.Fatalf("key events %s, want %s", got, want)
	}
}

func TestParsePublicKeyForms(t *testing.T) {
	pemKey := readTestdata(t, "rsa-example.pub")
	for name, b := range map[string][]byte{
		"empty":       nil,
		"private key": readTestdata(t, "rsa-example.key"),
		"garbage":     []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
	} {
		if _, err := ParseRSAPublicKey(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := ParseRSAPublicKey(pemKey); err != nil {
		t.Fatal(err)
	}
}

func TestRotateKey(t *testing.T) {
	f, am := accessFixture(t)
	ctx := WithActor(context.Background(), "cli:vanthu")
	ak, _, err := f.reg.IssueKey(ctx, exSystem, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	rot, err := f.reg.RotateKey(ctx, ak, 72*time.Hour, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	old, _ := f.st.GetKey(ctx, ak)
	if !old.ExpiresAt.Equal(f.clk.Now().Add(72 * time.Hour)) {
		t.Fatalf("old key expires %s", old.ExpiresAt)
	}
	nk, _ := f.st.GetKey(ctx, rot.AccessKey)
	if nk.SystemCode != exSystem || nk.Alg != AlgHMACSHA256 || !nk.ExpiresAt.IsZero() {
		t.Fatalf("new key %+v", nk)
	}
	if err := f.reg.RevokeKey(ctx, rot.AccessKey); err != nil {
		t.Fatal(err)
	}
	hist, err := f.reg.History(ctx, exSystem, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range hist {
		got = append(got, e.Action+" "+e.AccessKey+" "+e.Actor)
	}
	want := []string{"issued " + ak + " cli:vanthu", "rotated " + ak + " cli:vanthu", "issued " + rot.AccessKey + " cli:vanthu", "revoked " + rot.AccessKey + " cli:vanthu"}
	if !slices.Equal(got, want) {
		t.Fatalf("history:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	_ = am
	if _, err := f.reg.RotateKey(ctx, "AKMISSING00000000000", time.Hour, time.Time{}); bus.CodeOf(err) != "registry.key_not_found" {
		t.Fatalf("rotating a missing key: %v", err)
	}
	if _, err := f.reg.RotateKey(ctx, ak, -time.Hour, time.Time{}); bus.CodeOf(err) != "request.invalid" {
		t.Fatalf("negative overlap: %v", err)
	}
}

// TestLimitsLockout: a burst of bad signatures locks the key, even a good
// signature is then refused, and the lock ends after LockFor (injected
// clock, no sleeping).
func TestLimitsLockout(t *testing.T) {
	f, am := accessFixture(t)
	log, hook := logtest.NewNullLogger()
	l := NewLimits(0, 0, 3, time.Minute, 5*time.Minute)
	l.Now, l.Log, l.Audit = f.clk.Now, log, am
	f.v.Limits = l
	sign := func(secret string) *http.Request {
		r := exampleRequest(t)
		r.RemoteAddr = "127.0.0.7:4242"
		if err := Sign(r, exAccessKey, secret, exBodyHash, f.clk.Now(), ""); err != nil {
			t.Fatal(err)
		}
		return r
	}
	verify := func(secret string) error { _, err := f.v.Verify(sign(secret)); return err }
	// Failures spread wider than the window do not lock.
	wantCode(t, verify("wrong"), "auth.bad_signature")
	wantCode(t, verify("wrong"), "auth.bad_signature")
	f.clk.Add(time.Minute)
	wantCode(t, verify("wrong"), "auth.bad_signature")
	wantCode(t, verify(exSecret), "")
	// A burst does.
	wantCode(t, verify("wrong"), "auth.bad_signature")
	wantCode(t, verify("wrong"), "auth.bad_signature") // third within the window: locks
	err := verify(exSecret)
	wantCode(t, err, "auth.locked")
	if e := bus.AsError(err); e.RetryAfter != 300 || e.Def.Status != http.StatusTooManyRequests {
		t.Fatalf("locked: Retry-After %d, status %d", e.RetryAfter, e.Def.Status)
	}
	// Other keys are not affected.
	r := exampleRequest(t)
	if err := Sign(r, akSuspended, exSecret, exBodyHash, f.clk.Now(), ""); err != nil {
		t.Fatal(err)
	}
	_, err = f.v.Verify(r)
	wantCode(t, err, "auth.system_suspended")
	// The alert and the record.
	var alert *logrus.Entry
	for _, e := range hook.AllEntries() {
		if e.Level == logrus.ErrorLevel {
			alert = e
		}
	}
	if alert == nil || alert.Data["access_key"] != exAccessKey || alert.Data["system"] != exSystem || alert.Data["failures"] != 3 || alert.Data["remote"] != "127.0.0.7" || alert.Data["alert"] != "auth.locked" {
		t.Fatalf("alert %+v", alert)
	}
	if len(am.events) != 1 || am.events[0].Action != store.KeyEventLocked || am.events[0].AccessKey != exAccessKey || am.events[0].System != exSystem {
		t.Fatalf("key events %+v", am.events)
	}
	f.clk.Add(5*time.Minute - time.Second)
	wantCode(t, verify(exSecret), "auth.locked")
	f.clk.Add(time.Second)
	wantCode(t, verify(exSecret), "")
}

// TestLimitsPerAddress: bad signatures lock the key only for the address
// that sent them; the real client at another address keeps working; a
// burst from several addresses logs an alert and locks nobody else.
func TestLimitsPerAddress(t *testing.T) {
	f, am := accessFixture(t)
	log, hook := logtest.NewNullLogger()
	l := NewLimits(0, 0, 3, time.Minute, 5*time.Minute)
	l.AlertFailures = 5
	l.Now, l.Log, l.Audit = f.clk.Now, log, am
	f.v.Limits = l
	verify := func(remote, secret string) error {
		r := exampleRequest(t)
		r.RemoteAddr = remote
		if err := Sign(r, exAccessKey, secret, exBodyHash, f.clk.Now(), ""); err != nil {
			t.Fatal(err)
		}
		_, err := f.v.Verify(r)
		return err
	}
	const victim, attacker, other = "127.0.0.1:5000", "127.0.0.2:6000", "[::1]:7000"
	for range 3 {
		wantCode(t, verify(attacker, "wrong"), "auth.bad_signature")
		wantCode(t, verify(victim, exSecret), "")
	}
	wantCode(t, verify(attacker, "wrong"), "auth.locked")
	wantCode(t, verify("127.0.0.2:6001", exSecret), "auth.locked") // the address, whatever the port
	wantCode(t, verify(victim, exSecret), "")
	bursts := func() int {
		n := 0
		for _, e := range hook.AllEntries() {
			if e.Level == logrus.ErrorLevel && e.Data["alert"] == "auth.failure_burst" {
				n++
			}
		}
		return n
	}
	wantCode(t, verify(other, "wrong"), "auth.bad_signature")
	if bursts() != 0 {
		t.Fatal("burst alert below the threshold")
	}
	wantCode(t, verify(other, "wrong"), "auth.bad_signature") // fifth of the key within the window
	if bursts() != 1 {
		t.Fatalf("burst alerts = %d, want 1", bursts())
	}
	wantCode(t, verify(victim, exSecret), "")
	wantCode(t, verify(other, "wrong"), "auth.bad_signature") // third from [::1]: locks it
	wantCode(t, verify(other, exSecret), "auth.locked")
	wantCode(t, verify(victim, exSecret), "")
	if bursts() != 1 {
		t.Fatal("more than one burst alert per window")
	}
	if len(am.events) != 2 || !strings.Contains(am.events[0].Detail, "127.0.0.2") || !strings.Contains(am.events[1].Detail, "::1") {
		t.Fatalf("lock events %+v", am.events)
	}
}

// TestLimitsMemoryBounded: an attacker with more addresses than
// MaxLockEntries cannot grow the state past it, and idle entries are swept.
func TestLimitsMemoryBounded(t *testing.T) {
	clk := &clock{t: time.Unix(1_790_000_000, 0)}
	l := NewLimits(0, 0, 3, time.Minute, 5*time.Minute)
	l.Now = clk.Now
	ctx := context.Background()
	for i := range MaxLockEntries + 1000 {
		l.Failure(ctx, "AKVICTIM", "000.00.01.H60", fmt.Sprintf("127.%d.%d.%d:1", i>>16&255, i>>8&255, i&255))
	}
	if keys, pairs := l.entries(); keys != 1 || pairs != MaxLockEntries {
		t.Fatalf("entries = %d keys, %d pairs; want 1, %d", keys, pairs, MaxLockEntries)
	}
	clk.Add(2 * time.Minute)
	l.Failure(ctx, "AKVICTIM", "000.00.01.H60", "127.0.0.2:1") // triggers the sweep
	if _, pairs := l.entries(); pairs != 1 {
		t.Fatalf("pairs after the sweep = %d, want 1", pairs)
	}
}

func TestLimitsRate(t *testing.T) {
	f, _ := accessFixture(t)
	l := NewLimits(2, 3, -1, 0, 0)
	l.Now = f.clk.Now
	f.v.Limits = l
	verify := func() error {
		r := exampleRequest(t)
		if err := Sign(r, exAccessKey, exSecret, exBodyHash, f.clk.Now(), ""); err != nil {
			t.Fatal(err)
		}
		_, err := f.v.Verify(r)
		return err
	}
	for range 3 {
		wantCode(t, verify(), "")
	}
	err := verify()
	wantCode(t, err, "auth.rate_limited")
	if e := bus.AsError(err); e.RetryAfter != 1 || e.Def.Status != http.StatusTooManyRequests {
		t.Fatalf("rate limited: Retry-After %d, status %d", e.RetryAfter, e.Def.Status)
	}
	f.clk.Add(500 * time.Millisecond) // one token back at 2/s
	wantCode(t, verify(), "")
	wantCode(t, verify(), "auth.rate_limited")
	// Lockout is off (-1): bad signatures never lock.
	for range 20 {
		r := exampleRequest(t)
		_ = Sign(r, exAccessKey, "wrong", exBodyHash, f.clk.Now(), "")
		_, err := f.v.Verify(r)
		wantCode(t, err, "auth.bad_signature")
	}
}

func TestGrants(t *testing.T) {
	am := &accessMem{memStore: newMemStore()}
	g := &Grants{Store: am}
	ctx := WithActor(context.Background(), "cli:test")
	for _, bad := range []store.Grant{
		{Kind: "exchange", Source: "", Destination: "x", DataType: "edoc"},
		{Kind: "exchange", Source: "000.00.00.H60", Destination: "a b", DataType: "edoc"},
		{Kind: "exchange", Source: "000.00.00.H60", Destination: "x", DataType: ""},
		{Kind: "exchange", Source: "000.00.00.H60", Destination: "x", DataType: "ed*"},
		{Kind: "exchange", Source: "000.00.00.H60", Destination: "x", DataType: "edoc", Scope: "read"},
		{Kind: "service", Source: "000.00.00.H60", Service: "tra-cuu"},
		{Kind: "other", Source: "000.00.00.H60"},
	} {
		if _, err := g.Add(ctx, bad); bus.CodeOf(err) != "grant.invalid" {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	ex, err := g.Add(ctx, store.Grant{Kind: "exchange", Source: "000.00.00.H60", Destination: "000.00.*.H60", DataType: "edoc"})
	if err != nil || ex.CreatedBy != "cli:test" {
		t.Fatalf("%+v %v", ex, err)
	}
	if _, err := g.Add(ctx, store.Grant{Kind: "service", Source: "000.00.0?.H60", Service: "tra-cuu-ho-so", Scope: "read"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		src, dst, dt string
		ok           bool
	}{
		{"000.00.00.H60", "000.00.01.H60", "edoc", true},
		{"000.00.00.H60", "000.01.01.H60", "edoc", false},
		{"000.00.00.H60", "000.00.01.H60", "report", false},
		{"000.00.01.H60", "000.00.00.H60", "edoc", false},
	} {
		err := g.AllowExchange(ctx, tc.src, tc.dst, tc.dt)
		if tc.ok != (err == nil) || !tc.ok && (bus.CodeOf(err) != "auth.forbidden" || !strings.Contains(err.Error(), tc.dst)) {
			t.Errorf("%s → %s (%s): %v", tc.src, tc.dst, tc.dt, err)
		}
	}
	if err := g.AllowExchangeAll(ctx, "000.00.00.H60", []string{"000.00.01.H60", "000.02.01.H60"}, "edoc"); err == nil || !strings.Contains(err.Error(), "000.02.01.H60") {
		t.Errorf("one recipient not granted: %v", err)
	}
	if err := g.AllowService(ctx, "000.00.05.H60", "tra-cuu-ho-so", "read"); err != nil {
		t.Error(err)
	}
	wantCode(t, g.AllowService(ctx, "000.00.05.H60", "tra-cuu-ho-so", "write"), "auth.forbidden")
	wantCode(t, g.AllowService(ctx, "000.00.15.H60", "tra-cuu-ho-so", "read"), "auth.forbidden")
	if err := g.Revoke(ctx, ex.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, g.AllowExchange(ctx, "000.00.00.H60", "000.00.01.H60", "edoc"), "auth.forbidden")
	wantCode(t, g.Revoke(ctx, "gr_missing"), "grant.not_found")
}
