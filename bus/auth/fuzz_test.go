package auth

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tuyenquang/lgsp/bus"
)

func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{
		exAuthorization,
		"LGSP-HMAC-SHA256 Credential=AK, SignedHeaders=, Signature=00",
		"LGSP-HMAC-SHA256 Credential=AK,SignedHeaders=a;b;c,Signature=abcd",
		"Bearer x", "", " ", "LGSP-", "LGSP-X Credential==, SignedHeaders=;;, Signature=g",
		"LGSP-HMAC-SHA256 Credential=AK, SignedHeaders=authorization, Signature=00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		a, err := ParseAuthorization(h)
		if err != nil {
			if a2, err2 := ParseAuthorization(h); err2 == nil || err2.Error() != err.Error() || a2.Alg != a.Alg {
				t.Fatalf("not deterministic: %v / %v", err, err2)
			}
			return
		}
		// A parsed header formats to a header that parses to the same.
		b, err := ParseAuthorization(a.String())
		if err != nil {
			t.Fatalf("%q parsed, but its String %q does not: %v", h, a.String(), err)
		}
		if b.String() != a.String() {
			t.Fatalf("round trip %q → %q", a.String(), b.String())
		}
		if checkSignedHeaders(a.SignedHeaders) != nil || !validAccessKey(a.AccessKey) || len(a.Signature) == 0 {
			t.Fatalf("accepted invalid parts: %+v", a)
		}
	})
}

func FuzzCanonicalRequest(f *testing.F) {
	f.Add("POST", "/v1/exchanges", "b=2&a=1", "application/json", "content-type;host", "1790000000", "n0nce-2026-11-26-0001", exBodyHash)
	f.Add("GET", "/t%C3%A0i%20li%E1%BB%87u/%7e", "q=Tuy%C3%AAn+Quang&x&&=", "  a \t b ", "", "0", "0123456789abcdef", EmptySHA256)
	f.Add("PUT", "/a%2Fb//c", "k=a%2Bb&k=a+b;c", "x\ny", "x-a", "1", "----------------", EmptySHA256)
	f.Add("", "", "%zz", "", "authorization", "", "", "")
	f.Fuzz(func(t *testing.T, method, path, query, hval, signed, ts, nonce, hash string) {
		r := &http.Request{Method: method, URL: &url.URL{Path: path, RawQuery: query}, Host: "lgsp.example.gov.vn", Header: http.Header{}}
		if p, err := url.PathUnescape(path); err == nil && strings.Contains(path, "%") {
			r.URL.Path, r.URL.RawPath = p, path
		}
		r.Header.Set("Content-Type", hval)
		r.Header["X-A"] = []string{hval, hval}
		var names []string
		if signed != "" {
			names = strings.Split(signed, ";")
		}
		c1, err1 := CanonicalRequest(r, names, ts, nonce, hash)
		c2, err2 := CanonicalRequest(r, names, ts, nonce, hash)
		if c1 != c2 || (err1 == nil) != (err2 == nil) {
			t.Fatalf("not deterministic: %q %v / %q %v", c1, err1, c2, err2)
		}
		if err1 != nil {
			if bus.CodeOf(err1) != bus.ErrAuthMalformed.Code {
				t.Fatalf("error outside the catalogue: %v", err1)
			}
			return
		}
		// No input can add or remove lines: 9 parts, the headers part
		// having one line per signed header.
		if want := 8 + max(len(names)-1, 0); strings.Count(c1, "\n") != want {
			t.Fatalf("%d line feeds, want %d:\n%s", strings.Count(c1, "\n"), want, c1)
		}
		lines := strings.Split(c1, "\n")
		// Canonicalisation is idempotent.
		if p, err := CanonicalPath(lines[2]); err != nil || p != lines[2] {
			t.Fatalf("path %q canonicalises to %q, %v", lines[2], p, err)
		}
		if q, err := CanonicalQuery(lines[3]); err != nil || q != lines[3] {
			t.Fatalf("query %q canonicalises to %q, %v", lines[3], q, err)
		}
		// The escaped path the server would see gives the same canonical path.
		if p, err := CanonicalPath(r.URL.EscapedPath()); err != nil || p != lines[2] {
			t.Fatalf("escaped path %q → %q, %v", r.URL.EscapedPath(), p, err)
		}
	})
}
