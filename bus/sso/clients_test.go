package sso

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzClientValidate: whatever an administrator (or a forged admin
// request) sends as a registration, validation does not panic, and what it
// accepts has only absolute http(s) URIs without fragment or user.
func FuzzClientValidate(f *testing.F) {
	f.Add("app-a", "App", "https://app.example/cb", "https://app.example/bye", "operator")
	f.Add("x", "", "javascript:alert(1)", "", "")
	f.Add("ok-app", "n", "https://u:p@host/cb#frag", "http://[::1]:80/", "root")
	f.Fuzz(func(t *testing.T, id, name, redirect, postLogout, role string) {
		c := Client{ID: id, Name: name, RedirectURIs: []string{redirect}, PostLogoutURIs: []string{postLogout}, Roles: []string{role}}
		if c.validate() != nil {
			return
		}
		for _, s := range []string{redirect, postLogout} {
			u, err := url.Parse(s)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" || u.User != nil {
				t.Fatalf("accepted URI %q", s)
			}
		}
		if !clientIDRe.MatchString(id) {
			t.Fatalf("accepted id %q", id)
		}
	})
}

// BenchmarkClientValidateWorst: the largest registration validation
// accepts (20 redirect URIs of 2000 bytes); run with -benchmem.
func BenchmarkClientValidateWorst(b *testing.B) {
	uri := "https://app.example/" + strings.Repeat("a", 1980)
	c := Client{ID: "app-a", Name: strings.Repeat("n", 200)}
	for range 20 {
		c.RedirectURIs = append(c.RedirectURIs, uri)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := c.validate(); err != nil {
			b.Fatal(err)
		}
	}
}
