package auth

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
)

// signedExample returns the worked example signed with accessKey at the
// fixture's time, as the server sees it.
func signedExample(t testing.TB, accessKey, nonce string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, exURL, strings.NewReader(exBody))
	r.Header.Set("Content-Type", "application/json")
	if err := Sign(r, accessKey, exSecret, exBodyHash, time.Unix(1790000000, 0), nonce); err != nil {
		t.Fatal(err)
	}
	return r
}

// resign replaces the Authorization header with one over r as it is now,
// with the given signed headers, so a case can change what is signed.
func resign(t testing.TB, r *http.Request, accessKey string, signed []string) {
	t.Helper()
	c, err := CanonicalRequest(r, signed, r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderNonce), r.Header.Get(HeaderContentSHA256))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := LookupAlgorithm(AlgHMACSHA256)
	sig, _ := a.Sign([]byte(exSecret), []byte(c))
	r.Header.Set(HeaderAuthorization, Authorization{Alg: AlgHMACSHA256, AccessKey: accessKey, SignedHeaders: signed, Signature: sig}.String())
}

func TestVerifyAccepts(t *testing.T) {
	f := newFixture(t)
	r := signedExample(t, exAccessKey, exNonce)
	if got := r.Header.Get(HeaderAuthorization); got != exAuthorization {
		t.Fatalf("Authorization = %q, want the doc's %q", got, exAuthorization)
	}
	p, err := f.v.Verify(r)
	if err != nil {
		t.Fatal(err)
	}
	if p.SystemCode != exSystem || p.AccessKey != exAccessKey || p.Alg != AlgHMACSHA256 || p.System.Code != exSystem ||
		p.BodySHA256 != exBodyHash || p.Nonce != exNonce || !p.SignedAt.Equal(time.Unix(1790000000, 0)) {
		t.Fatalf("principal = %+v", p)
	}
	body, err := io.ReadAll(VerifyBody(r.Body, p.BodySHA256, nil))
	if err != nil || string(body) != exBody {
		t.Fatalf("body %q, %v", body, err)
	}
}

