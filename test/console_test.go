package test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/tuyenquang/lgsp/adapters/rest"
	"github.com/tuyenquang/lgsp/bus/people"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
)

// Systems and people of the console tests: two units besides the
// province's, an administrator and an operator of the health department.
const (
	cwProvince = "000.00.00.H60" // UBND tỉnh
	cwHealth   = "000.00.07.H60" // Sở Y tế: its webhook refuses (dead letters)
	cwSchool   = "000.00.08.H60" // Sở Giáo dục
	cwHealthU  = "Sở Y tế"
	cwSchoolU  = "Sở Giáo dục"
)

type consoleWorld struct {
	n        *node
	toHealth string // exchange province → health (its webhook is a dead letter)
	toSchool string // exchange province → school (not the health operator's)
}

// newConsoleWorld starts a node with the systems, people, two exchanges
// and a dead letter the console tests look at.
func newConsoleWorld(t *testing.T) *consoleWorld {
	t.Helper()
	n := startNodeWith(t, "sqlite", func(c *service.Config) { c.Webhooks.AllowCIDRs = []string{"127.0.0.0/8"} })
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadRequest) }))
	t.Cleanup(hook.Close)
	ctx := context.Background()
	n.system(t, cwProvince, "UBND tỉnh Tuyên Quang")
	for _, s := range []store.System{{Code: cwHealth, Name: "Sở Y tế", Unit: cwHealthU, WebhookURL: hook.URL}, {Code: cwSchool, Name: "Sở Giáo dục và Đào tạo", Unit: cwSchoolU}} {
		if _, _, err := n.svc.Registry().AddSystem(ctx, s); err != nil {
			t.Fatal(err)
		}
		ak, sk, err := n.svc.Registry().IssueKey(ctx, s.Code, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		n.clients[s.Code] = &rest.Client{BaseURL: n.url, AccessKey: ak, SecretKey: sk}
	}
	addPerson(t, n, people.Person{Login: "quantri", Name: "Quản trị viên", Roles: []string{people.RoleAdmin}})
	addPerson(t, n, people.Person{Login: "vanhanh", Name: "Cán bộ Sở Y tế", Unit: cwHealthU, Roles: []string{people.RoleOperator}})
	w := &consoleWorld{n: n}
	w.toHealth = sendSmall(t, n, cwProvince, cwHealth)
	w.toSchool = sendSmall(t, n, cwProvince, cwSchool)
	// One finished exchange, so that today's rollups (the overview, the
	// reports) have a line.
	sendAndConfirm(t, n, n.clients[cwProvince], []byte("<cv>báo cáo tuần</cv>"), n.clients[cwSchool])
	eventually(t, "a dead letter for the health department", func() (bool, error) {
		return len(outboxItems(t, n.svc.Store(), store.OutboxDead)) == 1, nil
	})
	return w
}

// page GETs a console page as a browser would (Accept: text/html).
func (c *console) page(path string) (int, string) {
	c.t.Helper()
	st, _, body := c.do("GET", path, nil, map[string]string{"Accept": "text/html"})
	return st, body
}

func (c *console) mustLogin(login string) {
	c.t.Helper()
	if st, loc, body := c.login(login, testPassword, "", "/console/"); st != http.StatusSeeOther || loc != "/console/" {
		c.t.Fatalf("login %s: %d %q %.300s", login, st, loc, body)
	}
}

// post sends a console form with the page's CSRF token.
func (c *console) post(path string, form url.Values) (int, string, string) {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", c.csrf("/console/"))
	return c.do("POST", path, form, map[string]string{"Accept": "text/html"})
}

func wantIn(t *testing.T, what, body string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(body, p) {
			t.Fatalf("%s: %q missing from %.2000s", what, p, body)
		}
	}
}

