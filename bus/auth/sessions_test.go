package auth

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
)

// memSessions adds sessions, tokens and the legacy switch to memStore.
type memSessions struct {
	*memStore
	smu      sync.Mutex
	sessions map[string]store.Session // by id
	tokens   map[string]store.Token   // by hash
	legacy   map[string]bool
}

var (
	_ SessionStore = (*memSessions)(nil)
	_ TokenStore   = (*memSessions)(nil)
	_ SessionStore = store.Store(nil)
	_ TokenStore   = store.Store(nil)
)

func newMemSessions() *memSessions {
	return &memSessions{memStore: newMemStore(), sessions: map[string]store.Session{}, tokens: map[string]store.Token{}, legacy: map[string]bool{}}
}

func (m *memSessions) CreateSession(_ context.Context, s store.Session) error {
	m.smu.Lock()
	defer m.smu.Unlock()
	m.sessions[s.ID] = s
	return nil
}

func (m *memSessions) SessionByHash(_ context.Context, h string) (store.Session, error) {
	m.smu.Lock()
	defer m.smu.Unlock()
	for _, s := range m.sessions {
		if s.KeyHash == h {
			return s, nil
		}
	}
	return store.Session{}, bus.ErrSessionInvalid.New("no such session key")
}

func (m *memSessions) GetSession(_ context.Context, id string) (store.Session, error) {
	m.smu.Lock()
	defer m.smu.Unlock()
	s, ok := m.sessions[id]
	if !ok {
		return store.Session{}, bus.ErrSessionInvalid.New("no session %s", id)
	}
	return s, nil
}

func (m *memSessions) RevokeSession(_ context.Context, id string, at time.Time) error {
	m.smu.Lock()
	defer m.smu.Unlock()
	s, ok := m.sessions[id]
	if !ok {
		return bus.ErrSessionInvalid.New("no session %s", id)
	}
	if s.RevokedAt.IsZero() {
		s.RevokedAt = at
	}
	m.sessions[id] = s
	return nil
}

func (m *memSessions) CreateToken(_ context.Context, t store.Token) error {
	m.smu.Lock()
	defer m.smu.Unlock()
	m.tokens[t.Hash] = t
	return nil
}

func (m *memSessions) TokenByHash(_ context.Context, h string) (store.Token, error) {
	m.smu.Lock()
	defer m.smu.Unlock()
	t, ok := m.tokens[h]
	if !ok {
		return store.Token{}, bus.ErrTokenInvalid.New("unknown access token")
	}
	return t, nil
}

func (m *memSessions) LegacyToken(_ context.Context, code string) (bool, error) {
	m.smu.Lock()
	defer m.smu.Unlock()
	return m.legacy[code], nil
}

// fakePerms allows exactly the listed "source service scope" triples.
type fakePerms struct {
	mu    sync.Mutex
	allow map[string]bool
}

func (f *fakePerms) AllowExchange(context.Context, string, string, string) error {
	return bus.ErrForbidden.New("no exchanges in this fake")
}

func (f *fakePerms) AllowService(_ context.Context, source, service, scope string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.allow[source+" "+service+" "+scope] {
		return nil
	}
	return bus.ErrForbidden.New("%s may not call %s with scope %s", source, service, scope)
}

func (f *fakePerms) set(triple string, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.allow[triple] = on
}

const (
	srcCode   = "000.00.01.H60"
	ownerCode = "000.00.02.H60"
	otherCode = "000.00.03.H60"
)

type sessionFixture struct {
	st    *memSessions
	clk   *clock
	perms *fakePerms
	s     *Sessions
	p     *Principal // the source, verified with AKSRC
}