func TestVerifyRefusals(t *testing.T) {
	setAuth := func(v string) func(*testing.T, *http.Request) {
		return func(_ *testing.T, r *http.Request) { r.Header.Set(HeaderAuthorization, v) }
	}
	sig := "Signature=" + exSignature
	cases := []struct {
		name   string
		key    string // access key to sign with (default the example's)
		tamper func(*testing.T, *http.Request)
		now    time.Duration // clock offset from the timestamp
		code   bus.Code
		detail string // substring of the detail
	}{
		{name: "missing authorization", tamper: func(_ *testing.T, r *http.Request) { r.Header.Del(HeaderAuthorization) }, code: "auth.missing"},
		{name: "empty authorization", tamper: setAuth(""), code: "auth.missing"},
		{name: "two authorization headers", tamper: func(_ *testing.T, r *http.Request) { r.Header.Add(HeaderAuthorization, exAuthorization) }, code: "auth.malformed"},
		{name: "bearer scheme", tamper: setAuth("Bearer abc"), code: "auth.malformed"},
		{name: "no parameters", tamper: setAuth("LGSP-HMAC-SHA256"), code: "auth.malformed"},
		{name: "lacks signature", tamper: setAuth("LGSP-HMAC-SHA256 Credential=" + exAccessKey + ", SignedHeaders=content-type;host"), code: "auth.malformed", detail: "lacks Signature"},
		{name: "lacks signed headers", tamper: setAuth("LGSP-HMAC-SHA256 Credential=" + exAccessKey + ", " + sig), code: "auth.malformed", detail: "lacks SignedHeaders"},
		{name: "repeated credential", tamper: setAuth("LGSP-HMAC-SHA256 Credential=" + exAccessKey + ", Credential=" + exAccessKey + ", SignedHeaders=host, " + sig), code: "auth.malformed", detail: "repeats"},
		{name: "unknown parameter", tamper: setAuth("LGSP-HMAC-SHA256 Credential=" + exAccessKey + ", SignedHeaders=host, " + sig + ", Region=vn"), code: "auth.malformed", detail: "Region"},
		{name: "upper-case signature", tamper: setAuth("LGSP-HMAC-SHA256 Credential=" + exAccessKey + ", SignedHeaders=content-type;host, Signature=" + strings.ToUpper(exSignature)), code: "auth.malformed", detail: "lower-case hex"},
		{name: "odd-length signature", tamper: setAuth("LGSP-HMAC-SHA256 Credential=" + exAccessKey + ", SignedHeaders=content-type;host, Signature=abc"), code: "auth.malformed"},
		{name: "bad credential", tamper: setAuth("LGSP-HMAC-SHA256 Credential=AK EX, SignedHeaders=host, " + sig), code: "auth.malformed"},
		{name: "unsorted signed headers", tamper: setAuth("LGSP-HMAC-SHA256 Credential=" + exAccessKey + ", SignedHeaders=host;content-type, " + sig), code: "auth.malformed", detail: "sorted"},
		{name: "duplicate signed header", tamper: setAuth("LGSP-HMAC-SHA256 Credential=" + exAccessKey + ", SignedHeaders=host;host, " + sig), code: "auth.malformed", detail: "sorted"},
		{name: "upper-case signed header", tamper: setAuth("LGSP-HMAC-SHA256 Credential=" + exAccessKey + ", SignedHeaders=Host, " + sig), code: "auth.malformed", detail: "lower-case"},
		{name: "authorization signs itself", tamper: setAuth("LGSP-HMAC-SHA256 Credential=" + exAccessKey + ", SignedHeaders=authorization;content-type;host, " + sig), code: "auth.malformed", detail: "authorization header must not be signed"},
		{name: "signed header absent", tamper: setAuth("LGSP-HMAC-SHA256 Credential=" + exAccessKey + ", SignedHeaders=content-type;host;x-trace, " + sig), code: "auth.malformed", detail: `"x-trace" is not in the request`},
		{name: "missing timestamp", tamper: func(_ *testing.T, r *http.Request) { r.Header.Del(HeaderTimestamp) }, code: "auth.malformed", detail: "missing X-LGSP-Timestamp"},
		{name: "missing nonce", tamper: func(_ *testing.T, r *http.Request) { r.Header.Del(HeaderNonce) }, code: "auth.malformed", detail: "missing X-LGSP-Nonce"},
		{name: "missing content hash", tamper: func(_ *testing.T, r *http.Request) { r.Header.Del(HeaderContentSHA256) }, code: "auth.malformed", detail: "missing X-LGSP-Content-SHA256"},
		{name: "two timestamps", tamper: func(_ *testing.T, r *http.Request) { r.Header.Add(HeaderTimestamp, exTS) }, code: "auth.malformed", detail: "more than one"},
		{name: "fractional timestamp", tamper: func(_ *testing.T, r *http.Request) { r.Header.Set(HeaderTimestamp, "1790000000.5") }, code: "auth.malformed", detail: "seconds"},
		{name: "negative timestamp", tamper: func(_ *testing.T, r *http.Request) { r.Header.Set(HeaderTimestamp, "-1") }, code: "auth.malformed"},
		{name: "RFC 1123 timestamp", tamper: func(_ *testing.T, r *http.Request) { r.Header.Set(HeaderTimestamp, "Mon, 21 Sep 2026 14:13:20 GMT") }, code: "auth.malformed"},
		{name: "short nonce", tamper: func(_ *testing.T, r *http.Request) { r.Header.Set(HeaderNonce, "abc") }, code: "auth.malformed", detail: "16 to 64"},
		{name: "long nonce", tamper: func(_ *testing.T, r *http.Request) { r.Header.Set(HeaderNonce, strings.Repeat("a", 65)) }, code: "auth.malformed", detail: "16 to 64"},
		{name: "nonce charset", tamper: func(_ *testing.T, r *http.Request) { r.Header.Set(HeaderNonce, "n0nce.2026.11.26.0001") }, code: "auth.malformed", detail: "A-Z a-z 0-9 - _"},
		{name: "upper-case body hash", tamper: func(_ *testing.T, r *http.Request) { r.Header.Set(HeaderContentSHA256, strings.ToUpper(exBodyHash)) }, code: "auth.malformed", detail: "lower-case hex"},
		{name: "empty body hash", tamper: func(_ *testing.T, r *http.Request) { r.Header.Set(HeaderContentSHA256, "") }, code: "auth.malformed"},
		{name: "bad query escape", tamper: func(_ *testing.T, r *http.Request) { r.URL.RawQuery = "a=%zz" }, code: "auth.malformed", detail: "percent-encoding"},
		{name: "unsupported algorithm", tamper: setAuth("LGSP-HMAC-MD5 Credential=" + exAccessKey + ", SignedHeaders=content-type;host, " + sig), code: "auth.algorithm", detail: "not supported"},
		{name: "HMAC signature under a public key", key: akRSA, code: "auth.key_kind", detail: "LGSP-RSA-SHA256"},
		{name: "clock skew past", now: 5*time.Minute + time.Second, code: "auth.clock_skew", detail: "allowed difference is 300 seconds"},
		{name: "clock skew future", now: -5*time.Minute - time.Second, code: "auth.clock_skew"},
		{name: "milliseconds", tamper: func(t *testing.T, r *http.Request) {
			r.Header.Set(HeaderTimestamp, exTS+"000")
			resign(t, r, exAccessKey, []string{"content-type", "host"})
		}, code: "auth.clock_skew", detail: "milliseconds"},
		{name: "unknown key", key: "AKNOSUCHKEY000000000", code: "auth.unknown_key"},
		{name: "key of no system", key: akOrphan, code: "auth.unknown_key", detail: "no registered system"},
		{name: "tampered method", tamper: func(_ *testing.T, r *http.Request) { r.Method = http.MethodPut }, code: "auth.bad_signature"},
		{name: "tampered path", tamper: func(_ *testing.T, r *http.Request) { r.URL.Path = "/v1/exchanges/x" }, code: "auth.bad_signature"},
		{name: "tampered query value", tamper: func(_ *testing.T, r *http.Request) { r.URL.RawQuery = "b=3&a=1" }, code: "auth.bad_signature"},
		{name: "added query parameter", tamper: func(_ *testing.T, r *http.Request) { r.URL.RawQuery += "&c=" }, code: "auth.bad_signature"},
		{name: "tampered signed header", tamper: func(_ *testing.T, r *http.Request) { r.Header.Set("Content-Type", "application/xml") }, code: "auth.bad_signature"},
		{name: "repeated signed header", tamper: func(_ *testing.T, r *http.Request) { r.Header.Add("Content-Type", "text/plain") }, code: "auth.bad_signature"},
		{name: "tampered host", tamper: func(_ *testing.T, r *http.Request) { r.Host = "evil.example.com" }, code: "auth.bad_signature"},
		{name: "tampered body hash", tamper: func(_ *testing.T, r *http.Request) { r.Header.Set(HeaderContentSHA256, EmptySHA256) }, code: "auth.bad_signature"},
		{name: "tampered timestamp", tamper: func(_ *testing.T, r *http.Request) { r.Header.Set(HeaderTimestamp, "1790000001") }, code: "auth.bad_signature"},
		{name: "tampered nonce", tamper: func(_ *testing.T, r *http.Request) { r.Header.Set(HeaderNonce, "n0nce-2026-11-26-0002") }, code: "auth.bad_signature"},
		{name: "signature of another request", tamper: setAuth("LGSP-HMAC-SHA256 Credential=" + exAccessKey + ", SignedHeaders=content-type;host, Signature=" + strings.Repeat("0", 64)), code: "auth.bad_signature", detail: "LGSP-HMAC-SHA256\\nPOST\\n/v1/exchanges"},
		{name: "truncated signature", tamper: setAuth("LGSP-HMAC-SHA256 Credential=" + exAccessKey + ", SignedHeaders=content-type;host, Signature=" + exSignature[:32]), code: "auth.bad_signature"},
		{name: "fewer signed headers than signed", tamper: setAuth("LGSP-HMAC-SHA256 Credential=" + exAccessKey + ", SignedHeaders=host, " + sig), code: "auth.bad_signature"},
		{name: "revoked key", key: akRevoked, code: "auth.key_revoked"},
		{name: "expired key", key: akExpired, code: "auth.key_expired"},
		{name: "suspended system", key: akSuspended, code: "auth.system_suspended"},
		{name: "revoked key with bad signature", key: akRevoked, tamper: func(_ *testing.T, r *http.Request) { r.URL.Path = "/x" }, code: "auth.bad_signature"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			key := tc.key
			if key == "" {
				key = exAccessKey
			}
			r := signedExample(t, key, exNonce)
			if tc.tamper != nil {
				tc.tamper(t, r)
			}
			f.clk.Add(tc.now)
			p, err := f.v.Verify(r)
			if p != nil {
				t.Fatalf("principal %+v for a refused request", p)
			}
			wantCode(t, err, tc.code)
			if !strings.Contains(bus.AsError(err).Detail, tc.detail) {
				t.Fatalf("detail %q lacks %q", bus.AsError(err).Detail, tc.detail)
			}
			// A refused request leaves its nonce unused: the genuine request
			// still passes.
			if tc.code != "auth.clock_skew" && tc.key == "" {
				if _, err := f.v.Verify(signedExample(t, exAccessKey, exNonce)); err != nil {
					t.Fatalf("genuine request after the refused one: %v", err)
				}
			}
		})
	}
}