// TestConsolePagesAdmin: the administrator sees every page, in Vietnamese
// by default and in English on ?lang=en; registers a system and issues a
// key whose secret is shown once; sees an exchange's ledger and no
// payload; retries a dead letter through delivery.Ops; downloads a report
// as an XLSX file that parses.
func TestConsolePagesAdmin(t *testing.T) {
	w := newConsoleWorld(t)
	c := newConsole(t, w.n)
	c.mustLogin("quantri")
	today := time.Now().In(store.StatsZone).Format("2006-01-02")

	for path, parts := range map[string][]string{
		"/console/":                                       {`lang="vi"`, "Tổng quan", "Lưu lượng 30 ngày qua", `id="chart-data"`, "Thư chết", `id="backlog-dead">1<`, "Bỏ qua, đến nội dung chính"},
		"/console/systems":                                {cwProvince, cwHealth, cwSchool, "Đăng ký hệ thống"},
		"/console/systems/" + cwHealth:                    {"Sở Y tế", "Cấp khóa mới", "Khóa truy cập"},
		"/console/exchanges?system=" + cwProvince:         {w.toHealth, w.toSchool},
		"/console/exchanges/" + w.toHealth:                {"Sổ cái giao dịch", "requested", "accepted", cwHealth},
		"/console/deliveries":                             {"webhook", cwHealth, "Gửi lại"},
		"/console/routes":                                 {"van-ban", "bao-cao", "Các tệp tuyến hợp lệ"},
		"/console/reports?from=" + today + "&to=" + today: {"Tải về XLSX", `id="report"`},
		"/console/activity":                               {"Nhật ký hoạt động", "Kiểm tra tính toàn vẹn"},
		"/console/people":                                 {"quantri", "vanhanh", "Cán bộ vận hành đơn vị"},
	} {
		st, body := c.page(path)
		if st != http.StatusOK {
			t.Fatalf("GET %s: %d %.500s", path, st, body)
		}
		wantIn(t, path, body, parts...)
		if strings.Contains(body, "họp giao ban") {
			t.Fatalf("GET %s shows a payload", path)
		}
	}
	// Pages cannot be framed, run scripts from elsewhere or be cached.
	resp, err := c.http.Get(w.n.url + "/console/systems")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for h, want := range map[string]string{"Content-Security-Policy": "script-src 'self'", "X-Frame-Options": "DENY", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
		if !strings.Contains(resp.Header.Get(h), want) {
			t.Fatalf("%s: %q, want %q", h, resp.Header.Get(h), want)
		}
	}
	st, body := c.page("/console/?lang=en")
	if st != http.StatusOK {
		t.Fatal(st)
	}
	wantIn(t, "overview in English", body, `lang="en"`, "Overview", "Traffic over the last 30 days", "Dead letters")
	if _, body = c.page("/console/systems"); !strings.Contains(body, "Register a system") {
		t.Fatal("the language cookie is not kept")
	}
	c.page("/console/?lang=vi")

	// Register a system, issue a key: the secret is in the answer, once.
	st, loc, body := c.post("/console/systems", url.Values{"code": {"000.00.09.H60"}, "name": {"Sở Tài chính"}, "unit": {"Sở Tài chính"}})
	if st != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/systems/000.00.09.H60") {
		t.Fatalf("register: %d %q %.500s", st, loc, body)
	}
	st, _, body = c.post("/console/systems/000.00.09.H60/keys", url.Values{})
	wantIn(t, "issued key", body, "chỉ hiển thị một lần", `id="issued-secret-key"`)
	if st != http.StatusCreated {
		t.Fatalf("issue: %d", st)
	}
	keys, _ := w.n.svc.Registry().Keys(context.Background(), "000.00.09.H60")
	if len(keys) != 1 || !strings.Contains(body, keys[0].AccessKey) {
		t.Fatalf("keys after issue: %+v", keys)
	}
	if _, again := c.page("/console/systems/000.00.09.H60"); strings.Contains(again, "issued-secret-key") {
		t.Fatal("the secret is shown again")
	}

	// Suspend and resume, webhook, grants, rotate and revoke keys, reload
	// routes, add a person, verify the activity log: each through the
	// same functions as the admin API.
	ctx := context.Background()
	const fin = "000.00.09.H60"
	mustPost := func(path string, form url.Values, want int) string {
		t.Helper()
		st, _, body := c.post(path, form)
		if st != want {
			t.Fatalf("POST %s: %d, want %d: %.500s", path, st, want, body)
		}
		return body
	}
	mustPost("/console/systems/"+fin+"/suspend", nil, http.StatusSeeOther)
	if sys, _ := w.n.svc.Registry().Get(ctx, fin); sys.Status != store.SystemSuspended {
		t.Fatalf("after suspend: %q", sys.Status)
	}
	mustPost("/console/systems/"+fin+"/resume", nil, http.StatusSeeOther)
	if sys, _ := w.n.svc.Registry().Get(ctx, fin); sys.Status != store.SystemActive {
		t.Fatalf("after resume: %q", sys.Status)
	}
	mustPost("/console/systems/"+fin+"/grants", url.Values{"kind": {"exchange"}, "destination": {cwHealth}, "data_type": {"edoc"}}, http.StatusSeeOther)
	grants, _ := w.n.svc.Store().ListGrants(ctx, store.GrantFilter{Source: fin})
	if len(grants) != 1 || grants[0].Destination != cwHealth || grants[0].CreatedBy != "person:quantri" {
		t.Fatalf("grants after add: %+v", grants)
	}
	mustPost("/console/grants/"+grants[0].ID+"/revoke", nil, http.StatusSeeOther)
	if grants, _ = w.n.svc.Store().ListGrants(ctx, store.GrantFilter{Source: fin}); len(grants) != 0 {
		t.Fatalf("grants after revoke: %+v", grants)
	}
	body = mustPost("/console/keys/"+keys[0].AccessKey+"/rotate", url.Values{"overlap_hours": {"1"}}, http.StatusCreated)
	wantIn(t, "rotated key", body, `id="issued-secret-key"`, "Khóa cũ còn dùng được đến")
	mustPost("/console/keys/"+keys[0].AccessKey+"/revoke", nil, http.StatusSeeOther)
	if k, _ := w.n.svc.Store().GetKey(ctx, keys[0].AccessKey); k.Status != store.KeyRevoked {
		t.Fatalf("after revoke: %q", k.Status)
	}
	hist, err := w.n.svc.Registry().History(ctx, fin, 10)
	if err != nil || len(hist) < 3 {
		t.Fatalf("key history: %+v %v", hist, err)
	}
	for _, e := range hist {
		if e.Actor != "person:quantri" {
			t.Fatalf("a key event made in the console names %q", e.Actor)
		}
	}
	mustPost("/console/routes/reload", nil, http.StatusSeeOther)
	mustPost("/console/people", url.Values{"login": {"kiemtoan"}, "name": {"Kiểm toán viên"}, "roles": {people.RoleAuditor}, "password": {testPassword}}, http.StatusSeeOther)
	if p, err := w.n.svc.People().ByLogin(ctx, "kiemtoan"); err != nil || len(p.Roles) != 1 || p.Roles[0] != people.RoleAuditor {
		t.Fatalf("added person: %+v %v", p, err)
	}
	mustPost("/console/people/kiemtoan", url.Values{"roles": {people.RoleAuditor}, "disabled": {"on"}}, http.StatusSeeOther)
	if p, _ := w.n.svc.People().ByLogin(ctx, "kiemtoan"); !p.Disabled {
		t.Fatal("the person is not disabled")
	}
	body = mustPost("/console/activity/verify", nil, http.StatusOK)
	wantIn(t, "verification", body, `id="verify-result"`)
	// A bad field is refused with its coded error, in the page's language.
	body = mustPost("/console/systems", url.Values{"code": {"not a code"}, "name": {"x"}}, http.StatusUnprocessableEntity)
	wantIn(t, "bad system", body, `id="error"`)

	// Retry the dead letter.
	dead := outboxItems(t, w.n.svc.Store(), store.OutboxDead)
	st, loc, body = c.post("/console/deliveries/"+itoa64(dead[0].ID)+"/retry", nil)
	if st != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/deliveries") {
		t.Fatalf("retry: %d %q %.500s", st, loc, body)
	}
	evs, _ := w.n.svc.Store().Events(context.Background(), w.toHealth)
	found := false
	for _, e := range evs {
		found = found || e.Kind == "delivery_requeued" && strings.Contains(e.Actor+e.Detail, "quantri")
	}
	if !found {
		t.Fatalf("no delivery_requeued event naming the person in %+v", evs)
	}

	// The report downloads as XLSX that parses.
	st, _, body = c.do("GET", "/console/reports/download?from="+today+"&to="+today+"&by=system&format=xlsx", nil, nil)
	if st != http.StatusOK {
		t.Fatalf("xlsx: %d %.300s", st, body)
	}
	f, err := excelize.OpenReader(bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatalf("the XLSX does not parse: %v", err)
	}
	f.Close()
}