func newSessionFixture(t *testing.T) *sessionFixture {
	t.Helper()
	st := newMemSessions()
	v := testVault(t)
	clk := &clock{t: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
	for _, c := range []string{srcCode, ownerCode, otherCode} {
		if err := st.CreateSystem(context.Background(), store.System{Code: c, Name: c, Status: store.SystemActive}); err != nil {
			t.Fatal(err)
		}
	}
	putKey(t, st.memStore, v, store.Key{AccessKey: "AKSRC0000000000000001", SystemCode: srcCode}, "src-secret")
	putKey(t, st.memStore, v, store.Key{AccessKey: "AKOTHER00000000000001", SystemCode: otherCode}, "other-secret")
	perms := &fakePerms{allow: map[string]bool{srcCode + " tra-cuu read": true}}
	services := map[string]ServiceInfo{"tra-cuu": {Name: "tra-cuu", Owner: ownerCode, Scopes: []string{"read", "write"}}}
	s := &Sessions{Store: st, Perms: perms, Now: clk.Now, Services: func(n string) (ServiceInfo, bool) { i, ok := services[n]; return i, ok }}
	sys, _ := st.GetSystem(context.Background(), srcCode)
	return &sessionFixture{st: st, clk: clk, perms: perms, s: s, p: &Principal{SystemCode: srcCode, AccessKey: "AKSRC0000000000000001", System: sys}}
}

func TestSessionOpen(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name, service, scope string
		ttl                  time.Duration
		code                 bus.Code
	}{
		{"granted", "tra-cuu", "read", 0, ""},
		{"unknown service", "khong-co", "read", 0, bus.ErrServiceUnknown.Code},
		{"scope the service does not allow", "tra-cuu", "admin", 0, bus.ErrServiceScope.Code},
		{"scope allowed by the service but not granted", "tra-cuu", "write", 0, bus.ErrForbidden.Code},
		{"missing scope", "tra-cuu", "", 0, bus.ErrBadRequest.Code},
		{"ttl below the minimum", "tra-cuu", "read", time.Millisecond, bus.ErrBadRequest.Code},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newSessionFixture(t)
			o, err := f.s.Open(ctx, f.p, tc.service, tc.scope, tc.ttl)
			wantCode(t, err, tc.code)
			if err != nil {
				return
			}
			if !strings.HasPrefix(o.Key, "lgss_") || len(o.Key) < 5+43 {
				t.Fatalf("session key %q is too short", o.Key)
			}
			if o.Endpoint != "/svc/tra-cuu/" || o.Source != srcCode || o.Scope != "read" || !o.ExpiresAt.Equal(f.clk.Now().Add(DefaultSessionTTL)) {
				t.Fatalf("opened %+v", o)
			}
			stored, err := f.st.GetSession(ctx, o.ID)
			if err != nil {
				t.Fatal(err)
			}
			if stored.KeyHash != HashSessionKey(o.Key) || strings.Contains(stored.KeyHash, o.Key) || stored.AccessKey != f.p.AccessKey {
				t.Fatalf("stored %+v", stored)
			}
		})
	}
	t.Run("no permissions configured", func(t *testing.T) {
		f := newSessionFixture(t)
		f.s.Perms = nil
		_, err := f.s.Open(ctx, f.p, "tra-cuu", "read", 0)
		wantCode(t, err, bus.ErrForbidden.Code)
	})
	t.Run("shorter ttl on request, never longer", func(t *testing.T) {
		f := newSessionFixture(t)
		o, err := f.s.Open(ctx, f.p, "tra-cuu", "read", 2*time.Second)
		if err != nil || !o.ExpiresAt.Equal(f.clk.Now().Add(2*time.Second)) {
			t.Fatalf("%+v, %v", o, err)
		}
		o, err = f.s.Open(ctx, f.p, "tra-cuu", "read", 48*time.Hour)
		if err != nil || !o.ExpiresAt.Equal(f.clk.Now().Add(DefaultSessionTTL)) {
			t.Fatalf("%+v, %v", o, err)
		}
	})
}

