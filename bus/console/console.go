package console

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/delivery"
	"github.com/tuyenquang/lgsp/bus/people"
	"github.com/tuyenquang/lgsp/bus/route"
	"github.com/tuyenquang/lgsp/bus/store"
)

//go:embed assets/templates/*.html assets/style.css assets/console.js assets/vendor/chart.umd.min.js assets/vendor/chart.js-LICENSE.md
var assets embed.FS

// Prefix is where the console lives.
const Prefix = "/console/"

// Store is what the console reads and changes in the store: exchanges'
// metadata and ledgers, keys, statistics, alerts and the backlog, the
// activity log, and dead letters (through delivery.Ops).
type Store interface {
	store.ExchangeStore
	store.LedgerStore
	store.OutboxStore
	store.StatsStore
	store.AlertStore
	store.ActivityStore
	store.RegistryStore
	store.PlatformKeyStore // checkpoints' public keys (activity.Verify)
}

// Options is what the console is built from; bus/service fills it with the
// node's own objects, so pages and the admin API run the same code.
type Options struct {
	People *people.Service
	Store  Store
	// UpstreamName and UpstreamLogin, when set, add a "log in with" link
	// to the login form: the upstream identity provider's label (VNeID …)
	// and the path that starts its login (bus/sso), to which the form's
	// next= is passed.
	UpstreamName, UpstreamLogin string
	Registry                    *auth.Registry
	Grants                      *auth.Grants
	// Routes returns the running route set; Reload loads the route files
	// again (service.Reload); Lint lints the files on disk without
	// installing them and returns their problems (nil: clean).
	Routes func() *route.Set
	Reload func() (*route.Set, error)
	Lint   func() error
	// Node names this node (dead-letter actions are recorded with it).
	Node string
	// Log receives faults of the store (never payload text).
	Log logrus.FieldLogger
	// Now is the clock (tests move it); nil: time.Now.
	Now func() time.Time
}

// Console serves the pages.
type Console struct {
	o     Options
	pages map[string]*template.Template
}

var funcs = template.FuncMap{
	"time": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.In(store.StatsZone).Format("2006-01-02 15:04:05")
	},
	"join": strings.Join,
	"has": func(list []string, s string) bool {
		for _, x := range list {
			if x == s {
				return true
			}
		}
		return false
	},
	"roleText": func(t map[string]string, role string) string { return t["role_"+role] },
}

// New builds the console and parses its templates (a template that does
// not parse is a programming error: it panics at start, and the tests see
// it).
func New(o Options) *Console {
	if o.Log == nil {
		l := logrus.New()
		l.SetOutput(nopWriter{})
		o.Log = l
	}
	c := &Console{o: o, pages: map[string]*template.Template{}}
	names, err := fs.Glob(assets, "assets/templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "assets/templates/"), ".html")
		if base == "layout" {
			continue
		}
		c.pages[base] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(assets, "assets/templates/layout.html", n))
	}
	return c
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

func (c *Console) now() time.Time {
	if c.o.Now != nil {
		return c.o.Now()
	}
	return time.Now()
}

// menuItem is one entry of the menu, shown only when the person's roles
// allow its action on their own unit (or on every unit).
type menuItem struct {
	Key, Path, Action string
}

var menu = []menuItem{
	{"overview", "/console/", people.ActConsoleView},
	{"systems", "/console/systems", people.ActSystemsRead},
	{"exchanges", "/console/exchanges", people.ActExchangesRead},
	{"deliveries", "/console/deliveries", people.ActDeliveriesRead},
	{"routes", "/console/routes", people.ActRoutesRead},
	{"reports", "/console/reports", people.ActReportsRead},
	{"activity", "/console/activity", people.ActActivityRead},
	{"people", "/console/people", people.ActPeopleRead},
}

// page is what every template gets.
type page struct {
	Lang     string
	T        map[string]string
	P        people.Person
	CSRF     string
	Menu     []menuItem
	Active   string
	Title    string
	LangLink string // this page in the other language
	Done     string // text of a finished action (?done=)
	Err      *bus.Error
	ErrText  string
	Data     any
}

func (c *Console) newPage(w http.ResponseWriter, r *http.Request, active string) *page {
	lang := language(w, r)
	t := textsVI
	if lang == LangEN {
		t = textsEN
	}
	p, _ := people.FromContext(r.Context())
	pg := &page{Lang: lang, T: t, P: p, CSRF: c.o.People.CSRF(r), Active: active, Title: t[active]}
	for _, m := range menu {
		if people.Can(p, m.Action, p.Unit) {
			pg.Menu = append(pg.Menu, m)
		}
	}
	q := url.Values{}
	for k, v := range r.URL.Query() {
		if k != "lang" && k != "done" {
			q[k] = v
		}
	}
	q.Set("lang", t["other_lang_code"])
	pg.LangLink = r.URL.Path + "?" + q.Encode()
	if d := r.URL.Query().Get("done"); d != "" {
		if _, ok := texts[d]; ok {
			pg.Done = t[d]
		}
	}
	return pg
}