// TestConsolePagesUnitOperator: a unit operator sees only the unit's systems in
// the menu and the lists, and is refused (people.forbidden, nothing
// changed) when asking another unit's system, key or exchange by URL (M6);
// forms without the CSRF token and requests without a session are
// refused.
func TestConsolePagesUnitOperator(t *testing.T) {
	w := newConsoleWorld(t)
	c := newConsole(t, w.n)

	// No session: a page sends to the login form, a form post is refused.
	if st, loc, _ := c.do("GET", "/console/systems", nil, map[string]string{"Accept": "text/html"}); st != http.StatusSeeOther || !strings.HasPrefix(loc, people.LoginPath) {
		t.Fatalf("no session: %d %q", st, loc)
	}
	if st, _, body := c.do("POST", "/console/systems/"+cwHealth+"/keys", url.Values{}, nil); st != http.StatusUnauthorized {
		t.Fatalf("no session post: %d %s", st, body)
	}

	c.mustLogin("vanhanh")
	st, body := c.page("/console/")
	if st != http.StatusOK {
		t.Fatalf("overview: %d %.300s", st, body)
	}
	for _, hidden := range []string{`id="menu-people"`, `id="menu-routes"`, `id="backlog-dead"`} {
		if strings.Contains(body, hidden) {
			t.Fatalf("the operator's overview shows %s", hidden)
		}
	}
	wantIn(t, "operator menu", body, `id="menu-systems"`, `id="menu-exchanges"`, `id="menu-reports"`)
	_, body = c.page("/console/systems")
	wantIn(t, "operator systems", body, cwHealth)
	if strings.Contains(body, cwSchool) || strings.Contains(body, cwProvince) {
		t.Fatalf("the operator sees another unit's system: %.1000s", body)
	}
	_, body = c.page("/console/exchanges")
	wantIn(t, "operator exchanges", body, `id="search-form"`)
	if strings.Contains(body, w.toSchool) {
		t.Fatal("the operator's search lists another unit's exchange")
	}
	if st, body := c.page("/console/exchanges/" + w.toHealth); st != http.StatusOK || !strings.Contains(body, "Sổ cái") {
		t.Fatalf("the operator cannot see an exchange addressed to the unit: %d", st)
	}
	for _, path := range []string{"/console/systems/" + cwSchool, "/console/exchanges/" + w.toSchool, "/console/exchanges?system=" + cwSchool,
		"/console/people", "/console/routes", "/console/activity?system=" + cwSchool} {
		st, body := c.page(path)
		if st != http.StatusForbidden || !strings.Contains(body, "people.forbidden") {
			t.Fatalf("GET %s as the health operator: %d %.300s", path, st, body)
		}
	}
	_, dlBody := c.page("/console/deliveries")
	wantIn(t, "operator deliveries", dlBody, cwHealth)
	if strings.Contains(dlBody, "retry-") {
		t.Fatal("the operator is offered a retry")
	}

	before, _ := w.n.svc.Registry().Keys(context.Background(), cwSchool)
	st, _, body = c.post("/console/systems/"+cwSchool+"/keys", url.Values{})
	if st != http.StatusForbidden || !strings.Contains(body, "people.forbidden") {
		t.Fatalf("issuing a key of another unit: %d %.300s", st, body)
	}
	k := before[0].AccessKey
	if st, _, _ = c.post("/console/keys/"+k+"/revoke", nil); st != http.StatusForbidden {
		t.Fatalf("revoking another unit's key: %d", st)
	}
	after, _ := w.n.svc.Registry().Keys(context.Background(), cwSchool)
	if len(after) != len(before) || after[0].Status != store.KeyActive {
		t.Fatalf("another unit's keys changed: %+v", after)
	}
	if st, _, _ = c.post("/console/systems/"+cwSchool+"/suspend", nil); st != http.StatusForbidden {
		t.Fatalf("suspending: %d", st)
	}
	// Its own system's keys it may issue.
	if st, _, body = c.post("/console/systems/"+cwHealth+"/keys", url.Values{}); st != http.StatusCreated {
		t.Fatalf("issuing a key of its own unit: %d %.300s", st, body)
	}
	// A form without the CSRF token changes nothing.
	n0, _ := w.n.svc.Registry().Keys(context.Background(), cwHealth)
	st, _, body = c.do("POST", "/console/systems/"+cwHealth+"/keys", url.Values{}, nil)
	if st != http.StatusForbidden || !strings.Contains(body, "people.csrf") {
		t.Fatalf("post without csrf: %d %s", st, body)
	}
	n1, _ := w.n.svc.Registry().Keys(context.Background(), cwHealth)
	if len(n1) != len(n0) {
		t.Fatal("a post without the CSRF token issued a key")
	}
	// A huge form is refused before anything runs; the token in the header
	// works as well as in the form.
	huge := url.Values{"csrf": {c.csrf("/console/")}, "expires": {strings.Repeat("9", 2<<20)}}
	st, _, body = c.do("POST", "/console/systems/"+cwHealth+"/keys", huge, nil)
	if st != http.StatusRequestEntityTooLarge && st != http.StatusForbidden {
		t.Fatalf("a 2 MiB form: %d %.300s", st, body)
	}
	st, _, body = c.do("POST", "/console/systems/"+cwHealth+"/keys", url.Values{}, map[string]string{"X-CSRF-Token": c.csrf("/console/")})
	if st != http.StatusCreated {
		t.Fatalf("token in the header: %d %.300s", st, body)
	}
	if n2, _ := w.n.svc.Registry().Keys(context.Background(), cwHealth); len(n2) != len(n1)+1 {
		t.Fatalf("keys: %d then %d", len(n1), len(n2))
	}
	// Reports are the unit's own.
	today := time.Now().In(store.StatsZone).Format("2006-01-02")
	if st, _ = c.page("/console/reports?from=" + today + "&to=" + today); st != http.StatusOK {
		t.Fatalf("reports: %d", st)
	}
}

func itoa64(v int64) string { return strconv.FormatInt(v, 10) }
