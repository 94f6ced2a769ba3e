package console

import (
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/activity"
	"github.com/tuyenquang/lgsp/bus/delivery"
	"github.com/tuyenquang/lgsp/bus/people"
	"github.com/tuyenquang/lgsp/bus/report"
	"github.com/tuyenquang/lgsp/bus/route"
	"github.com/tuyenquang/lgsp/bus/store"
)

// ---- Overview ----

type sysTraffic struct {
	Code, Unit                                 string
	Sent, Received, Confirmed, Failed, Expired int64
}

type chartData struct {
	Labels []string `json:"labels"`
	Docs   []int64  `json:"docs"`
	Failed []int64  `json:"failed"`
}

type overviewData struct {
	Traffic    []sysTraffic
	Docs       int64
	Failures   int64
	ShowQueue  bool
	Backlog    store.Backlog
	ShowAlerts bool
	Alerts     []store.AlertState
	Chart      chartData
	ChartJSON  map[string]any // rendered as JSON by html/template in the data script
}

// ChartDays is how many days the overview's chart covers.
const ChartDays = 30

// overview shows today's traffic per system, failures, the backlog, open
// alerts and the traffic of the last ChartDays days, all from the rollups
// and the backlog counters (M3, R7).
func (c *Console) overview(w http.ResponseWriter, r *http.Request) {
	ctx, p := r.Context(), person(r)
	pg := c.newPage(w, r, "overview")
	unit, ok := unitScope(p, people.ActConsoleView)
	if !ok {
		c.fail(w, r, bus.ErrRoleForbidden.New("%s", people.ActConsoleView))
		return
	}
	now := c.now()
	today := store.Day(now)
	var d overviewData
	rows, err := c.o.Store.Stats(ctx, store.StatsQuery{From: today, To: today, By: "system", Unit: unit, DaysOnly: true})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	idx := map[string]int{}
	for _, row := range rows {
		i, ok := idx[row.SystemCode]
		if !ok {
			i = len(d.Traffic)
			idx[row.SystemCode] = i
			d.Traffic = append(d.Traffic, sysTraffic{Code: row.SystemCode, Unit: row.Unit})
		}
		t := &d.Traffic[i]
		if row.Direction == store.DirIn {
			t.Received += row.Docs
			continue
		}
		t.Sent += row.Docs
		t.Confirmed += row.Confirmed
		t.Failed += row.Failed
		t.Expired += row.Expired
		d.Docs += row.Docs
		d.Failures += row.Failed + row.Expired
	}
	from := now.AddDate(0, 0, -(ChartDays - 1))
	series, err := c.o.Store.Stats(ctx, store.StatsQuery{From: store.Day(from), To: today, By: "unit", Unit: unit, PerDay: true, DaysOnly: true})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	perDay := map[int][2]int64{}
	for _, row := range series {
		if row.Direction != store.DirOut {
			continue
		}
		v := perDay[row.Day]
		v[0] += row.Docs
		v[1] += row.Failed + row.Expired
		perDay[row.Day] = v
	}
	for i := range ChartDays {
		day := from.AddDate(0, 0, i)
		v := perDay[store.Day(day)]
		d.Chart.Labels = append(d.Chart.Labels, day.In(store.StatsZone).Format("2006-01-02"))
		d.Chart.Docs = append(d.Chart.Docs, v[0])
		d.Chart.Failed = append(d.Chart.Failed, v[1])
	}
	d.ChartJSON = map[string]any{"labels": d.Chart.Labels, "docs": d.Chart.Docs, "failed": d.Chart.Failed,
		"docsLabel": pg.T["chart_docs"], "failedLabel": pg.T["chart_failed"]}
	if people.Can(p, people.ActDeliveriesRead, "") {
		d.ShowQueue = true
		if d.Backlog, err = c.o.Store.Backlog(ctx, now); err != nil {
			c.fail(w, r, err)
			return
		}
	}
	if people.Can(p, people.ActAlertsRead, "") {
		d.ShowAlerts = true
		if d.Alerts, err = c.o.Store.ListAlerts(ctx); err != nil {
			c.fail(w, r, err)
			return
		}
	}
	pg.Data = d
	c.render(w, r, "overview", pg, 0)
}

// ---- Systems ----

type systemsData struct {
	Systems  []store.System
	CanWrite bool
}