func TestCheckSession(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name    string
		tamper  func(f *sessionFixture, o *OpenedSession)
		key     func(o *OpenedSession) string
		source  string
		service string
		code    bus.Code
	}{
		{name: "valid", code: ""},
		{name: "no key", key: func(*OpenedSession) string { return "" }, code: bus.ErrSessionInvalid.Code},
		{name: "unknown key", key: func(*OpenedSession) string { return "lgss_NOPE" }, code: bus.ErrSessionInvalid.Code},
		{name: "another source", source: otherCode, code: bus.ErrSessionInvalid.Code},
		{name: "another service", service: "khac", code: bus.ErrSessionInvalid.Code},
		{name: "expired", tamper: func(f *sessionFixture, _ *OpenedSession) { f.clk.Add(DefaultSessionTTL) }, code: bus.ErrSessionExpired.Code},
		{name: "revoked", tamper: func(f *sessionFixture, o *OpenedSession) { _ = f.s.Revoke(ctx, o.ID, srcCode) }, code: bus.ErrSessionInvalid.Code},
		{name: "access key revoked", tamper: func(f *sessionFixture, _ *OpenedSession) { _ = f.st.RevokeKey(ctx, f.p.AccessKey, f.clk.Now()) }, code: bus.ErrAuthKeyRevoked.Code},
		{name: "source suspended", tamper: func(f *sessionFixture, _ *OpenedSession) {
			s, _ := f.st.GetSystem(ctx, srcCode)
			s.Status = store.SystemSuspended
			_ = f.st.UpdateSystem(ctx, s)
		}, code: bus.ErrAuthSuspended.Code},
		{name: "grant withdrawn", tamper: func(f *sessionFixture, _ *OpenedSession) { f.perms.set(srcCode+" tra-cuu read", false) }, code: bus.ErrForbidden.Code},
		{name: "scope unpublished", tamper: func(f *sessionFixture, _ *OpenedSession) {
			f.s.Services = func(n string) (ServiceInfo, bool) {
				return ServiceInfo{Name: n, Owner: ownerCode, Scopes: []string{"write"}}, n == "tra-cuu"
			}
		}, code: bus.ErrServiceScope.Code},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newSessionFixture(t)
			o, err := f.s.Open(ctx, f.p, "tra-cuu", "read", 0)
			if err != nil {
				t.Fatal(err)
			}
			if tc.tamper != nil {
				tc.tamper(f, o)
			}
			key, source, service := o.Key, srcCode, "tra-cuu"
			if tc.key != nil {
				key = tc.key(o)
			}
			if tc.source != "" {
				source = tc.source
			}
			if tc.service != "" {
				service = tc.service
			}
			info, err := f.s.CheckSession(ctx, key, source, service)
			wantCode(t, err, tc.code)
			if err == nil && (info.ID != o.ID || info.Scope != "read" || info.Source != srcCode) {
				t.Fatalf("info %+v", info)
			}
		})
	}
}

func TestSessionRevoke(t *testing.T) {
	ctx := context.Background()
	f := newSessionFixture(t)
	o, err := f.s.Open(ctx, f.p, "tra-cuu", "read", 0)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, f.s.Revoke(ctx, o.ID, otherCode), bus.ErrSessionInvalid.Code) // not its session
	if _, err := f.s.CheckSession(ctx, o.Key, srcCode, "tra-cuu"); err != nil {
		t.Fatalf("session revoked by another system: %v", err)
	}
	if err := f.s.Revoke(ctx, o.ID, ""); err != nil { // an operator
		t.Fatal(err)
	}
	_, err = f.s.CheckSession(ctx, o.Key, srcCode, "tra-cuu")
	wantCode(t, err, bus.ErrSessionInvalid.Code)
	wantCode(t, f.s.Revoke(ctx, "ss_nope", srcCode), bus.ErrSessionInvalid.Code)
	if owner, err := f.s.Owner("tra-cuu"); err != nil || owner != ownerCode {
		t.Fatalf("Owner = %q, %v", owner, err)
	}
}

