package auth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestCanonicalPath(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"/v1/exchanges", "/v1/exchanges"},
		{"/a%20b/c d", "/a%20b/c%20d"},
		{"/%7e/~/%7E", "/~/~/~"},
		{"/a+b", "/a%2Bb"},
		{"/a%2fb", "/a%2Fb"},
		{"/t%c3%a0i", "/t%C3%A0i"},
		{"/tài liệu", "/t%C3%A0i%20li%E1%BB%87u"},
		{"/a//b/", "/a//b/"},
		{"/./../x", "/./../x"},
		{"/!*'();:@&=+$,[]", "/%21%2A%27%28%29%3B%3A%40%26%3D%2B%24%2C%5B%5D"},
		{"*", "%2A"},
		{"/%FF%00", "/%FF%00"},
	}
	for _, tc := range cases {
		got, err := CanonicalPath(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("CanonicalPath(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"/%", "/%zz", "/a%2"} {
		_, err := CanonicalPath(bad)
		wantCode(t, err, "auth.malformed")
	}
}

func TestCanonicalQuery(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"b=2&a=1", "a=1&b=2"},
		{"a=2&a=1&a=10", "a=1&a=10&a=2"},
		{"x", "x="},
		{"x=", "x="},
		{"&&a=1&", "a=1"},
		{"=v", "=v"},
		{"a=b=c", "a=b%3Dc"},
		{"q=Tuy%C3%AAn+Quang", "q=Tuy%C3%AAn%20Quang"},
		{"q=Tuyên Quang", "q=Tuy%C3%AAn%20Quang"},
		{"k=a%2Bb&k=a+b", "k=a%20b&k=a%2Bb"},
		{"t=%7e&u=~", "t=~&u=~"},
		{"s=a;b", "s=a%3Bb"},
		{"r=%21%2A%27%28%29%3B%3A%40%26%3D%2B%24%2C%2F%3F%23%5B%5D", "r=%21%2A%27%28%29%3B%3A%40%26%3D%2B%24%2C%2F%3F%23%5B%5D"},
		// Sorted by the encoded names: "%C3%A9" < "z" although "é" > "z".
		{"z=1&%C3%A9=2", "%C3%A9=2&z=1"},
	}
	for _, tc := range cases {
		got, err := CanonicalQuery(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("CanonicalQuery(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"a=%", "a%zz=1", "a=%e"} {
		_, err := CanonicalQuery(bad)
		wantCode(t, err, "auth.malformed")
	}
}

func TestCanonicalHeaders(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "http://h.example:8080/", nil)
	r.Header.Set("Content-Type", "  text/plain;\t\t charset=utf-8  ")
	r.Header.Add("X-Multi", " a  b ")
	r.Header.Add("X-Multi", "c")
	r.Header.Set("X-Empty", "")
	c, err := CanonicalRequest(r, []string{"content-type", "host", "x-empty", "x-multi"}, "1", "nonce-0123456789ab", EmptySHA256)
	if err != nil {
		t.Fatal(err)
	}
	want := "LGSP-HMAC-SHA256\nGET\n/\n\ncontent-type:text/plain; charset=utf-8\nhost:h.example:8080\nx-empty:\nx-multi:a b,c\ncontent-type;host;x-empty;x-multi\n1\nnonce-0123456789ab\n" + EmptySHA256
	if c != want {
		t.Fatalf("canonical:\n%q\nwant:\n%q", c, want)
	}
	// No signed headers: the headers part is an empty line.
	c, err = CanonicalRequest(r, nil, "1", "nonce-0123456789ab", EmptySHA256)
	if err != nil {
		t.Fatal(err)
	}
	if want := "LGSP-HMAC-SHA256\nGET\n/\n\n\n\n1\nnonce-0123456789ab\n" + EmptySHA256; c != want {
		t.Fatalf("canonical:\n%q\nwant:\n%q", c, want)
	}
	// A hand-built request with a control character cannot be signed.
	r.Header.Set("X-Bad", "a\nb")
	_, err = CanonicalRequest(r, []string{"x-bad"}, "1", "nonce-0123456789ab", EmptySHA256)
	wantCode(t, err, "auth.malformed")
}

func TestSignOptions(t *testing.T) {
	r, _ := http.NewRequest(http.MethodGet, "https://lgsp.example.gov.vn/v1/inbox", nil)
	if err := Sign(r, exAccessKey, exSecret, "", mustTime(t), ""); err != nil {
		t.Fatal(err)
	}
	if r.Header.Get(HeaderContentSHA256) != EmptySHA256 {
		t.Fatal("empty body hash not set")
	}
	if n := r.Header.Get(HeaderNonce); checkNonce(n) != nil {
		t.Fatalf("generated nonce %q", n)
	}
	a, err := ParseAuthorization(r.Header.Get(HeaderAuthorization))
	if err != nil || strings.Join(a.SignedHeaders, ";") != "host" {
		t.Fatalf("%+v %v", a, err) // no content-type header: only host
	}
	err = SignWith("LGSP-HMAC-MD5", r, exAccessKey, []byte(exSecret), "", mustTime(t), "")
	wantCode(t, err, "auth.algorithm")
	err = Sign(r, "AK EX", exSecret, "", mustTime(t), "")
	wantCode(t, err, "auth.malformed")
	err = Sign(r, exAccessKey, exSecret, "", mustTime(t), "short")
	wantCode(t, err, "auth.malformed")
}

func TestParseAuthorizationRoundTrip(t *testing.T) {
	for _, h := range []string{
		exAuthorization,
		"LGSP-HMAC-SHA256   Signature=" + exSignature + ",SignedHeaders=,\tCredential=" + exAccessKey + "  ",
	} {
		a, err := ParseAuthorization(h)
		if err != nil {
			t.Fatalf("%q: %v", h, err)
		}
		b, err := ParseAuthorization(a.String())
		if err != nil || b.String() != a.String() || a.AccessKey != exAccessKey {
			t.Fatalf("round trip of %q: %+v %v", h, b, err)
		}
	}
	_, err := ParseAuthorization("LGSP-HMAC-SHA256 Credential=" + exAccessKey + ", SignedHeaders=host, Signature=" + exSignature + strings.Repeat(" ", 4096))
	wantCode(t, err, "auth.malformed")
}

func TestAlgorithmRegistry(t *testing.T) {
	if got := strings.Join(Algorithms(), " "); got != AlgHMACSHA1+" "+AlgHMACSHA256+" "+AlgRSASHA256 {
		t.Fatalf("Algorithms() = %v", got)
	}
	for _, bad := range []Algorithm{hmacAlg{name: AlgHMACSHA256}, hmacAlg{name: "HMAC"}, hmacAlg{name: "LGSP-hmac"}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("RegisterAlgorithm(%q) did not panic", bad.Name())
				}
			}()
			RegisterAlgorithm(bad)
		}()
	}
}

func mustTime(t *testing.T) time.Time {
	t.Helper()
	return time.Unix(1790000000, 0)
}