func TestVerifySkewBoundaries(t *testing.T) {
	for _, d := range []time.Duration{-5 * time.Minute, 5 * time.Minute, 0} {
		f := newFixture(t)
		f.clk.Add(d)
		if _, err := f.v.Verify(signedExample(t, exAccessKey, exNonce)); err != nil {
			t.Errorf("clock %v from timestamp: %v", d, err)
		}
	}
	f := newFixture(t)
	f.v.Skew = 30 * time.Second
	f.clk.Add(31 * time.Second)
	_, err := f.v.Verify(signedExample(t, exAccessKey, exNonce))
	wantCode(t, err, "auth.clock_skew")
}

// TestVerifyNotBefore: after an unclean restart of a node with its replay
// cache in memory, a request signed before the start is refused, one
// signed from then on is served.
func TestVerifyNotBefore(t *testing.T) {
	f := newFixture(t)
	signed := signedExample(t, exAccessKey, exNonce)
	f.v.NotBefore = f.clk.Now().Add(time.Second)
	_, err := f.v.Verify(signed)
	wantCode(t, err, "auth.clock_skew")
	f.v.NotBefore = f.clk.Now()
	if _, err := f.v.Verify(signedExample(t, exAccessKey, exNonce)); err != nil {
		t.Fatalf("signed at NotBefore: %v", err)
	}
}