func newTokens(t *testing.T) (*Tokens, *memSessions, *clock) {
	t.Helper()
	st := newMemSessions()
	v := testVault(t)
	clk := &clock{t: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
	if err := st.CreateSystem(context.Background(), store.System{Code: srcCode, Name: "x", Status: store.SystemActive}); err != nil {
		t.Fatal(err)
	}
	putKey(t, st.memStore, v, store.Key{AccessKey: "AKSRC0000000000000001", SystemCode: srcCode}, "src-secret")
	return &Tokens{Store: st, Vault: v, Now: clk.Now}, st, clk
}

func TestTokens(t *testing.T) {
	ctx := context.Background()
	t.Run("issue and use", func(t *testing.T) {
		tk, st, clk := newTokens(t)
		tok, life, err := tk.Issue(ctx, "AKSRC0000000000000001", "src-secret", "127.0.0.1:1")
		if err != nil || life != DefaultTokenTTL || !strings.HasPrefix(tok, "lgst_") {
			t.Fatalf("Issue = %q, %s, %v", tok, life, err)
		}
		for h := range st.tokens {
			if strings.Contains(h, tok) || h != hashToken(tok) {
				t.Fatal("token stored in clear")
			}
		}
		p, err := tk.Bearer(ctx, tok)
		if err != nil || p.SystemCode != srcCode || p.Alg != AuthBearer {
			t.Fatalf("Bearer = %+v, %v", p, err)
		}
		_, err = tk.Bearer(ctx, tok+"x")
		wantCode(t, err, bus.ErrTokenInvalid.Code)
		clk.Add(DefaultTokenTTL)
		_, err = tk.Bearer(ctx, tok)
		wantCode(t, err, bus.ErrTokenInvalid.Code)
	})
	t.Run("revoking the key ends its tokens", func(t *testing.T) {
		tk, st, clk := newTokens(t)
		tok, _, err := tk.Issue(ctx, "AKSRC0000000000000001", "src-secret", "127.0.0.1:1")
		if err != nil {
			t.Fatal(err)
		}
		_ = st.RevokeKey(ctx, "AKSRC0000000000000001", clk.Now())
		_, err = tk.Bearer(ctx, tok)
		wantCode(t, err, bus.ErrAuthKeyRevoked.Code)
		_, _, err = tk.Issue(ctx, "AKSRC0000000000000001", "src-secret", "127.0.0.1:1")
		wantCode(t, err, bus.ErrAuthKeyRevoked.Code)
	})
	t.Run("bad credentials", func(t *testing.T) {
		tk, _, _ := newTokens(t)
		_, _, err := tk.Issue(ctx, "AKSRC0000000000000001", "wrong", "127.0.0.1:1")
		wantCode(t, err, bus.ErrAuthBadSignature.Code)
		_, _, err = tk.Issue(ctx, "AKNOPE00000000000000", "src-secret", "127.0.0.1:1")
		wantCode(t, err, bus.ErrAuthUnknownKey.Code)
		_, _, err = tk.Issue(ctx, "", "", "127.0.0.1:1")
		wantCode(t, err, bus.ErrAuthMalformed.Code)
	})
	t.Run("legacy header is off by default", func(t *testing.T) {
		tk, st, _ := newTokens(t)
		h := EncodeLegacyToken(LegacyCredentials{AccessKey: "AKSRC0000000000000001", SecretKey: "src-secret", AppName: "QLVB", PartnerCode: srcCode})
		_, err := tk.Legacy(ctx, h, "127.0.0.1:1")
		wantCode(t, err, bus.ErrForbidden.Code)
		st.legacy[srcCode] = true
		p, err := tk.Legacy(ctx, h, "127.0.0.1:1")
		if err != nil || p.SystemCode != srcCode || p.Alg != AuthLegacyToken {
			t.Fatalf("Legacy = %+v, %v", p, err)
		}
		_, err = tk.Legacy(ctx, EncodeLegacyToken(LegacyCredentials{AccessKey: "AKSRC0000000000000001", SecretKey: "nope"}), "127.0.0.1:1")
		wantCode(t, err, bus.ErrAuthBadSignature.Code)
		_, err = tk.Legacy(ctx, "%%%", "127.0.0.1:1")
		wantCode(t, err, bus.ErrAuthMalformed.Code)
	})
}

func TestAuthenticator(t *testing.T) {
	ctx := context.Background()
	tk, st, clk := newTokens(t)
	st.legacy[srcCode] = true
	a := &Authenticator{Verifier: &Verifier{Keys: st, Vault: tk.Vault, Nonces: NewMemoryNonces(16), Now: clk.Now}, Tokens: tk}
	tok, _, err := tk.Issue(ctx, "AKSRC0000000000000001", "src-secret", "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	req := func(set func(r *http.Request)) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, "http://lgsp.example/v1/inbox", nil)
		set(r)
		return r
	}
	cases := []struct {
		name string
		r    *http.Request
		alg  string
		body string
		code bus.Code
	}{
		{"bearer", req(func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }), AuthBearer, "", ""},
		{"bearer in lower case", req(func(r *http.Request) { r.Header.Set("Authorization", "bearer "+tok) }), AuthBearer, "", ""},
		{"bearer with a body hash", req(func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer "+tok)
			r.Header.Set(HeaderContentSHA256, EmptySHA256)
		}), AuthBearer, EmptySHA256, ""},
		{"bearer with a bad body hash", req(func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer "+tok)
			r.Header.Set(HeaderContentSHA256, "XYZ")
		}), "", "", bus.ErrAuthMalformed.Code},
		{"unknown bearer", req(func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") }), "", "", bus.ErrTokenInvalid.Code},
		{"legacy header", req(func(r *http.Request) {
			r.Header.Set(HeaderLegacyToken, EncodeLegacyToken(LegacyCredentials{AccessKey: "AKSRC0000000000000001", SecretKey: "src-secret"}))
		}), AuthLegacyToken, "", ""},
		{"signature", req(func(r *http.Request) {
			_ = Sign(r, "AKSRC0000000000000001", "src-secret", "", clk.Now(), "")
		}), AlgHMACSHA256, EmptySHA256, ""},
		{"nothing", req(func(*http.Request) {}), "", "", bus.ErrAuthMissing.Code},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := a.Authenticate(tc.r)
			wantCode(t, err, tc.code)
			if err == nil && (p.SystemCode != srcCode || p.Alg != tc.alg || p.BodySHA256 != tc.body) {
				t.Fatalf("principal %+v", p)
			}
		})
	}
}