// render executes a page into a buffer first, so that a template fault
// never sends half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, name string, pg *page, status int) {
	var buf bytes.Buffer
	if err := c.pages[name].Execute(&buf, pg); err != nil {
		c.o.Log.WithError(err).WithField("page", name).Error("console: rendering a page")
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	csp := "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
	if name == "login" {
		// Browsers apply form-action to every redirect after the submit:
		// a login started by an application (bus/sso) ends, through
		// /oidc, at that application's redirect URI on another origin,
		// which 'self' would block. The form's action is fixed by the
		// template; scripts stay 'self' only.
		csp = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'"
	}
	h.Set("Content-Security-Policy", csp)
	if status != 0 {
		w.WriteHeader(status)
	}
	_, _ = w.Write(buf.Bytes())
}

// fail answers with the error page: the coded error's text in the page's
// language and its code, never the request's content.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := bus.AsError(err)
	if e.Def.Status >= 500 {
		c.o.Log.WithError(err).WithField("path", r.URL.Path).Error("console: request failed")
	}
	pg := c.newPage(w, r, "error")
	pg.Title = pg.T["error"]
	pg.Err = e
	pg.ErrText = e.Def.VI
	if pg.Lang == LangEN {
		pg.ErrText = e.Def.EN
	}
	c.render(w, r, "error", pg, e.Def.Status)
}

// allow checks the person's right to act on one unit's object (M6) and
// answers the refusal itself.
func (c *Console) allow(w http.ResponseWriter, r *http.Request, action, unit string) bool {
	if err := c.o.People.Allow(r, action, unit); err != nil {
		c.fail(w, r, err)
		return false
	}
	return true
}

// person returns the request's person (Guard put it there).
func person(r *http.Request) people.Person {
	p, _ := people.FromContext(r.Context())
	return p
}