func (c *Console) systemsPage(w http.ResponseWriter, r *http.Request) {
	p := person(r)
	list, err := c.systems(r.Context(), p, people.ActSystemsRead)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	pg := c.newPage(w, r, "systems")
	pg.Data = systemsData{Systems: list, CanWrite: people.Can(p, people.ActSystemsWrite, "")}
	c.render(w, r, "systems", pg, 0)
}

func (c *Console) registerSystem(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	if !c.allow(w, r, people.ActSystemsWrite, f.Get("unit")) {
		return
	}
	sys, _, err := c.o.Registry.AddSystem(r.Context(), store.System{Code: strings.TrimSpace(f.Get("code")), Name: f.Get("name"),
		Unit: strings.TrimSpace(f.Get("unit")), Contact: f.Get("contact"), WebhookURL: strings.TrimSpace(f.Get("webhook"))})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	redirectDone(w, r, "/console/systems/"+sys.Code, "done")
}

type systemData struct {
	System    store.System
	Keys      []store.Key
	Grants    []store.Grant
	CanWrite  bool
	CanKeys   bool
	CanGrants bool
	Issued    *issued
}

type issued struct {
	AccessKey, SecretKey string
	OldExpires           time.Time
}

// system loads a system and checks the person may take action on its unit.
func (c *Console) system(w http.ResponseWriter, r *http.Request, code, action string) (store.System, bool) {
	sys, err := c.o.Registry.Get(r.Context(), code)
	if err != nil {
		c.fail(w, r, err)
		return sys, false
	}
	return sys, c.allow(w, r, action, sys.Unit)
}

func (c *Console) showSystem(w http.ResponseWriter, r *http.Request, sys store.System, is *issued, status int) {
	ctx, p := r.Context(), person(r)
	keys, err := c.o.Registry.Keys(ctx, sys.Code)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	var grants []store.Grant
	if people.Can(p, people.ActSystemsRead, sys.Unit) {
		if grants, err = c.o.Grants.List(ctx, store.GrantFilter{Source: sys.Code}); err != nil {
			c.fail(w, r, err)
			return
		}
	}
	pg := c.newPage(w, r, "systems")
	pg.Title = sys.Code
	pg.Data = systemData{System: sys, Keys: keys, Grants: grants, Issued: is,
		CanWrite: people.Can(p, people.ActSystemsWrite, sys.Unit), CanKeys: people.Can(p, people.ActKeysWrite, sys.Unit),
		CanGrants: people.Can(p, people.ActGrantsWrite, sys.Unit)}
	c.render(w, r, "system", pg, status)
}

func (c *Console) systemPage(w http.ResponseWriter, r *http.Request) {
	sys, ok := c.system(w, r, r.PathValue("code"), people.ActSystemsRead)
	if !ok {
		return
	}
	c.showSystem(w, r, sys, nil, 0)
}

func (c *Console) setStatus(suspend bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sys, ok := c.system(w, r, r.PathValue("code"), people.ActSystemsWrite)
		if !ok {
			return
		}
		do := c.o.Registry.Resume
		if suspend {
			do = c.o.Registry.Suspend
		}
		if err := do(r.Context(), sys.Code); err != nil {
			c.fail(w, r, err)
			return
		}
		redirectDone(w, r, "/console/systems/"+sys.Code, "done")
	}
}

func (c *Console) setWebhook(w http.ResponseWriter, r *http.Request) {
	sys, ok := c.system(w, r, r.PathValue("code"), people.ActSystemsWrite)
	if !ok {
		return
	}
	if _, err := c.o.Registry.SetWebhook(r.Context(), sys.Code, strings.TrimSpace(r.PostForm.Get("webhook"))); err != nil {
		c.fail(w, r, err)
		return
	}
	redirectDone(w, r, "/console/systems/"+sys.Code, "done")
}

// formDate reads an optional yyyy-mm-dd field as the start of that day in
// Asia/Ho_Chi_Minh.
func formDate(v, name string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation("2006-01-02", v, store.StatsZone)
	if err != nil {
		return t, bus.ErrBadRequest.New("%s must be a date yyyy-mm-dd", name)
	}
	return t, nil
}

// issueKey issues a key and shows its secret once, in the answer to the
// POST itself (never in a URL, never stored in clear).
func (c *Console) issueKey(w http.ResponseWriter, r *http.Request) {
	sys, ok := c.system(w, r, r.PathValue("code"), people.ActKeysWrite)
	if !ok {
		return
	}
	exp, err := formDate(r.PostForm.Get("expires"), "expires")
	if err != nil {
		c.fail(w, r, err)
		return
	}
	ak, sk, err := c.o.Registry.IssueKey(r.Context(), sys.Code, exp)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.showSystem(w, r, sys, &issued{AccessKey: ak, SecretKey: sk}, http.StatusCreated)
}

