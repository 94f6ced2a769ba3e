package service

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/activity"
	"github.com/tuyenquang/lgsp/bus/people"
	"github.com/tuyenquang/lgsp/bus/report"
	"github.com/tuyenquang/lgsp/bus/store"
)

// Activity returns the node's activity log (nil when it is off; Record on
// nil records nothing).
func (s *Service) Activity() *activity.Log { return s.activity }

// provisionActivity builds the activity log writer of this node.
func (s *Service) provisionActivity() {
	c := s.cfg.Activity
	if !c.Enabled {
		return
	}
	s.activity = activity.New(activity.Options{Store: s.store, Vault: s.vault, Node: s.cfg.Node,
		CheckpointEvery: c.CheckpointEvery, CheckpointInterval: c.CheckpointInterval,
		OnError: func(err error) { s.log.WithError(err).Error("activity log") }})
}

// pruneMetadata enforces reports.retention_years (the hourly job).
func (s *Service) pruneMetadata(ctx context.Context) {
	n, err := s.PruneMetadata(ctx)
	if err != nil {
		s.log.WithError(err).Error("pruning metadata past reports.retention_years")
		return
	}
	if n > 0 {
		s.log.WithField("rows", n).Info("pruned metadata past reports.retention_years")
	}
}

// PruneMetadata deletes the metadata older than reports.retention_years
// now (0 years: nothing) and returns how many rows went.
func (s *Service) PruneMetadata(ctx context.Context) (int64, error) {
	years := s.cfg.Reports.RetentionYears
	if years <= 0 {
		return 0, nil
	}
	return s.store.PruneMetadata(ctx, time.Now().AddDate(-years, 0, 0))
}

// Outcome names an HTTP answer for the activity log: "ok" or "http_<code>".
func Outcome(status int) string {
	if status == 0 || status < 400 {
		return activity.OK
	}
	return "http_" + strconv.Itoa(status)
}

// recordAdmin writes an admin action (any method but GET) to the activity
// log with its outcome, committed before the answer leaves
// (ActivityWriter): an acknowledged admin action is in the log even if the
// node dies the next instant. The path holds codes and ids only; bodies
// are never recorded.
func (s *Service) recordAdmin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || s.activity == nil {
			h(w, r)
			return
		}
		aw := NewActivityWriter(w, r, s.activity, func(status int) activity.Entry {
			return activity.Entry{Kind: "admin." + r.Method, Actor: "admin-api",
				SystemCode: r.PathValue("code"), Subject: r.URL.Path, Outcome: Outcome(status)}
		})
		defer aw.Finish()
		h(aw, r)
	}
}

// parseDay reads a yyyy-mm-dd date in Asia/Ho_Chi_Minh.
func parseDay(name, v string) (time.Time, error) {
	t, err := time.ParseInLocation("2006-01-02", v, store.StatsZone)
	if err != nil {
		return time.Time{}, bus.ErrBadRequest.New("%s must be a date yyyy-mm-dd", name)
	}
	return t, nil
}

// ReportQuery reads a report query from URL parameters: from, to
// (yyyy-mm-dd), by, every.
func ReportQuery(r *http.Request) (report.Query, error) {
	q := r.URL.Query()
	from, err := parseDay("from", q.Get("from"))
	if err != nil {
		return report.Query{}, err
	}
	to, err := parseDay("to", q.Get("to"))
	if err != nil {
		return report.Query{}, err
	}
	rq := report.Query{From: from, To: to, By: q.Get("by"), Every: q.Get("every")}
	if rq.By == "" {
		rq.By = "unit"
	}
	return rq, rq.Validate()
}