// systems lists the systems the person may take action on, by code.
func (c *Console) systems(ctx context.Context, p people.Person, action string) ([]store.System, error) {
	list, err := c.o.Registry.List(ctx)
	if err != nil {
		return nil, err
	}
	out := list[:0:0]
	for _, s := range list {
		if people.Can(p, action, s.Unit) {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out, nil
}

// unitScope is the unit a person's reads are limited to: "" for roles
// allowed on every unit, else the person's unit. ok is false when the
// person may read nothing (an operator without a unit).
func unitScope(p people.Person, action string) (unit string, ok bool) {
	if people.Can(p, action, "") {
		return "", true
	}
	if p.Unit != "" && people.Can(p, action, p.Unit) {
		return p.Unit, true
	}
	return "", false
}

// ops is the dead-letter engine acting as the person.
func (c *Console) ops(p people.Person) *delivery.Ops {
	return &delivery.Ops{Store: c.o.Store, Actor: "person:" + p.Login, Node: c.o.Node, Now: c.o.Now}
}

// redirectDone sends the browser back to path with the done text key.
func redirectDone(w http.ResponseWriter, r *http.Request, path, done string) {
	http.Redirect(w, r, path+"?done="+url.QueryEscape(done), http.StatusSeeOther)
}

// Mount mounts the console, its login page and its assets on handle.
func (c *Console) Mount(handle func(pattern string, h http.Handler)) {
	g := c.o.People.Guard
	hf := func(f http.HandlerFunc) http.Handler { return parseForm(c, f) }
	handle(people.LoginPath, c.o.People.LoginHandler(c.loginPage))
	handle(people.LogoutPath, c.o.People.LogoutHandler())
	handle("GET /console/assets/{file...}", http.HandlerFunc(c.asset))
	handle("GET /console/{$}", g(people.ActConsoleView, hf(c.overview)))
	handle("GET /console/systems", g(people.ActSystemsRead, hf(c.systemsPage)))
	handle("POST /console/systems", g(people.ActSystemsWrite, hf(c.registerSystem)))
	handle("GET /console/systems/{code}", g(people.ActSystemsRead, hf(c.systemPage)))
	handle("POST /console/systems/{code}/suspend", g(people.ActSystemsWrite, hf(c.setStatus(true))))
	handle("POST /console/systems/{code}/resume", g(people.ActSystemsWrite, hf(c.setStatus(false))))
	handle("POST /console/systems/{code}/webhook", g(people.ActSystemsWrite, hf(c.setWebhook)))
	handle("POST /console/systems/{code}/keys", g(people.ActKeysWrite, hf(c.issueKey)))
	handle("POST /console/keys/{ak}/rotate", g(people.ActKeysWrite, hf(c.rotateKey)))
	handle("POST /console/keys/{ak}/revoke", g(people.ActKeysWrite, hf(c.revokeKey)))
	handle("POST /console/systems/{code}/grants", g(people.ActGrantsWrite, hf(c.addGrant)))
	handle("POST /console/grants/{id}/revoke", g(people.ActGrantsWrite, hf(c.revokeGrant)))
	handle("GET /console/exchanges", g(people.ActExchangesRead, hf(c.exchangesPage)))
	handle("GET /console/exchanges/{id}", g(people.ActExchangesRead, hf(c.exchangePage)))
	handle("GET /console/deliveries", g(people.ActDeliveriesRead, hf(c.deliveriesPage)))
	handle("POST /console/deliveries/{id}/retry", g(people.ActDeliveriesWrite, hf(c.deliveryAction(true))))
	handle("POST /console/deliveries/{id}/discard", g(people.ActDeliveriesWrite, hf(c.deliveryAction(false))))
	handle("GET /console/routes", g(people.ActRoutesRead, hf(c.routesPage)))
	handle("POST /console/routes/reload", g(people.ActRoutesReload, hf(c.reloadRoutes)))
	handle("GET /console/reports", g(people.ActReportsRead, hf(c.reportsPage)))
	handle("GET /console/reports/download", g(people.ActReportsRead, hf(c.reportDownload)))
	handle("GET /console/activity", g(people.ActActivityRead, hf(c.activityPage)))
	handle("POST /console/activity/verify", g(people.ActActivityVerify, hf(c.verifyActivity)))
	handle("GET /console/people", g(people.ActPeopleRead, hf(c.peoplePage)))
	handle("POST /console/people", g(people.ActPeopleWrite, hf(c.addPerson)))
	handle("POST /console/people/{login}", g(people.ActPeopleWrite, hf(c.updatePerson)))
}

// parseForm reads the form of a state change (Guard bounded the body to
// 1 MiB; a token sent as X-CSRF-Token leaves the form unread until here):
// an oversized or unreadable form is refused with a coded error and
// nothing runs.
//
// It also names the person as the actor of what the handler changes
// (auth.WithActor): key events, grants and dead-letter actions carry
// "person:<login>", as they do through the admin API.
func parseForm(c *Console, f http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if p, ok := people.FromContext(r.Context()); ok {
			r = r.WithContext(auth.WithActor(r.Context(), "person:"+p.Login))
		}
		if r.Method == http.MethodPost {
			if err := r.ParseForm(); err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					c.fail(w, r, bus.ErrBodyTooLarge.New("a console form is at most %d bytes", mbe.Limit))
					return
				}
				c.fail(w, r, bus.ErrBadRequest.New("unreadable form"))
				return
			}
		}
		f(w, r)
	}
}

// asset serves an embedded file (stylesheet, script, chart library),
// cached for a day.
func (c *Console) asset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	types := map[string]string{"style.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8",
		"vendor/chart.umd.min.js": "text/javascript; charset=utf-8", "vendor/chart.js-LICENSE.md": "text/plain; charset=utf-8"}
	ct, ok := types[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	b, err := assets.ReadFile("assets/" + name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(b)
}

// loginPage is the console's login form (people.LoginHandler's page).
func (c *Console) loginPage(w http.ResponseWriter, r *http.Request, csrf, next string, err error) {
	pg := c.newPage(w, r, "login_title")
	pg.Menu = nil
	// The language link carries only the checked next, never what the
	// query said (no echo of a foreign address).
	pg.LangLink = people.LoginPath + "?" + url.Values{"lang": {pg.T["other_lang_code"]}, "next": {next}}.Encode()
	data := map[string]string{"CSRF": csrf, "Next": next, "Action": people.LoginPath}
	if c.o.UpstreamLogin != "" {
		data["UpstreamName"] = c.o.UpstreamName
		data["UpstreamLink"] = c.o.UpstreamLogin + "?" + url.Values{"next": {next}}.Encode()
	}
	pg.Data = data
	status := 0
	if err != nil {
		// A failed login answers with the error's status, code and
		// Retry-After (a lockout), as the API would.
		pg.Err = bus.AsError(err)
		pg.ErrText = pg.Err.Def.VI
		if pg.Lang == LangEN {
			pg.ErrText = pg.Err.Def.EN
		}
		status = pg.Err.Def.Status
		if pg.Err.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(pg.Err.RetryAfter))
		}
		w.Header().Set("X-LGSP-Error-Code", string(pg.Err.Def.Code))
	}
	c.render(w, r, "login", pg, status)
}