// keySystem loads the system of an access key and checks the unit.
func (c *Console) keySystem(w http.ResponseWriter, r *http.Request) (store.System, bool) {
	k, err := c.o.Store.GetKey(r.Context(), r.PathValue("ak"))
	if err != nil {
		c.fail(w, r, err)
		return store.System{}, false
	}
	return c.system(w, r, k.SystemCode, people.ActKeysWrite)
}

func (c *Console) rotateKey(w http.ResponseWriter, r *http.Request) {
	sys, ok := c.keySystem(w, r)
	if !ok {
		return
	}
	hours := 24
	if v := r.PostForm.Get("overlap_hours"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 24*30 {
			c.fail(w, r, bus.ErrBadRequest.New("overlap_hours must be 0 to 720"))
			return
		}
		hours = n
	}
	rot, err := c.o.Registry.RotateKey(r.Context(), r.PathValue("ak"), time.Duration(hours)*time.Hour, time.Time{})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.showSystem(w, r, sys, &issued{AccessKey: rot.AccessKey, SecretKey: rot.SecretKey, OldExpires: rot.OldExpires}, http.StatusCreated)
}

func (c *Console) revokeKey(w http.ResponseWriter, r *http.Request) {
	sys, ok := c.keySystem(w, r)
	if !ok {
		return
	}
	if err := c.o.Registry.RevokeKey(r.Context(), r.PathValue("ak")); err != nil {
		c.fail(w, r, err)
		return
	}
	redirectDone(w, r, "/console/systems/"+sys.Code, "done")
}

func (c *Console) addGrant(w http.ResponseWriter, r *http.Request) {
	sys, ok := c.system(w, r, r.PathValue("code"), people.ActGrantsWrite)
	if !ok {
		return
	}
	f := r.PostForm
	_, err := c.o.Grants.Add(r.Context(), store.Grant{Kind: f.Get("kind"), Source: sys.Code, Destination: strings.TrimSpace(f.Get("destination")),
		DataType: strings.TrimSpace(f.Get("data_type")), Service: strings.TrimSpace(f.Get("service")), Scope: strings.TrimSpace(f.Get("scope"))})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	redirectDone(w, r, "/console/systems/"+sys.Code, "done")
}

func (c *Console) revokeGrant(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	list, err := c.o.Grants.List(r.Context(), store.GrantFilter{})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	var g *store.Grant
	for i := range list {
		if list[i].ID == id {
			g = &list[i]
		}
	}
	if g == nil {
		c.fail(w, r, bus.ErrNotFound.New("grant"))
		return
	}
	sys, ok := c.system(w, r, g.Source, people.ActGrantsWrite)
	if !ok {
		return
	}
	if err := c.o.Grants.Revoke(r.Context(), id); err != nil {
		c.fail(w, r, err)
		return
	}
	redirectDone(w, r, "/console/systems/"+sys.Code, "done")
}

// ---- Exchanges ----

// Exchange states a search may ask for.
var exchangeStates = []string{store.ExchangeRequested, store.ExchangeAccepted, store.ExchangeCompleted, store.ExchangeCancelled, store.ExchangeExpired, store.ExchangeFailed}

type exchangesData struct {
	Systems         []store.System
	Routes          []string
	States          []string
	System, Route   string
	State, From, To string
	Exchanges       []store.Exchange
	Searched        bool
}

// MaxSearchDays bounds the period of an exchange search.
const MaxSearchDays = 366