func TestVerifyReplay(t *testing.T) {
	f := newFixture(t)
	if _, err := f.v.Verify(signedExample(t, exAccessKey, exNonce)); err != nil {
		t.Fatal(err)
	}
	_, err := f.v.Verify(signedExample(t, exAccessKey, exNonce))
	wantCode(t, err, "auth.replay")

	// Another nonce is fine; the same nonce of another key is fine.
	if _, err := f.v.Verify(signedExample(t, exAccessKey, "n0nce-2026-11-26-0002")); err != nil {
		t.Fatal(err)
	}
	putKey(t, f.st, f.v.Vault, store.Key{AccessKey: "AKSECOND000000000001", SystemCode: exSystem}, exSecret)
	if _, err := f.v.Verify(signedExample(t, "AKSECOND000000000001", exNonce)); err != nil {
		t.Fatal(err)
	}

	// The nonce is remembered as long as the timestamp is acceptable.
	f.clk.Add(5 * time.Minute)
	_, err = f.v.Verify(signedExample(t, exAccessKey, exNonce))
	wantCode(t, err, "auth.replay")
	f.clk.Add(time.Second)
	_, err = f.v.Verify(signedExample(t, exAccessKey, exNonce))
	wantCode(t, err, "auth.clock_skew")
}

func TestVerifyReplayThroughStore(t *testing.T) {
	f := newFixture(t)
	f.v.Nonces = StoreNonces(f.st)
	if _, err := f.v.Verify(signedExample(t, exAccessKey, exNonce)); err != nil {
		t.Fatal(err)
	}
	_, err := f.v.Verify(signedExample(t, exAccessKey, exNonce))
	wantCode(t, err, "auth.replay")
}