// writeReport answers with the report in the format asked for (json by
// default, csv, xlsx).
func writeReport(w http.ResponseWriter, r *http.Request, rep report.Report) {
	switch f := r.URL.Query().Get("format"); f {
	case "", "json":
		WriteJSON(w, http.StatusOK, rep)
	case "csv", "xlsx":
		ct := map[string]string{"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}[f]
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Content-Disposition", `attachment; filename="bao-cao-lgsp.`+f+`"`)
		if err := report.Write(w, rep, f); err != nil {
			s := Log(r.Context())
			s.WithError(err).Error("writing a report")
		}
	default:
		WriteProblem(w, r, bus.ErrBadRequest.New("format must be one of json, csv, xlsx"))
	}
}

// mountReports adds the admin API of reports, connection history and the
// activity log, and the API through which a unit reads its own (M6).
func (s *Service) mountReports() {
	m := s.mux
	// Reports and the activity log are open to people too: a unit
	// operator reads its own unit's only (M6), auditors and security
	// officers every unit's (docs/console.md).
	m.HandleFunc("GET /admin/v1/reports", s.adminOrPerson(people.ActReportsRead, func(w http.ResponseWriter, r *http.Request) {
		q, err := ReportQuery(r)
		if err == nil {
			q.Unit, err = s.unitScope(r, people.ActReportsRead, r.URL.Query().Get("unit"))
		}
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		rep, err := report.Build(r.Context(), s.store, q)
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		writeReport(w, r, rep)
	}))
	m.HandleFunc("GET /admin/v1/connections", s.admin(func(w http.ResponseWriter, r *http.Request) {
		q, err := ReportQuery(r)
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		days, err := s.store.ConnDays(r.Context(), store.Day(q.From), store.Day(q.To), r.URL.Query().Get("system"))
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		WriteJSON(w, http.StatusOK, map[string]any{"days": connDaysJSON(days)})
	}))
	m.HandleFunc("GET /admin/v1/activity", s.adminOrPerson(people.ActActivityRead, func(w http.ResponseWriter, r *http.Request) {
		f, err := activityFilter(r)
		if err == nil {
			f.Unit, err = s.unitScope(r, people.ActActivityRead, r.URL.Query().Get("unit"))
		}
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		f.SystemCode = r.URL.Query().Get("system")
		s.listActivity(w, r, f)
	}))
	m.HandleFunc("GET /admin/v1/activity/verify", s.adminOrPerson(people.ActActivityVerify, func(w http.ResponseWriter, r *http.Request) {
		rep, err := activity.Verify(r.Context(), s.store)
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		WriteJSON(w, http.StatusOK, map[string]any{"ok": rep.OK(), "nodes": rep.Nodes, "problems": rep.Problems})
	}))
	// A unit's own activity and errors (M6), with the key of one of its
	// systems: entries of the systems of the caller's unit, nothing else.
	m.HandleFunc("GET /v1/activity", func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authn.Authenticate(r)
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		if err := Admit(r.Context()); err != nil {
			WriteProblem(w, r, err)
			return
		}
		f, err := activityFilter(r)
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		// A system registered without a unit sees its own entries only: an
		// empty unit must never mean "every unit".
		if p.System.Unit != "" {
			f.Unit = p.System.Unit
		} else {
			f.SystemCode = p.SystemCode
		}
		s.listActivity(w, r, f)
	})
}

// activityFilter reads errors, from, to (RFC 3339) and limit (≤ 1000).
func activityFilter(r *http.Request) (store.ActivityFilter, error) {
	q := r.URL.Query()
	f := store.ActivityFilter{ErrorsOnly: q.Get("errors") == "true", Limit: 200}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return f, bus.ErrBadRequest.New("%s must be an RFC 3339 time", p.name)
			}
			*p.dst = t
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return f, bus.ErrBadRequest.New("limit must be 1 to 1000")
		}
		f.Limit = n
	}
	return f, nil
}

// ActivityJSON is an activity entry as the APIs show it.
type ActivityJSON struct {
	Node    string    `json:"node"`
	Seq     int64     `json:"seq"`
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"`
	Actor   string    `json:"actor"`
	System  string    `json:"system,omitempty"`
	Unit    string    `json:"unit,omitempty"`
	Subject string    `json:"subject,omitempty"`
	Outcome string    `json:"outcome"`
	Detail  string    `json:"detail,omitempty"`
}

func (s *Service) listActivity(w http.ResponseWriter, r *http.Request, f store.ActivityFilter) {
	list, err := s.store.ListActivity(r.Context(), f)
	if err != nil {
		WriteProblem(w, r, err)
		return
	}
	out := []ActivityJSON{}
	for _, e := range list {
		out = append(out, ActivityJSON{Node: e.Node, Seq: e.Seq, At: e.At, Kind: e.Kind, Actor: e.Actor, System: e.SystemCode, Unit: e.Unit, Subject: e.Subject, Outcome: e.Outcome, Detail: e.Detail})
	}
	WriteJSON(w, http.StatusOK, map[string]any{"entries": out})
}

// ConnDayJSON is a system's connections on one day.
type ConnDayJSON struct {
	Day    string    `json:"day"`
	System string    `json:"system"`
	First  time.Time `json:"first"`
	Last   time.Time `json:"last"`
	Count  int64     `json:"count"`
}

func connDaysJSON(days []store.ConnDay) []ConnDayJSON {
	out := []ConnDayJSON{}
	for _, d := range days {
		out = append(out, ConnDayJSON{Day: strconv.Itoa(d.Day), System: d.SystemCode, First: d.First, Last: d.Last, Count: d.Count})
	}
	return out
}