func (c *Console) exchangesPage(w http.ResponseWriter, r *http.Request) {
	ctx, p, q := r.Context(), person(r), r.URL.Query()
	visible, err := c.systems(ctx, p, people.ActExchangesRead)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := exchangesData{Systems: visible, States: exchangeStates, System: q.Get("system"), Route: q.Get("route"), State: q.Get("state"), From: q.Get("from"), To: q.Get("to")}
	if set := c.o.Routes(); set != nil {
		for _, rt := range set.Routes() {
			d.Routes = append(d.Routes, rt.Name)
		}
	}
	now := c.now().In(store.StatsZone)
	if d.From == "" {
		d.From = now.AddDate(0, 0, -6).Format("2006-01-02")
	}
	if d.To == "" {
		d.To = now.Format("2006-01-02")
	}
	from, err := formDate(d.From, "from")
	if err != nil {
		c.fail(w, r, err)
		return
	}
	to, err := formDate(d.To, "to")
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if to.Before(from) || to.Sub(from) > MaxSearchDays*24*time.Hour {
		c.fail(w, r, bus.ErrBadRequest.New("the period must run forward and cover at most %d days", MaxSearchDays))
		return
	}
	if d.State != "" && !slices.Contains(exchangeStates, d.State) {
		c.fail(w, r, bus.ErrBadRequest.New("state must be one of %s", strings.Join(exchangeStates, ", ")))
		return
	}
	var sources []string
	if d.System != "" {
		sys, ok := c.system(w, r, d.System, people.ActExchangesRead)
		if !ok {
			return
		}
		sources = []string{sys.Code}
	} else {
		for _, s := range visible {
			sources = append(sources, s.Code)
		}
	}
	d.Exchanges, err = c.o.Store.SearchExchanges(ctx, store.ExchangeFilter{Sources: sources, Route: d.Route, Status: d.State, From: from, To: to.AddDate(0, 0, 1), Limit: 100})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d.Searched = true
	pg := c.newPage(w, r, "exchanges")
	pg.Data = d
	c.render(w, r, "exchanges", pg, 0)
}

type exchangeData struct {
	X      store.Exchange
	Ledger []store.Event
}

