package people

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzSafeNext: whatever next= a visitor sends, the redirect target stays
// on this host — resolved against the node's address it has the node's
// scheme and host — and is either next itself or the console's home.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"", "/console/", "//evil", "https://evil/", "/\\evil", "/a?b=c#d", "/%2F%2Fevil", "\x00", "/\t/evil", "http:/evil", "/.//evil"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://lgsp.tuyenquang.gov.vn/console/login")
	f.Fuzz(func(t *testing.T, next string) {
		got := SafeNext(next)
		if got != next && got != "/console/" {
			t.Fatalf("SafeNext(%q) = %q", next, got)
		}
		u, err := base.Parse(got)
		if err != nil {
			t.Fatalf("SafeNext(%q) = %q does not parse: %v", next, got, err)
		}
		if u.Host != base.Host || u.Scheme != base.Scheme {
			t.Fatalf("SafeNext(%q) = %q leaves the host: %s", next, got, u)
		}
		// What a browser does with the Location header: backslashes are
		// slashes, tabs and newlines are dropped.
		loose := strings.NewReplacer("\\", "/", "\t", "", "\n", "", "\r", "").Replace(got)
		if strings.HasPrefix(loose, "//") {
			t.Fatalf("SafeNext(%q) = %q is protocol-relative for a browser", next, got)
		}
	})
}

// FuzzLoginForm: any login form body gets a coded answer, never a session
// without the right password, and never a 5xx.
func FuzzLoginForm(f *testing.F) {
	f.Add("login=a&password=b&csrf=c")
	f.Add("%zz")
	f.Add(strings.Repeat("a=b&", 3000))
	s := New(Options{Store: nil, MaxLoginBytes: 8 << 10})
	h := s.LoginHandler(nil)
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, LoginPath, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req) // no login cookie: refused before the store
		if w.Code < 400 || w.Code >= 500 {
			t.Fatalf("body %q: status %d", body, w.Code)
		}
		if strings.Contains(w.Header().Get("Set-Cookie"), CookieName+"=") && !strings.Contains(w.Header().Get("Set-Cookie"), "Max-Age=0") {
			t.Fatalf("body %q set a session cookie", body)
		}
	})
}

// BenchmarkLoginFormWorstCase: the memory of refusing the largest login
// form the node reads (8 KiB of distinct short fields: the most map
// entries).
func BenchmarkLoginFormWorstCase(b *testing.B) {
	var sb strings.Builder
	for i := 0; sb.Len() < 8<<10-8; i++ {
		fmt.Fprintf(&sb, "%x=&", i)
	}
	body := sb.String()
	s := New(Options{MaxLoginBytes: 8 << 10})
	h := s.LoginHandler(nil)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, LoginPath, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}
