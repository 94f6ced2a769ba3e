package test

import (
	"context"
	"encoding/base32"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus/activity"
	"github.com/tuyenquang/lgsp/bus/people"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
)

// console is a browser-like client of a node's console: a cookie jar, no
// automatic redirects (the tests look at each one).
type console struct {
	t    *testing.T
	n    *node
	http *http.Client
	last http.Header // headers of the last answer
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
	c.last = resp.Header
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

			// A browser's failed login gets the form again, with the message.
			tok := c.csrf(people.LoginPath)
			st, _, body = c.do("POST", people.LoginPath, url.Values{"csrf": {tok}, "login": {"quantri"}, "password": {"không đúng mật khẩu"}}, map[string]string{"Accept": "text/html"})
			if st != http.StatusUnauthorized || !strings.HasPrefix(c.last.Get("Content-Type"), "text/html") || !strings.Contains(body, "Sai tên đăng nhập hoặc mật khẩu") || !hiddenCSRF.MatchString(body) {
				t.Fatalf("failed login in a browser: %d %s %.300s", st, c.last.Get("Content-Type"), body)
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
			tok = c.csrf("/console/")
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

// testClock is a clock the tests move (no sleeps).
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func withClock(n *node) *testClock {
	clk := &testClock{t: time.Now()}
	n.svc.People().SetClock(clk.now)
	return clk
}

// api sends a JSON request of the people API with the session cookie and,
// when csrf is true, the page's CSRF token.
func (c *console) api(method, path, body string, csrf bool) (int, string) {
	c.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.n.url+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if csrf {
		req.Header.Set(people.CSRFHeader, c.csrf("/console/"))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	c.last = resp.Header
	return resp.StatusCode, string(b)
}

// loggedIn returns a console logged in as login (a 303 to /console/).
func loggedIn(t *testing.T, n *node, login, totp string) *console {
	t.Helper()
	c := newConsole(t, n)
	if st, loc, body := c.login(login, testPassword, totp, ""); st != http.StatusSeeOther || loc != "/console/" {
		t.Fatalf("login %s: %d → %q %.300s", login, st, loc, body)
	}
	return c
}

// TestConsoleLoginLockout: a wrong password and an unknown login get the
// same refusal; five failures lock the account with backoff (1 min, then
// 2 min), even for the right password, and the lock lifts when its time
// has passed (clock moved, no sleep); failures from one address across
// logins lock the address. On both stores: the locks are in the store, so
// every node of a cluster sees them.
func TestConsoleLoginLockout(t *testing.T) {
	for _, dialect := range []string{"sqlite", "mysql"} {
		t.Run(dialect, func(t *testing.T) {
			n := startNodeWith(t, dialect, func(c *service.Config) { c.Console.AddressFailures = 8 })
			clk := withClock(n)
			addPerson(t, n, people.Person{Login: "quantri", Name: "Quản trị", Roles: []string{people.RoleAdmin}})
			c := newConsole(t, n)

			st, _, wrong := c.login("quantri", "sai mật khẩu rồi nhé", "", "")
			st2, _, unknown := c.login("khong.ton.tai", testPassword, "", "")
			if st != http.StatusUnauthorized || st2 != st || !strings.Contains(wrong, `"people.login_failed"`) || !strings.Contains(unknown, `"people.login_failed"`) {
				t.Fatalf("wrong password %d %s; unknown login %d %s: want the same 401 people.login_failed", st, wrong, st2, unknown)
			}
			for i := 2; i <= 5; i++ {
				if st, _, body := c.login("quantri", "sai mật khẩu rồi nhé", "", ""); st != http.StatusUnauthorized {
					t.Fatalf("failure %d: %d %s", i, st, body)
				}
			}
			st, _, body := c.login("quantri", testPassword, "", "")
			if st != http.StatusTooManyRequests || !strings.Contains(body, "people.locked") || c.last.Get("Retry-After") != "60" {
				t.Fatalf("right password while locked: %d Retry-After %q %s, want 429 people.locked after 60 s", st, c.last.Get("Retry-After"), body)
			}
			if c.cookie(people.CookieName) != nil {
				t.Fatal("a locked login set a session cookie")
			}
			clk.add(61 * time.Second)
			// One more failure after the lock: twice as long (backoff).
			if st, _, _ := c.login("quantri", "sai mật khẩu rồi nhé", "", ""); st != http.StatusUnauthorized {
				t.Fatalf("failure after the lock: %d", st)
			}
			if st, _, _ := c.login("quantri", testPassword, "", ""); st != http.StatusTooManyRequests || c.last.Get("Retry-After") != "120" {
				t.Fatalf("after the sixth failure: %d Retry-After %q, want 429 for 120 s", st, c.last.Get("Retry-After"))
			}
			clk.add(121 * time.Second)
			if st, loc, body := c.login("quantri", testPassword, "", ""); st != http.StatusSeeOther || loc != "/console/" {
				t.Fatalf("right password after the lock: %d %q %s", st, loc, body)
			}

			// The address: 8 failures in all from here (6 above), spread over
			// logins, lock it for every login, the right one included.
			for _, l := range []string{"a.b", "c.d"} {
				c.login(l, "không phải mật khẩu", "", "")
			}
			if st, _, body := c.login("quantri", testPassword, "", ""); st != http.StatusTooManyRequests || !strings.Contains(body, "people.locked") {
				t.Fatalf("locked address: %d %s", st, body)
			}
		})
	}
}

// totpCode reads the secret of an otpauth:// URI and computes the code of t.
func totpCode(t *testing.T, uri string, at time.Time) string {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(u.Query().Get("secret"))
	if err != nil {
		t.Fatal(err)
	}
	return people.TOTPCode(secret, people.TOTPStep(at))
}

// TestConsoleTOTP: with a second factor enrolled, the password alone asks
// for the code (without counting a failure), a wrong code is refused, the
// right one logs in, and the same code is not accepted twice.
func TestConsoleTOTP(t *testing.T) {
	n := startNode(t, "sqlite")
	clk := withClock(n)
	addPerson(t, n, people.Person{Login: "baomat", Name: "Cán bộ an toàn", Roles: []string{people.RoleSecurity}})
	uri, err := n.svc.People().EnrollTOTP(context.Background(), "test", "baomat")
	if err != nil {
		t.Fatal(err)
	}
	c := newConsole(t, n)
	if st, _, body := c.login("baomat", testPassword, "", ""); st != http.StatusUnauthorized || !strings.Contains(body, "people.totp_invalid") {
		t.Fatalf("no code: %d %s", st, body)
	}
	code := totpCode(t, uri, clk.now())
	wrong := fmt.Sprintf("%06d", (atoi(code)+1)%1000000)
	if st, _, body := c.login("baomat", testPassword, wrong, ""); st != http.StatusUnauthorized || !strings.Contains(body, "people.totp_invalid") {
		t.Fatalf("wrong code: %d %s", st, body)
	}
	if st, _, body := c.login("baomat", "sai mật khẩu nhưng mã đúng", code, ""); st != http.StatusUnauthorized || !strings.Contains(body, "people.login_failed") {
		t.Fatalf("wrong password with the right code: %d %s", st, body)
	}
	if st, loc, body := c.login("baomat", testPassword, code, ""); st != http.StatusSeeOther || loc != "/console/" {
		t.Fatalf("right code: %d %q %s", st, loc, body)
	}
	if st, _, body := newConsole(t, n).login("baomat", testPassword, code, ""); st != http.StatusUnauthorized || !strings.Contains(body, "people.totp_invalid") {
		t.Fatalf("the same code again: %d %s", st, body)
	}
	clk.add(30 * time.Second)
	loggedIn(t, n, "baomat", totpCode(t, uri, clk.now()))
}

func atoi(s string) int {
	v := 0
	for _, r := range s {
		v = v*10 + int(r-'0')
	}
	return v
}

// TestConsoleCSRF: a state change with a valid session but without the
// page's token, with a wrong one, or from another origin is refused and
// changes nothing; with the token it is done.
func TestConsoleCSRF(t *testing.T) {
	n := startNode(t, "sqlite")
	addPerson(t, n, people.Person{Login: "quantri", Name: "Quản trị", Roles: []string{people.RoleAdmin}})
	c := loggedIn(t, n, "quantri", "")
	body := `{"login":"can.bo","name":"Cán bộ","unit":"Sở Y tế","roles":["operator"],"password":"một mật khẩu đủ dài"}`
	if st, out := c.api("POST", "/admin/v1/people", body, false); st != http.StatusForbidden || !strings.Contains(out, "people.csrf") {
		t.Fatalf("no token: %d %s", st, out)
	}
	req, _ := http.NewRequest("POST", n.url+"/admin/v1/people", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(people.CSRFHeader, strings.Repeat("A", 43))
	if resp, err := c.http.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("wrong token: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	req, _ = http.NewRequest("POST", n.url+"/admin/v1/people", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(people.CSRFHeader, c.csrf("/console/"))
	req.Header.Set("Origin", "https://evil.example")
	if resp, err := c.http.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("other origin: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if _, err := n.svc.People().ByLogin(context.Background(), "can.bo"); err == nil {
		t.Fatal("a refused request created the person")
	}
	if st, out := c.api("POST", "/admin/v1/people", body, true); st != http.StatusCreated || !strings.Contains(out, `"login":"can.bo"`) || strings.Contains(out, "mật khẩu") {
		t.Fatalf("with the token: %d %s", st, out)
	}
}

// TestConsoleSessionTimeouts: a session used within the idle timeout
// lives on, one left idle longer ends; one used all along still ends at
// the absolute timeout. The clock is moved, nothing sleeps.
func TestConsoleSessionTimeouts(t *testing.T) {
	n := startNodeWith(t, "sqlite", func(c *service.Config) {
		c.Console.IdleTimeout, c.Console.AbsoluteTimeout = 30*time.Minute, 2*time.Hour
	})
	clk := withClock(n)
	addPerson(t, n, people.Person{Login: "kiemtoan", Name: "Kiểm toán", Roles: []string{people.RoleAuditor}})
	get := func(c *console) int {
		st, _ := c.api("GET", "/console/", "", false)
		return st
	}
	c := loggedIn(t, n, "kiemtoan", "")
	for i := range 3 { // 3 × 29 min: used, so alive past the idle timeout
		clk.add(29 * time.Minute)
		if st := get(c); st != http.StatusOK {
			t.Fatalf("used every 29 min, request %d: %d", i, st)
		}
	}
	clk.add(31 * time.Minute)
	if st := get(c); st != http.StatusUnauthorized {
		t.Fatalf("after 31 idle minutes: %d, want 401", st)
	}

	c = loggedIn(t, n, "kiemtoan", "")
	for i := range 4 { // 4 × 25 min = 100 min < 2 h
		clk.add(25 * time.Minute)
		if st := get(c); st != http.StatusOK {
			t.Fatalf("request %d: %d", i, st)
		}
	}
	clk.add(21 * time.Minute) // 121 min after login, 21 min after the last use
	if st := get(c); st != http.StatusUnauthorized {
		t.Fatalf("past the absolute timeout: %d, want 401", st)
	}
}

// TestConsoleUnitOperator: a unit operator sees and acts on its own unit's
// systems only — the server refuses another unit's system by URL, its keys,
// and the people API — and reads its own unit's activity and reports only;
// an auditor cannot issue keys but reads every unit's activity (M2, M6).
func TestConsoleUnitOperator(t *testing.T) {
	n := startNode(t, "sqlite")
	ctx := context.Background()
	for _, s := range []store.System{{Code: "000.00.11.H60", Name: "Hệ thống Y tế", Unit: "Sở Y tế"}, {Code: "000.00.12.H60", Name: "Hệ thống Tư pháp", Unit: "Sở Tư pháp"}} {
		if _, _, err := n.svc.Registry().AddSystem(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	otherKey, _, err := n.svc.Registry().IssueKey(ctx, "000.00.12.H60", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	addPerson(t, n, people.Person{Login: "vanhanh.yte", Name: "Vận hành Sở Y tế", Unit: "Sở Y tế", Roles: []string{people.RoleOperator}})
	addPerson(t, n, people.Person{Login: "kiemtoan", Name: "Kiểm toán", Roles: []string{people.RoleAuditor}})
	op := loggedIn(t, n, "vanhanh.yte", "")

	st, out := op.api("GET", "/admin/v1/systems", "", false)
	if st != http.StatusOK || !strings.Contains(out, "000.00.11.H60") || strings.Contains(out, "000.00.12.H60") {
		t.Fatalf("operator's list: %d %s", st, out)
	}
	if st, out := op.api("GET", "/admin/v1/systems/000.00.11.H60", "", false); st != http.StatusOK {
		t.Fatalf("own system: %d %s", st, out)
	}
	for _, tc := range []struct{ method, path string }{
		{"GET", "/admin/v1/systems/000.00.12.H60"},
		{"POST", "/admin/v1/systems/000.00.12.H60/keys"},
		{"POST", "/admin/v1/keys/" + otherKey + "/revoke"},
		{"GET", "/admin/v1/people"},
		{"POST", "/admin/v1/systems/000.00.11.H60/suspend"}, // admin token only
	} {
		st, out := op.api(tc.method, tc.path, "", tc.method != "GET")
		if st != http.StatusForbidden && st != http.StatusUnauthorized {
			t.Errorf("operator %s %s: %d %s, want a refusal", tc.method, tc.path, st, out)
		}
	}
	if keys, _ := n.svc.Registry().Keys(ctx, "000.00.12.H60"); len(keys) != 1 || keys[0].Status != store.KeyActive {
		t.Fatalf("the other unit's keys changed: %+v", keys)
	}
	if st, out := op.api("POST", "/admin/v1/systems/000.00.11.H60/keys", "", true); st != http.StatusCreated || !strings.Contains(out, "secret_key") {
		t.Fatalf("own system's key: %d %s", st, out)
	}
	aud := loggedIn(t, n, "kiemtoan", "")
	if st, out := aud.api("POST", "/admin/v1/systems/000.00.11.H60/keys", "", true); st != http.StatusForbidden || !strings.Contains(out, "people.forbidden") {
		t.Fatalf("auditor issuing a key: %d %s", st, out)
	}

	// The activity log and reports (M6): the operator reads its unit's
	// only, asked for or not; the auditor every unit's.
	n.svc.Activity().Record(ctx, activity.Entry{Kind: "test.other_unit", SystemCode: "000.00.12.H60", Unit: "Sở Tư pháp", Outcome: "ok"})
	if err := n.svc.Activity().Flush(ctx); err != nil {
		t.Fatal(err)
	}
	st, out = op.api("GET", "/admin/v1/activity?limit=1000", "", false)
	if st != http.StatusOK || !strings.Contains(out, `"unit":"Sở Y tế"`) || strings.Contains(out, `"unit":"Sở Tư pháp"`) || strings.Contains(out, "test.other_unit") {
		t.Fatalf("operator's activity: %d %.500s", st, out)
	}
	other := url.QueryEscape("Sở Tư pháp")
	for _, path := range []string{"/admin/v1/activity?unit=" + other, "/admin/v1/reports?from=2026-01-01&to=2026-12-31&unit=" + other, "/admin/v1/activity/verify"} {
		if st, out := op.api("GET", path, "", false); st != http.StatusForbidden || !strings.Contains(out, "people.forbidden") {
			t.Errorf("operator GET %s: %d %s", path, st, out)
		}
	}
	if st, out := op.api("GET", "/admin/v1/reports?from=2026-01-01&to=2026-12-31", "", false); st != http.StatusOK {
		t.Errorf("operator's own report: %d %s", st, out)
	}
	if st, out := aud.api("GET", "/admin/v1/activity?unit="+other, "", false); st != http.StatusOK || !strings.Contains(out, "test.other_unit") {
		t.Errorf("auditor reading another unit's activity: %d %.300s", st, out)
	}
	if st, out := aud.api("GET", "/admin/v1/activity/verify", "", false); st != http.StatusOK || !strings.Contains(out, `"ok":true`) {
		t.Errorf("auditor verifying: %d %s", st, out)
	}
}

// TestConsoleDisabledSessionEnds: disabling an account (admin API) ends
// its session at once; so does a disabled flag set behind the API's back.
func TestConsoleDisabledSessionEnds(t *testing.T) {
	n := startNode(t, "sqlite")
	ctx := context.Background()
	p := addPerson(t, n, people.Person{Login: "vanhanh", Name: "Vận hành", Unit: "Sở Y tế", Roles: []string{people.RoleOperator}})
	addPerson(t, n, people.Person{Login: "quantri", Name: "Quản trị", Roles: []string{people.RoleAdmin}})
	c := loggedIn(t, n, "vanhanh", "")
	admin := loggedIn(t, n, "quantri", "")
	if st, out := admin.api("PUT", "/admin/v1/people/vanhanh", `{"name":"Vận hành","unit":"Sở Y tế","roles":["operator"],"disabled":true}`, true); st != http.StatusOK || !strings.Contains(out, `"disabled":true`) {
		t.Fatalf("disabling: %d %s", st, out)
	}
	if st, _ := c.api("GET", "/console/", "", false); st != http.StatusUnauthorized {
		t.Fatalf("a disabled account's session still works: %d", st)
	}
	if st, _, _ := c.login("vanhanh", testPassword, "", ""); st != http.StatusUnauthorized {
		t.Fatalf("a disabled account logged in: %d", st)
	}
	// The last administrator cannot disable itself.
	if st, out := admin.api("PUT", "/admin/v1/people/quantri", `{"name":"Quản trị","roles":["admin"],"disabled":true}`, true); st != http.StatusUnprocessableEntity || !strings.Contains(out, "people.invalid") {
		t.Fatalf("disabling the last administrator: %d %s", st, out)
	}

	// Behind the API's back (another node, a database edit): the flag
	// alone ends the session.
	if _, err := n.svc.People().Update(ctx, "test", people.Person{ID: p.ID, Name: "Vận hành", Unit: "Sở Y tế", Roles: []string{people.RoleOperator}}); err != nil {
		t.Fatal(err)
	}
	c = loggedIn(t, n, "vanhanh", "")
	sp, err := n.svc.Store().GetPerson(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	sp.Disabled = true
	if err := n.svc.Store().UpdatePerson(ctx, sp); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.api("GET", "/console/", "", false); st != http.StatusUnauthorized {
		t.Fatalf("session of an account disabled in the store: %d", st)
	}
}

// setCookie returns the Set-Cookie line of name in h.
func setCookie(h http.Header, name string) string {
	for _, v := range h.Values("Set-Cookie") {
		if strings.HasPrefix(v, name+"=") {
			return v
		}
	}
	return ""
}

// TestConsoleCookieFlags: the session cookie is HttpOnly, SameSite=Lax
// and not readable by scripts; Secure with console.secure_cookies (a TLS
// proxy in front) and on a node serving TLS itself.
func TestConsoleCookieFlags(t *testing.T) {
	t.Run("tls", func(t *testing.T) {
		pki := newPKI(t, "CA tỉnh Tuyên Quang")
		n, _, _ := startTLSNode(t, "sqlite", pki, nil)
		addPerson(t, n, people.Person{Login: "quantri", Name: "Quản trị", Roles: []string{people.RoleAdmin}})
		c := newConsole(t, n)
		c.http.Transport = pki.httpsClient().Transport
		if st, loc, body := c.login("quantri", testPassword, "", ""); st != http.StatusSeeOther || loc != "/console/" {
			t.Fatalf("login over TLS: %d %q %.200s", st, loc, body)
		}
		line := setCookie(c.last, people.CookieName)
		for _, want := range []string{"HttpOnly", "SameSite=Lax", "Secure"} {
			if !strings.Contains(line, want) {
				t.Errorf("cookie over TLS %q lacks %s", line, want)
			}
		}
	})
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("secure_cookies=%v", secure), func(t *testing.T) {
			n := startNodeWith(t, "sqlite", func(c *service.Config) { c.Console.SecureCookies = secure })
			addPerson(t, n, people.Person{Login: "quantri", Name: "Quản trị", Roles: []string{people.RoleAdmin}})
			c := newConsole(t, n)
			c.login("quantri", testPassword, "", "")
			line := setCookie(c.last, people.CookieName)
			if line == "" {
				t.Fatalf("no session cookie: %v", c.last.Values("Set-Cookie"))
			}
			for _, want := range []string{"HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=43200"} {
				if !strings.Contains(line, want) {
					t.Errorf("cookie %q lacks %s", line, want)
				}
			}
			if strings.Contains(line, "Secure") != secure {
				t.Errorf("cookie %q: Secure should be %v", line, secure)
			}
		})
	}
}

// TestConsoleLoginAttacks: the login form against huge and slow bodies,
// open redirects through next=, session fixation, a login without the
// form's token, and credentials of the wrong kind.
func TestConsoleLoginAttacks(t *testing.T) {
	const grace = time.Second
	n := startNodeWith(t, "sqlite", func(c *service.Config) {
		c.Limits.BodyGrace, c.Limits.BodyMaxStall = grace, grace
	})
	addPerson(t, n, people.Person{Login: "quantri", Name: "Quản trị", Roles: []string{people.RoleAdmin}})
	sys := n.system(t, "000.00.01.H60", "Văn phòng")

	t.Run("huge body", func(t *testing.T) {
		s, err := openSlow(t, n.url, people.LoginPath, 40<<30, 0)
		if err != nil {
			t.Fatal(err)
		}
		resp, took, err := s.outcome(2 * time.Second)
		if err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge || resp.Header.Get("X-LGSP-Error-Code") != "request.too_large" {
			t.Fatalf("40 GiB declared: %v %v", resp, err)
		}
		if took > time.Second {
			t.Fatalf("answered after %s", took)
		}
		c := newConsole(t, n)
		tok := c.csrf(people.LoginPath)
		st, _, _ := c.do("POST", people.LoginPath, url.Values{"csrf": {tok}, "login": {"quantri"}, "password": {testPassword}, "x": {strings.Repeat("a", 64<<10)}}, nil)
		if st != http.StatusRequestEntityTooLarge || c.cookie(people.CookieName) != nil {
			t.Fatalf("64 KiB form with the right password: %d, cookie %v", st, c.cookie(people.CookieName))
		}
	})
	t.Run("slow body", func(t *testing.T) {
		s, err := openSlow(t, n.url, people.LoginPath, 200, 3)
		if err != nil {
			t.Fatal(err)
		}
		resp, took, err := s.outcome(grace + 3*time.Second)
		if err != nil || resp.StatusCode != http.StatusRequestTimeout || resp.Header.Get("X-LGSP-Error-Code") != "request.too_slow" {
			t.Fatalf("dripping login: %v %v, want 408 request.too_slow", resp, err)
		}
		if took < grace || took > grace+2*time.Second {
			t.Fatalf("cut after %s", took)
		}
	})
	t.Run("open redirect", func(t *testing.T) {
		for _, next := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example", "http:/evil.example", "javascript:alert(1)", " //evil.example"} {
			c := newConsole(t, n)
			st, loc, _ := c.login("quantri", testPassword, "", next)
			if st != http.StatusSeeOther || loc != "/console/" {
				t.Errorf("next=%q: %d → %q, want /console/", next, st, loc)
			}
		}
		c := newConsole(t, n)
		if st, loc, _ := c.login("quantri", testPassword, "", "/console/systems?unit=x"); st != http.StatusSeeOther || loc != "/console/systems?unit=x" {
			t.Errorf("a local next: %d → %q", st, loc)
		}
		// The form echoes next only when it is safe.
		st, _, body := c.do("GET", people.LoginPath+"?next="+url.QueryEscape("//evil.example"), nil, nil)
		if st != http.StatusOK || strings.Contains(body, "evil.example") {
			t.Errorf("login form with next=//evil: %d, echoes it: %v", st, strings.Contains(body, "evil.example"))
		}
	})
	t.Run("session fixation", func(t *testing.T) {
		// The attacker logs in, then plants its own session cookie in the
		// victim's browser; the victim logs in: a new token, and the planted
		// one is dead.
		attacker := loggedIn(t, n, "quantri", "")
		planted := attacker.cookie(people.CookieName)
		victim := newConsole(t, n)
		victim.http.Jar.SetCookies(mustURL(t, n.url), []*http.Cookie{{Name: people.CookieName, Value: planted.Value, Path: "/"}})
		if st, _, _ := victim.login("quantri", testPassword, "", ""); st != http.StatusSeeOther {
			t.Fatalf("victim's login: %d", st)
		}
		if got := victim.cookie(people.CookieName); got == nil || got.Value == planted.Value {
			t.Fatalf("the session token was not renewed at login: %v", got)
		}
		if st, _ := attacker.api("GET", "/console/", "", false); st != http.StatusUnauthorized {
			t.Fatalf("the planted session survived the victim's login: %d", st)
		}
		// A made-up token is not a session either.
		forged := newConsole(t, n)
		forged.http.Jar.SetCookies(mustURL(t, n.url), []*http.Cookie{{Name: people.CookieName, Value: strings.Repeat("x", 43), Path: "/"}})
		if st, _ := forged.api("GET", "/console/", "", false); st != http.StatusUnauthorized {
			t.Fatalf("forged cookie: %d", st)
		}
	})
	t.Run("login without the form's token", func(t *testing.T) {
		c := newConsole(t, n)
		st, _, body := c.do("POST", people.LoginPath, url.Values{"login": {"quantri"}, "password": {testPassword}}, nil)
		if st != http.StatusForbidden || !strings.Contains(body, "people.csrf") || c.cookie(people.CookieName) != nil {
			t.Fatalf("login CSRF: %d %s", st, body)
		}
	})
	t.Run("wrong kind of credentials", func(t *testing.T) {
		c := newConsole(t, n)
		// A system's secret key as a bearer token of the people API.
		st, body := c.apiWith("GET", "/admin/v1/people", map[string]string{"Authorization": "Bearer " + sys.SecretKey})
		if st != http.StatusUnauthorized || !strings.Contains(body, "admin.unauthorized") {
			t.Fatalf("system secret as admin token: %d %s", st, body)
		}
		// A person's session does not open the systems' REST API.
		admin := loggedIn(t, n, "quantri", "")
		if st, _ := admin.api("GET", "/v1/inbox", "", false); st != http.StatusUnauthorized {
			t.Fatalf("session cookie on /v1/inbox: %d", st)
		}
		// The people API refuses fields it does not take (a login in the
		// body of PUT names someone else than the path).
		st, body = admin.api("PUT", "/admin/v1/people/quantri", `{"login":"someone.else","name":"x","roles":["admin"]}`, true)
		if st != http.StatusBadRequest {
			t.Fatalf("PUT with a login in the body: %d %s", st, body)
		}
	})
}

// apiWith sends a GET with extra headers (no cookie jar changes).
func (c *console) apiWith(method, path string, hdr map[string]string) (int, string) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.n.url+path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestConsoleActivity: logins, failures, guarded actions and refusals are
// in the activity log with the person's login; a password never is, in the
// log or the node's log file.
func TestConsoleActivity(t *testing.T) {
	n := startNode(t, "sqlite")
	addPerson(t, n, people.Person{Login: "quantri", Name: "Quản trị", Roles: []string{people.RoleAdmin}})
	addPerson(t, n, people.Person{Login: "kiemtoan", Name: "Kiểm toán", Roles: []string{people.RoleAuditor}})
	const typedPassword = "mat-khau-go-nham-o-o-dang-nhap"
	newConsole(t, n).login(typedPassword, testPassword, "", "")
	newConsole(t, n).login("quantri", typedPassword, "", "")
	c := loggedIn(t, n, "quantri", "")
	c.api("POST", "/admin/v1/people", `{"login":"moi","name":"Mới","roles":["auditor"],"password":"`+testPassword+`"}`, true)
	aud := loggedIn(t, n, "kiemtoan", "")
	aud.api("POST", "/admin/v1/people/moi/unlock", "", true)
	c.do("POST", people.LogoutPath, url.Values{"csrf": {c.csrf("/console/")}}, nil)
	if err := n.svc.Activity().Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	entries, err := n.svc.Store().ListActivity(context.Background(), store.ActivityFilter{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Kind+" "+e.Actor+" "+e.Outcome)
		for _, f := range []string{e.Actor, e.Subject, e.Detail} {
			if strings.Contains(f, typedPassword) || strings.Contains(f, testPassword) {
				t.Errorf("activity entry %+v holds a password", e)
			}
		}
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{
		"console.login person:(unknown) people.login_failed",
		"console.login person:quantri people.login_failed",
		"console.login person:quantri ok",
		"console.people.write person:quantri ok",
		"people.add person:quantri ok",
		"console.lockouts.write person:kiemtoan people.forbidden",
		"console.logout person:quantri ok",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("activity log lacks %q:\n%s", want, all)
		}
	}
	logText, _ := os.ReadFile(n.logFile)
	if strings.Contains(string(logText), typedPassword) || strings.Contains(string(logText), testPassword) {
		t.Error("the node's log holds a password")
	}
}

// TestConsoleSessionTwoNodesOneMariaDB: a session started on one node is
// accepted by another node on the same MariaDB (a load balancer may send
// the next request anywhere), a logout on the second ends it on the first,
// and a lockout earned on one node holds on the other.
func TestConsoleSessionTwoNodesOneMariaDB(t *testing.T) {
	a := startNodeWith(t, "mysql", func(c *service.Config) { c.Node = "node-a" })
	b := startNodeWith(t, "sqlite", func(c *service.Config) {
		c.Node = "node-b"
		c.Store = a.dsn
		c.MasterKeyFile = filepath.Join(a.dataDir, "master.key")
	})
	addPerson(t, a, people.Person{Login: "quantri", Name: "Quản trị", Roles: []string{people.RoleAdmin}})
	onA := loggedIn(t, a, "quantri", "")
	onB := newConsole(t, b)
	onB.http.Jar.SetCookies(mustURL(t, b.url), []*http.Cookie{onA.cookie(people.CookieName)})
	if st, _, body := onB.do("GET", "/console/", nil, nil); st != http.StatusOK || !strings.Contains(body, "(quantri)") {
		t.Fatalf("node b with node a's session: %d %.200s", st, body)
	}
	tok := onB.csrf("/console/")
	if st, _, _ := onB.do("POST", people.LogoutPath, url.Values{"csrf": {tok}}, nil); st != http.StatusSeeOther {
		t.Fatalf("logout on node b: %d", st)
	}
	if st, _, _ := onA.do("GET", "/console/", nil, nil); st != http.StatusUnauthorized {
		t.Fatalf("node a after logout on node b: %d", st)
	}
	c := newConsole(t, a)
	for range 5 {
		c.login("quantri", "sai mật khẩu rồi nhé", "", "")
	}
	if st, _, body := newConsole(t, b).login("quantri", testPassword, "", ""); st != http.StatusTooManyRequests || !strings.Contains(body, "people.locked") {
		t.Fatalf("node b after 5 failures on node a: %d %s", st, body)
	}
}