// exchangePage shows one exchange's metadata and ledger (never the
// payload) to a person allowed on the unit of its source or of one of its
// recipients.
func (c *Console) exchangePage(w http.ResponseWriter, r *http.Request) {
	ctx, p := r.Context(), person(r)
	x, err := c.o.Store.GetExchange(ctx, r.PathValue("id"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	allowed := false
	codes := []string{x.Source}
	for _, rc := range x.Recipients {
		codes = append(codes, rc.Code)
	}
	for _, code := range codes {
		if sys, err := c.o.Registry.Get(ctx, code); err == nil && people.Can(p, people.ActExchangesRead, sys.Unit) {
			allowed = true
			break
		}
	}
	if !allowed && !people.Can(p, people.ActExchangesRead, "") {
		// Same refusal as any other unit's object; Allow records it.
		src, _ := c.o.Registry.Get(ctx, x.Source)
		if !c.allow(w, r, people.ActExchangesRead, src.Unit) {
			return
		}
	}
	ledger, err := c.o.Store.Events(ctx, x.ID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	x.Policy, x.WrappedKey = nil, nil
	pg := c.newPage(w, r, "exchanges")
	pg.Title = pg.T["exchange"] + " " + x.ID
	pg.Data = exchangeData{X: x, Ledger: ledger}
	c.render(w, r, "exchange", pg, 0)
}

// ---- Deliveries ----

type deliveriesData struct {
	Items    []delivery.View
	Status   string
	CanWrite bool
}

// deliveryTargets maps the system codes a person may see deliveries of;
// nil means every target.
func (c *Console) deliveryTargets(r *http.Request, p people.Person) (map[string]bool, error) {
	if people.Can(p, people.ActDeliveriesRead, "") {
		return nil, nil
	}
	list, err := c.systems(r.Context(), p, people.ActDeliveriesRead)
	if err != nil {
		return nil, err
	}
	m := map[string]bool{}
	for _, s := range list {
		m[s.Code] = true
	}
	return m, nil
}

func (c *Console) deliveriesPage(w http.ResponseWriter, r *http.Request) {
	p := person(r)
	status := r.URL.Query().Get("status")
	switch status {
	case "", store.OutboxDead:
		status = store.OutboxDead
	case store.OutboxPending, store.OutboxDone:
	default:
		c.fail(w, r, bus.ErrBadRequest.New("status must be dead, pending or done"))
		return
	}
	items, err := c.ops(p).List(r.Context(), store.OutboxFilter{Status: status, Limit: 200})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	targets, err := c.deliveryTargets(r, p)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := deliveriesData{Status: status, CanWrite: people.Can(p, people.ActDeliveriesWrite, p.Unit)}
	for _, it := range items {
		if targets == nil || targets[it.Target] {
			d.Items = append(d.Items, it)
		}
	}
	pg := c.newPage(w, r, "deliveries")
	pg.Data = d
	c.render(w, r, "deliveries", pg, 0)
}

// deliveryAction retries or discards one dead letter through delivery.Ops
// (the same code as the admin API), after checking the target's unit.
func (c *Console) deliveryAction(retry bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := person(r)
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || id <= 0 {
			c.fail(w, r, bus.ErrBadRequest.New("a delivery id is a positive number"))
			return
		}
		ops := c.ops(p)
		items, err := ops.List(r.Context(), store.OutboxFilter{ID: id, Limit: 1})
		if err != nil {
			c.fail(w, r, err)
			return
		}
		if len(items) == 0 {
			c.fail(w, r, bus.ErrNotFound.New("delivery %d", id))
			return
		}
		if !people.Can(p, people.ActDeliveriesWrite, "") {
			sys, err := c.o.Registry.Get(r.Context(), items[0].Target)
			if err != nil || !c.allow(w, r, people.ActDeliveriesWrite, sys.Unit) {
				if err != nil {
					c.fail(w, r, bus.ErrRoleForbidden.New("%s", people.ActDeliveriesWrite))
				}
				return
			}
		}
		do := ops.Discard
		if retry {
			do = ops.Requeue
		}
		if _, err := do(r.Context(), store.OutboxFilter{ID: id}, false); err != nil {
			c.fail(w, r, err)
			return
		}
		redirectDone(w, r, "/console/deliveries", "done")
	}
}

// ---- Routes ----

type routesData struct {
	Routes    []*route.Route
	Problems  string
	CanReload bool
}

func (c *Console) routesPage(w http.ResponseWriter, r *http.Request) {
	d := routesData{CanReload: people.Can(person(r), people.ActRoutesReload, "")}
	if set := c.o.Routes(); set != nil {
		d.Routes = set.Routes()
	}
	if c.o.Lint != nil {
		if err := c.o.Lint(); err != nil {
			d.Problems = err.Error()
		}
	}
	pg := c.newPage(w, r, "routes")
	pg.Data = d
	c.render(w, r, "routes", pg, 0)
}

func (c *Console) reloadRoutes(w http.ResponseWriter, r *http.Request) {
	if _, err := c.o.Reload(); err != nil {
		c.fail(w, r, bus.ErrRouteInvalid.New("%v", err))
		return
	}
	redirectDone(w, r, "/console/routes", "done")
}

// ---- Reports (R7) ----

type reportsData struct {
	From, To, By, Every string
	Bys, Periods        []string
	Report              *report.Report
	Query               string
}

// reportQuery reads the report form; a person limited to a unit gets that
// unit's figures only (M6).
func (c *Console) reportQuery(r *http.Request) (report.Query, reportsData, error) {
	q := r.URL.Query()
	now := c.now().In(store.StatsZone)
	d := reportsData{From: q.Get("from"), To: q.Get("to"), By: q.Get("by"), Every: q.Get("every"), Bys: report.Bys, Periods: report.Periods}
	if d.From == "" {
		d.From = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, store.StatsZone).Format("2006-01-02")
	}
	if d.To == "" {
		d.To = now.Format("2006-01-02")
	}
	if d.By == "" {
		d.By = "unit"
	}
	from, err := formDate(d.From, "from")
	if err != nil {
		return report.Query{}, d, err
	}
	to, err := formDate(d.To, "to")
	if err != nil {
		return report.Query{}, d, err
	}
	rq := report.Query{From: from, To: to, By: d.By, Every: d.Every}
	unit, ok := unitScope(person(r), people.ActReportsRead)
	if !ok {
		return rq, d, bus.ErrRoleForbidden.New("%s", people.ActReportsRead)
	}
	rq.Unit = unit
	d.Query = "from=" + d.From + "&to=" + d.To + "&by=" + d.By + "&every=" + d.Every
	return rq, d, rq.Validate()
}

func (c *Console) reportsPage(w http.ResponseWriter, r *http.Request) {
	rq, d, err := c.reportQuery(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if r.URL.Query().Get("from") != "" {
		rep, err := report.Build(r.Context(), c.o.Store, rq)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		d.Report = &rep
	}
	pg := c.newPage(w, r, "reports")
	pg.Data = d
	c.render(w, r, "reports", pg, 0)
}

// reportDownload answers the report as XLSX or CSV (report.Write, as the
// admin API).
func (c *Console) reportDownload(w http.ResponseWriter, r *http.Request) {
	rq, _, err := c.reportQuery(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	f := r.URL.Query().Get("format")
	ct := map[string]string{"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}[f]
	if ct == "" {
		c.fail(w, r, bus.ErrBadRequest.New("format must be xlsx or csv"))
		return
	}
	rep, err := report.Build(r.Context(), c.o.Store, rq)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition", `attachment; filename="bao-cao-lgsp.`+f+`"`)
	w.Header().Set("Cache-Control", "no-store")
	if err := report.Write(w, rep, f); err != nil {
		c.o.Log.WithError(err).Error("console: writing a report")
	}
}

// ---- Activity log (M5, M6) ----

type activityData struct {
	System, From, To string
	ErrorsOnly       bool
	Systems          []store.System
	Entries          []store.ActivityEntry
	CanVerify        bool
	Verified         *activity.Report
}

func (c *Console) activityData(r *http.Request) (activityData, error) {
	ctx, p, q := r.Context(), person(r), r.URL.Query()
	d := activityData{System: q.Get("system"), From: q.Get("from"), To: q.Get("to"), ErrorsOnly: q.Get("errors") == "on",
		CanVerify: people.Can(p, people.ActActivityVerify, p.Unit)}
	unit, ok := unitScope(p, people.ActActivityRead)
	if !ok {
		return d, bus.ErrRoleForbidden.New("%s", people.ActActivityRead)
	}
	var err error
	if d.Systems, err = c.systems(ctx, p, people.ActActivityRead); err != nil {
		return d, err
	}
	f := store.ActivityFilter{Unit: unit, ErrorsOnly: d.ErrorsOnly, Limit: 200}
	if d.System != "" {
		sys, err := c.o.Registry.Get(ctx, d.System)
		if err != nil {
			return d, err
		}
		if err := c.o.People.Allow(r, people.ActActivityRead, sys.Unit); err != nil {
			return d, err
		}
		f.SystemCode = sys.Code
	}
	if f.From, err = formDate(d.From, "from"); err != nil {
		return d, err
	}
	if f.To, err = formDate(d.To, "to"); err != nil {
		return d, err
	}
	if !f.To.IsZero() {
		f.To = f.To.AddDate(0, 0, 1)
	}
	d.Entries, err = c.o.Store.ListActivity(ctx, f)
	return d, err
}

func (c *Console) activityPage(w http.ResponseWriter, r *http.Request) {
	d, err := c.activityData(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	pg := c.newPage(w, r, "activity")
	pg.Data = d
	c.render(w, r, "activity", pg, 0)
}

// verifyActivity checks the activity log's chains and signed checkpoints
// (activity.Verify, as the admin API) and shows the result.
func (c *Console) verifyActivity(w http.ResponseWriter, r *http.Request) {
	rep, err := activity.Verify(r.Context(), c.o.Store)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d, err := c.activityData(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d.Verified = &rep
	pg := c.newPage(w, r, "activity")
	pg.Data = d
	c.render(w, r, "activity", pg, 0)
}

// ---- People and roles (M2) ----

type peopleData struct {
	People   []people.Person
	Roles    []string
	CanWrite bool
}

func (c *Console) peoplePage(w http.ResponseWriter, r *http.Request) {
	list, err := c.o.People.List(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Login < list[j].Login })
	pg := c.newPage(w, r, "people")
	pg.Data = peopleData{People: list, Roles: people.Roles, CanWrite: people.Can(person(r), people.ActPeopleWrite, "")}
	c.render(w, r, "people", pg, 0)
}

func (c *Console) addPerson(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	_, err := c.o.People.Add(r.Context(), "person:"+person(r).Login, people.Person{Login: f.Get("login"), Name: f.Get("name"), Email: f.Get("email"),
		Unit: strings.TrimSpace(f.Get("unit")), Roles: f["roles"]}, f.Get("password"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	redirectDone(w, r, "/console/people", "done")
}

func (c *Console) updatePerson(w http.ResponseWriter, r *http.Request) {
	old, err := c.o.People.ByLogin(r.Context(), r.PathValue("login"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	f := r.PostForm
	_, err = c.o.People.Update(r.Context(), "person:"+person(r).Login, people.Person{ID: old.ID, Name: old.Name, Email: old.Email, PersonalID: old.PersonalID,
		Unit: strings.TrimSpace(f.Get("unit")), Roles: f["roles"], Disabled: f.Get("disabled") == "on"})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	redirectDone(w, r, "/console/people", "done")
}
