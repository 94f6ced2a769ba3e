package soap_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/adapters/soap"
	"github.com/tuyenquang/lgsp/bus"
)

// TestPasswordDigestVector checks the digest against a vector made by an
// independent implementation: zeep 4.2.1's UsernameToken(use_digest=True,
// nonce="lgsp-nonce-0001!", created=2026-03-01T02:30:45Z), confirmed with
// `printf %s "$nonce$created$password" | openssl sha1 -binary | base64`.
func TestPasswordDigestVector(t *testing.T) {
	nonce, err := base64.StdEncoding.DecodeString("bGdzcC1ub25jZS0wMDAxIQ==")
	must(t, err)
	if string(nonce) != "lgsp-nonce-0001!" {
		t.Fatalf("nonce %q", nonce)
	}
	if got := soap.PasswordDigestOf(nonce, "2026-03-01T02:30:45Z", "mật-khẩu-123"); got != "6NaKgFlS/cEXw8hK8HRWaI/qs8c=" {
		t.Fatalf("digest %s", got)
	}
}

func TestVerifyUsernameToken(t *testing.T) {
	now := time.Date(2026, 3, 1, 2, 31, 0, 0, time.UTC)
	created := "2026-03-01T02:30:45Z"
	nonceB := []byte("lgsp-nonce-0001!")
	nonce := base64.StdEncoding.EncodeToString(nonceB)
	digest := soap.PasswordDigestOf(nonceB, created, wssPassword)
	lookup := func(u string) (string, bool) { return wssPassword, u == wssUser }
	tok := func(mod func(s *soap.Security)) *soap.Header {
		s := &soap.Security{Username: wssUser, Password: digest, PasswordType: soap.PasswordDigest, Nonce: nonce, Created: created}
		if mod != nil {
			mod(s)
		}
		return &soap.Header{Security: s}
	}
	cases := []struct {
		name string
		h    *soap.Header
		want bus.Code // "" = accepted
	}{
		{"digest", tok(nil), ""},
		{"replayed nonce", tok(nil), "auth.replay"},
		{"text", tok(func(s *soap.Security) { s.Password, s.PasswordType, s.Nonce = wssPassword, soap.PasswordText, "" }), ""},
		{"text without nonce or created", tok(func(s *soap.Security) {
			s.Password, s.PasswordType, s.Nonce, s.Created = wssPassword, soap.PasswordText, "", ""
		}), ""},
		{"wrong password", tok(func(s *soap.Security) { s.Password, s.PasswordType, s.Nonce = "sai", soap.PasswordText, "" }), "auth.bad_signature"},
		{"digest of another password", tok(func(s *soap.Security) {
			s.Nonce = base64.StdEncoding.EncodeToString([]byte("n2"))
			s.Password = soap.PasswordDigestOf([]byte("n2"), created, "sai")
		}), "auth.bad_signature"},
		{"unknown user", tok(func(s *soap.Security) { s.Username = "ai-do" }), "auth.bad_signature"},
		{"stale", tok(func(s *soap.Security) { s.Created = "2026-03-01T02:20:00Z" }), "auth.clock_skew"},
		{"from the future", tok(func(s *soap.Security) { s.Created = "2026-03-01T02:40:00Z" }), "auth.clock_skew"},
		{"timestamp expired", tok(func(s *soap.Security) {
			s.Timestamp = &soap.Timestamp{Created: now.Add(-20 * time.Minute), Expires: now.Add(-10 * time.Minute)}
		}), "auth.clock_skew"},
		{"nonce not base64", tok(func(s *soap.Security) { s.Nonce = "!!" }), "auth.malformed"},
		{"digest without nonce", tok(func(s *soap.Security) { s.Nonce = "" }), "auth.malformed"},
		{"unknown password type", tok(func(s *soap.Security) { s.PasswordType = "urn:x#Hash" }), "auth.algorithm"},
		{"no token", &soap.Header{}, "auth.missing"},
	}
	cache := soap.NewNonceCache(10)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := cache.VerifyUsernameToken(tc.h, lookup, now, 5*time.Minute)
			if bus.CodeOf(err) != tc.want {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
		})
	}
	t.Run("bounded cache refuses instead of forgetting fresh nonces", func(t *testing.T) {
		small := soap.NewNonceCache(2)
		var last error
		for i := range 3 {
			n := []byte{byte(i), 1, 2, 3}
			h := tok(func(s *soap.Security) {
				s.Nonce = base64.StdEncoding.EncodeToString(n)
				s.Password = soap.PasswordDigestOf(n, created, wssPassword)
			})
			last = small.VerifyUsernameToken(h, lookup, now, 5*time.Minute)
		}
		if bus.CodeOf(last) != "system.busy" || small.Len() != 2 {
			t.Fatalf("third nonce: %v (len %d)", last, small.Len())
		}
		// Once the window has passed the old nonces are forgotten.
		later := now.Add(11 * time.Minute)
		n := []byte("later")
		h := tok(func(s *soap.Security) {
			s.Created = later.Format(time.RFC3339)
			s.Nonce = base64.StdEncoding.EncodeToString(n)
			s.Password = soap.PasswordDigestOf(n, s.Created, wssPassword)
		})
		if err := small.VerifyUsernameToken(h, lookup, later, 5*time.Minute); err != nil || small.Len() != 1 {
			t.Fatalf("after the window: %v (len %d)", err, small.Len())
		}
	})
}

