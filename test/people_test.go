package test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/tuyenquang/lgsp/bus/people"
)

// console is a browser-like client of a node's console: a cookie jar, no
// automatic redirects (the tests look at each one).
type console struct {
	t    *testing.T
	n    *node
	http *http.Client
}

func newConsole(t *testing.T, n *node) *console {
	jar, _ := cookiejar.New(nil)
	return &console{t: t, n: n, http: &http.Client{Jar: jar, Transport: http.DefaultClient.Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var hiddenCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// do sends a request and returns the status, the Location and the body.
func (c *console) do(method, path string, form url.Values, hdr map[string]string) (int, string, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.n.url+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// csrf reads the hidden csrf field of a page.
func (c *console) csrf(path string) string {
	c.t.Helper()
	st, _, body := c.do("GET", path, nil, map[string]string{"Accept": "text/html"})
	m := hiddenCSRF.FindStringSubmatch(body)
	if st != http.StatusOK || m == nil {
		c.t.Fatalf("GET %s: %d, no csrf field in %.300s", path, st, body)
	}
	return m[1]
}

// login fills the login form; it returns the status, Location and body.
func (c *console) login(login, password, totp, next string) (int, string, string) {
	c.t.Helper()
	tok := c.csrf(people.LoginPath)
	return c.do("POST", people.LoginPath, url.Values{"csrf": {tok}, "login": {login}, "password": {password}, "totp": {totp}, "next": {next}}, nil)
}

func (c *console) cookie(name string) *http.Cookie {
	u, _ := url.Parse(c.n.url)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

const testPassword = "mật khẩu đủ dài 2026"

func addPerson(t *testing.T, n *node, p people.Person) people.Person {
	t.Helper()
	got, err := n.svc.People().Add(context.Background(), "test", p, testPassword)
	if err != nil {
		t.Fatalf("adding %s: %v", p.Login, err)
	}
	return got
}

// TestConsoleLoginSession: the contract other parts of the console build
// on, on both stores — a page needs a session (a browser is sent to the
// login form), the form logs in and sets the cookie, the page shows the
// person, logout needs the CSRF token and ends the session.
func TestConsoleLoginSession(t *testing.T) {
	for _, dialect := range []string{"sqlite", "mysql"} {
		t.Run(dialect, func(t *testing.T) {
			n := startNode(t, dialect)
			addPerson(t, n, people.Person{Login: "quantri", Name: "Quản trị viên", Unit: "UBND tỉnh", Roles: []string{people.RoleAdmin}})
			c := newConsole(t, n)

			st, loc, _ := c.do("GET", "/console/", nil, map[string]string{"Accept": "text/html"})
			if st != http.StatusSeeOther || loc != people.LoginPath+"?next=%2Fconsole%2F" {
				t.Fatalf("GET /console/ without session: %d → %q, want 303 to the login form", st, loc)
			}
			st, _, body := c.do("GET", "/console/", nil, nil)
			if st != http.StatusUnauthorized || !strings.Contains(body, "people.unauthenticated") {
				t.Fatalf("GET /console/ as API without session: %d %s", st, body)
			}

			st, loc, body = c.login("quantri", testPassword, "", "/console/")
			if st != http.StatusSeeOther || loc != "/console/" {
				t.Fatalf("login: %d → %q %s", st, loc, body)
			}
			ck := c.cookie(people.CookieName)
			if ck == nil {
				t.Fatal("no session cookie after login")
			}
			st, _, body = c.do("GET", "/console/", nil, map[string]string{"Accept": "text/html"})
			if st != http.StatusOK || !strings.Contains(body, "Quản trị viên (quantri)") {
				t.Fatalf("GET /console/ logged in: %d %.300s", st, body)
			}

			// Logout without the token is refused and changes nothing.
			st, _, body = c.do("POST", people.LogoutPath, url.Values{}, nil)
			if st != http.StatusForbidden || !strings.Contains(body, "people.csrf") {
				t.Fatalf("logout without csrf: %d %s", st, body)
			}
			if st, _, _ := c.do("GET", "/console/", nil, nil); st != http.StatusOK {
				t.Fatalf("session ended by a refused logout: %d", st)
			}
			tok := c.csrf("/console/")
			st, loc, _ = c.do("POST", people.LogoutPath, url.Values{"csrf": {tok}}, nil)
			if st != http.StatusSeeOther || loc != people.LoginPath {
				t.Fatalf("logout: %d → %q", st, loc)
			}
			// The old cookie value no longer opens anything.
			c.http.Jar.SetCookies(mustURL(t, n.url), []*http.Cookie{ck})
			if st, _, _ := c.do("GET", "/console/", nil, nil); st != http.StatusUnauthorized {
				t.Fatalf("the cookie of an ended session still works: %d", st)
			}
		})
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