func TestVerifyStoreFaults(t *testing.T) {
	f := newFixture(t)
	f.st.fail = errors.New("connection refused")
	_, err := f.v.Verify(signedExample(t, exAccessKey, exNonce))
	wantCode(t, err, "system.unavailable")
	if !errors.Is(err, f.st.fail) {
		t.Fatalf("cause lost: %v", err)
	}

	// Stale and malformed requests are refused without reaching the store.
	f.clk.Add(time.Hour)
	_, err = f.v.Verify(signedExample(t, exAccessKey, exNonce))
	wantCode(t, err, "auth.clock_skew")
	r := signedExample(t, exAccessKey, exNonce)
	r.URL.RawQuery = "a=%zz"
	_, err = f.v.Verify(r)
	wantCode(t, err, "auth.malformed")

	f = newFixture(t)
	f.v.Nonces = StoreNonces(failingNonces{})
	_, err = f.v.Verify(signedExample(t, exAccessKey, exNonce))
	wantCode(t, err, "system.unavailable")

	f = newFixture(t)
	f.v.Nonces = nil
	_, err = f.v.Verify(signedExample(t, exAccessKey, exNonce))
	wantCode(t, err, "system.internal")
}

type failingNonces struct{}

func (failingNonces) UseNonce(context.Context, string, string, time.Time) (bool, error) {
	return false, errors.New("deadlock found")
}

// TestSealedSecretBoundToKey shows that a sealed secret copied onto another
// access key's row cannot be opened.
func TestSealedSecretBoundToKey(t *testing.T) {
	f := newFixture(t)
	k := f.st.keys[exAccessKey]
	k.AccessKey = "AKCOPY00000000000001"
	f.st.keys[k.AccessKey] = k
	_, err := f.v.Verify(signedExample(t, k.AccessKey, exNonce))
	wantCode(t, err, "system.internal")
}

// TestVerifyOverHTTP sends signed requests through a real server: the
// percent-encoding edge cases must survive the client and the server's
// request parsing, and the body is checked while it streams.
func TestVerifyOverHTTP(t *testing.T) {
	f := newFixture(t)
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := f.v.Verify(r)
		if err != nil {
			e := bus.AsError(err)
			http.Error(w, string(e.Def.Code)+" "+e.Detail, e.Def.Status)
			return
		}
		b, err := io.ReadAll(VerifyBody(r.Body, p.BodySHA256, nil))
		if err != nil {
			e := bus.AsError(err)
			http.Error(w, string(e.Def.Code), e.Def.Status)
			return
		}
		got = append(got, string(b))
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	n := 0
	send := func(method, target, body, hash string) (int, string) {
		t.Helper()
		n++
		req, err := http.NewRequest(method, srv.URL+target, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "text/plain;\t charset=utf-8")
		nonce := "edge-case-nonce-" + strings.Repeat("x", n)
		if err := Sign(req, exAccessKey, exSecret, hash, f.clk.Now(), nonce); err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(msg)
	}
	targets := []string{
		"/v1/exchanges",
		"",
		"/v1/t%C3%A0i%20li%E1%BB%87u/~user/%7euser",
		"/a%2Fb//c/?q=Tuy%C3%AAn+Quang&q=Tuy%C3%AAn%20Quang&x",
		"/r/?reserved=%21%2A%27%28%29%3B%3A%40%26%3D%2B%24%2C%2F%3F%23%5B%5D&emoji=%F0%9F%87%BB%F0%9F%87%B3",
		"/s?q=c%C3%B4ng+v%C4%83n+s%E1%BB%91&k=a%2Bb&k=a+b&sel=*&r=a:b/c",
		"/p;matrix=1/x@y:z?semi=a;b",
	}
	for _, target := range targets {
		body := "nội dung " + target
		if code, msg := send(http.MethodPost, target, body, HashBody([]byte(body))); code != http.StatusNoContent {
			t.Errorf("POST %q: %d %s", target, code, msg)
		}
	}
	if code, msg := send(http.MethodGet, "/v1/exchanges?limit=10", "", ""); code != http.StatusNoContent {
		t.Errorf("GET without body: %d %s", code, msg)
	}
	// A body that does not match its signed hash is refused at EOF.
	if code, msg := send(http.MethodPost, "/v1/exchanges", "tampered", HashBody([]byte("original"))); code != http.StatusBadRequest || !strings.Contains(msg, "auth.body_hash") {
		t.Errorf("wrong body: %d %s", code, msg)
	}
	if len(got) != len(targets)+1 {
		t.Errorf("handler committed %d bodies, want %d", len(got), len(targets)+1)
	}
}