// TestWSSEndToEnd: our client's digest is verified by our server, and the
// same envelope sent twice is refused as a replay.
func TestWSSEndToEnd(t *testing.T) {
	f := newFixture(t, fixtureOpts{requireWSS: true})
	for _, v := range versions {
		c := newClient(t, f.URL, soap.WithVersion(v), soap.WithUsernameToken(wssUser, wssPassword, true), soap.WithTimestamp(time.Minute))
		var got GetExchangeResponse
		if err := c.Call(t.Context(), actGetExchange, &GetExchange{Id: "ex-1"}, &got); err != nil || got.Status != "delivered" {
			t.Fatalf("%s: %v %+v", v, err, got)
		}
		bad := newClient(t, f.URL, soap.WithVersion(v), soap.WithUsernameToken(wssUser, "sai", true))
		if err := bad.Call(t.Context(), actGetExchange, &GetExchange{Id: "ex-1"}, nil); bus.CodeOf(err) != "auth.bad_signature" {
			t.Fatalf("%s wrong password: %v", v, err)
		}
		anon := newClient(t, f.URL, soap.WithVersion(v))
		if err := anon.Call(t.Context(), actGetExchange, &GetExchange{Id: "ex-1"}, nil); bus.CodeOf(err) != "auth.missing" {
			t.Fatalf("%s anonymous: %v", v, err)
		}
	}
	created := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	nonce := []byte("replay-test-1234")
	env := `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><wsse:Security s:mustUnderstand="1" xmlns:wsse="` + soap.NSWSSE + `" xmlns:wsu="` + soap.NSWSU + `"><wsse:UsernameToken><wsse:Username>sgtvt</wsse:Username><wsse:Password Type="` + soap.PasswordDigest + `">` +
		soap.PasswordDigestOf(nonce, created, wssPassword) + `</wsse:Password><wsse:Nonce>` + base64.StdEncoding.EncodeToString(nonce) + `</wsse:Nonce><wsu:Created>` + created +
		`</wsu:Created></wsse:UsernameToken></wsse:Security></s:Header><s:Body><GetExchange xmlns="urn:lgsp:test:citizen"><Id>ex-1</Id></GetExchange></s:Body></s:Envelope>`
	if status, _, body := post(t, f.URL, "text/xml", env); status != http.StatusOK {
		t.Fatalf("first: %d %s", status, body)
	}
	if status, _, body := post(t, f.URL, "text/xml", env); status != 500 || !strings.Contains(body, "auth.replay") {
		t.Fatalf("replay: %d %s", status, body)
	}
}
