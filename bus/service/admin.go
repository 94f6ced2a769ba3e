package service

import (
	"context"
	"net/http"
	"net/http/pprof"
	"net/url"
	"strconv"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/delivery"
	"github.com/tuyenquang/lgsp/bus/exchange"
	"github.com/tuyenquang/lgsp/bus/people"
	"github.com/tuyenquang/lgsp/bus/route"
	"github.com/tuyenquang/lgsp/bus/store"
)

// SystemJSON is a system as the admin API shows it.
type SystemJSON struct {
	Code       string    `json:"code"`
	Name       string    `json:"name"`
	Unit       string    `json:"unit,omitempty"`
	Contact    string    `json:"contact,omitempty"`
	Status     string    `json:"status,omitempty"`
	WebhookURL string    `json:"webhook_url,omitempty"`
	CreatedAt  time.Time `json:"created_at,omitzero"`
}

// SystemToJSON converts a stored system.
func SystemToJSON(s store.System) SystemJSON {
	return SystemJSON{Code: s.Code, Name: s.Name, Unit: s.Unit, Contact: s.Contact, Status: s.Status, WebhookURL: s.WebhookURL, CreatedAt: s.CreatedAt}
}

// KeyJSON is a key as the admin API shows it (never its secret).
type KeyJSON struct {
	AccessKey string    `json:"access_key"`
	System    string    `json:"system"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// IssuedKey is the one answer that carries a secret.
type IssuedKey struct {
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key"`
	System    string `json:"system"`
	Note      string `json:"note"`
}

// GrantJSON is a grant as the admin API takes and shows it.
type GrantJSON struct {
	ID          string    `json:"id,omitempty"`
	Kind        string    `json:"kind"`
	Source      string    `json:"source"`
	Destination string    `json:"destination,omitempty"`
	DataType    string    `json:"data_type,omitempty"`
	Service     string    `json:"service,omitempty"`
	Scope       string    `json:"scope,omitempty"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
	CreatedBy   string    `json:"created_by,omitempty"`
	RevokedAt   time.Time `json:"revoked_at,omitzero"`
	RevokedBy   string    `json:"revoked_by,omitempty"`
}

// GrantToJSON converts a stored grant.
func GrantToJSON(g store.Grant) GrantJSON {
	return GrantJSON{ID: g.ID, Kind: g.Kind, Source: g.Source, Destination: g.Destination, DataType: g.DataType, Service: g.Service, Scope: g.Scope, CreatedAt: g.CreatedAt, CreatedBy: g.CreatedBy, RevokedAt: g.RevokedAt, RevokedBy: g.RevokedBy}
}

// RouteJSON summarises a route.
type RouteJSON struct {
	Name      string   `json:"name"`
	File      string   `json:"file"`
	Sources   []string `json:"sources"`
	DataTypes []string `json:"data_types"`
	Delivery  string   `json:"delivery"`
	Schedule  string   `json:"schedule,omitempty"`
}

func routesJSON(set *route.Set) []RouteJSON {
	var out []RouteJSON
	for _, r := range set.Routes() {
		out = append(out, RouteJSON{Name: r.Name, File: r.File, Sources: r.Sources, DataTypes: r.DataTypes, Delivery: r.Delivery.Mode, Schedule: r.Delivery.Schedule})
	}
	return out
}

func (s *Service) mountAdmin() {
	m := s.mux
	lim := s.cfg.Limits.MaxJSONBytes
	// Systems and keys are open to people too (docs/console.md): a unit
	// operator sees and acts on its own unit's systems only (M6).
	m.HandleFunc("GET /admin/v1/systems", s.adminOrPerson(people.ActSystemsRead, func(w http.ResponseWriter, r *http.Request) {
		list, err := s.registry.List(r.Context())
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		p, all := s.mayReadAllUnits(r, people.ActSystemsRead)
		out := []SystemJSON{}
		for _, x := range list {
			if all || people.Can(p, people.ActSystemsRead, x.Unit) {
				out = append(out, SystemToJSON(x))
			}
		}
		WriteJSON(w, http.StatusOK, map[string]any{"systems": out})
	}))
	m.HandleFunc("POST /admin/v1/systems", s.admin(func(w http.ResponseWriter, r *http.Request) {
		var in SystemJSON
		if err := DecodeJSON(r, lim, &in); err != nil {
			WriteProblem(w, r, err)
			return
		}
		sys, warns, err := s.registry.AddSystem(r.Context(), store.System{Code: in.Code, Name: in.Name, Unit: in.Unit, Contact: in.Contact, WebhookURL: in.WebhookURL})
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		WriteJSON(w, http.StatusCreated, map[string]any{"system": SystemToJSON(sys), "warnings": warns})
	}))
	m.HandleFunc("GET /admin/v1/systems/{code}", s.adminOrPerson(people.ActSystemsRead, func(w http.ResponseWriter, r *http.Request) {
		sys, err := s.registry.Get(r.Context(), r.PathValue("code"))
		if err == nil {
			err = s.allowUnit(r, people.ActSystemsRead, sys.Unit)
		}
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		keys, err := s.registry.Keys(r.Context(), sys.Code)
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		kj := []KeyJSON{}
		for _, k := range keys {
			kj = append(kj, KeyJSON{AccessKey: k.AccessKey, System: k.SystemCode, Status: k.Status, CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt})
		}
		WriteJSON(w, http.StatusOK, map[string]any{"system": SystemToJSON(sys), "keys": kj})
	}))
	m.HandleFunc("PUT /admin/v1/systems/{code}/webhook", s.admin(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			WebhookURL string `json:"webhook_url"`
		}
		if err := DecodeJSON(r, lim, &in); err != nil {
			WriteProblem(w, r, err)
			return
		}
		sys, err := s.registry.SetWebhook(r.Context(), r.PathValue("code"), in.WebhookURL)
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		WriteJSON(w, http.StatusOK, map[string]any{"system": SystemToJSON(sys)})
	}))
	m.HandleFunc("POST /admin/v1/systems/{code}/suspend", s.admin(func(w http.ResponseWriter, r *http.Request) {
		if err := s.registry.Suspend(r.Context(), r.PathValue("code")); err != nil {
			WriteProblem(w, r, err)
			return
		}
		WriteJSON(w, http.StatusOK, map[string]string{"status": store.SystemSuspended})
	}))
	m.HandleFunc("POST /admin/v1/systems/{code}/resume", s.admin(func(w http.ResponseWriter, r *http.Request) {
		if err := s.registry.Resume(r.Context(), r.PathValue("code")); err != nil {
			WriteProblem(w, r, err)
			return
		}
		WriteJSON(w, http.StatusOK, map[string]string{"status": store.SystemActive})
	}))
	m.HandleFunc("POST /admin/v1/systems/{code}/keys", s.adminOrPerson(people.ActKeysWrite, func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			ExpiresAt time.Time `json:"expires_at"`
		}
		sys, err := s.registry.Get(r.Context(), r.PathValue("code"))
		if err == nil {
			err = s.allowUnit(r, people.ActKeysWrite, sys.Unit)
		}
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		if r.ContentLength != 0 {
			if err := DecodeJSON(r, lim, &in); err != nil {
				WriteProblem(w, r, err)
				return
			}
		}
		ak, sk, err := s.registry.IssueKey(r.Context(), r.PathValue("code"), in.ExpiresAt)
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		WriteJSON(w, http.StatusCreated, IssuedKey{AccessKey: ak, SecretKey: sk, System: r.PathValue("code"), Note: "the secret is shown only once: store it safely"})
	}))
	m.HandleFunc("POST /admin/v1/keys/{ak}/revoke", s.adminOrPerson(people.ActKeysWrite, func(w http.ResponseWriter, r *http.Request) {
		if _, ok := people.FromContext(r.Context()); ok {
			k, err := s.store.GetKey(r.Context(), r.PathValue("ak"))
			var sys store.System
			if err == nil {
				sys, err = s.registry.Get(r.Context(), k.SystemCode)
			}
			if err == nil {
				err = s.allowUnit(r, people.ActKeysWrite, sys.Unit)
			}
			if err != nil {
				WriteProblem(w, r, err)
				return
			}
		}
		if err := s.registry.RevokeKey(r.Context(), r.PathValue("ak")); err != nil {
			WriteProblem(w, r, err)
			return
		}
		WriteJSON(w, http.StatusOK, map[string]string{"status": store.KeyRevoked})
	}))
	m.HandleFunc("POST /admin/v1/grants", s.admin(func(w http.ResponseWriter, r *http.Request) {
		var in GrantJSON
		if err := DecodeJSON(r, lim, &in); err != nil {
			WriteProblem(w, r, err)
			return
		}
		g, err := s.grants.Add(r.Context(), store.Grant{Kind: in.Kind, Source: in.Source, Destination: in.Destination, DataType: in.DataType, Service: in.Service, Scope: in.Scope})
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		WriteJSON(w, http.StatusCreated, map[string]any{"grant": GrantToJSON(g)})
	}))
	m.HandleFunc("GET /admin/v1/grants", s.admin(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		list, err := s.grants.List(r.Context(), store.GrantFilter{Kind: q.Get("kind"), Source: q.Get("source"), Revoked: q.Get("revoked") == "true"})
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		out := []GrantJSON{}
		for _, g := range list {
			out = append(out, GrantToJSON(g))
		}
		WriteJSON(w, http.StatusOK, map[string]any{"grants": out})
	}))
	m.HandleFunc("POST /admin/v1/grants/{id}/revoke", s.admin(func(w http.ResponseWriter, r *http.Request) {
		if err := s.grants.Revoke(r.Context(), r.PathValue("id")); err != nil {
			WriteProblem(w, r, err)
			return
		}
		WriteJSON(w, http.StatusOK, map[string]string{"status": "revoked"})
	}))
	m.HandleFunc("GET /admin/v1/routes", s.admin(func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]any{"routes": routesJSON(s.routes.Load())})
	}))
	m.HandleFunc("POST /admin/v1/routes/reload", s.admin(func(w http.ResponseWriter, r *http.Request) {
		set, err := s.Reload()
		if err != nil {
			WriteProblem(w, r, bus.ErrRouteInvalid.New("%v", err))
			return
		}
		WriteJSON(w, http.StatusOK, map[string]any{"routes": routesJSON(set)})
	}))
	m.HandleFunc("GET /admin/v1/exchanges/{id}", s.admin(func(w http.ResponseWriter, r *http.Request) {
		st, err := s.exchange.Status(r.Context(), "", r.PathValue("id"))
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		WriteJSON(w, http.StatusOK, exchange.ViewOf(st.Exchange, st.Ledger))
	}))
	// Profiling for operators (where the time goes), behind the admin token.
	m.HandleFunc("GET /admin/v1/debug/pprof/{name}", s.admin(func(w http.ResponseWriter, r *http.Request) {
		pprof.Handler(r.PathValue("name")).ServeHTTP(w, r)
	}))
	m.HandleFunc("GET /admin/v1/debug/pprof/profile", s.admin(pprof.Profile))
	m.HandleFunc("GET /admin/v1/debug/pprof/trace", s.admin(pprof.Trace))
	// Deliveries (issue #10): list, requeue and discard dead letters; each
	// action is in the ledger of the exchanges concerned.
	ops := &delivery.Ops{Store: s.store, Actor: "admin", Node: s.cfg.Node}
	list := func(w http.ResponseWriter, r *http.Request) {
		f, err := outboxFilter(r.URL.Query())
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		items, err := ops.List(r.Context(), f)
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		WriteJSON(w, http.StatusOK, map[string]any{"items": items})
	}
	m.HandleFunc("GET /admin/v1/outbox", s.admin(func(w http.ResponseWriter, r *http.Request) { list(w, r) }))
	m.HandleFunc("GET /admin/v1/deliveries", s.admin(func(w http.ResponseWriter, r *http.Request) { list(w, r) }))
	act := func(do func(context.Context, store.OutboxFilter, bool) ([]delivery.View, error)) http.HandlerFunc {
		return s.admin(func(w http.ResponseWriter, r *http.Request) {
			var in DeliveryAction
			if err := DecodeJSON(r, lim, &in); err != nil {
				WriteProblem(w, r, err)
				return
			}
			items, err := do(r.Context(), store.OutboxFilter{ID: in.ID, Kind: in.Kind, Target: in.Target, ExchangeID: in.ExchangeID, Limit: in.Limit}, in.All)
			if err != nil {
				WriteProblem(w, r, err)
				return
			}
			WriteJSON(w, http.StatusOK, map[string]any{"count": len(items), "items": items})
		})
	}
	m.HandleFunc("POST /admin/v1/deliveries/retry", act(ops.Requeue))
	m.HandleFunc("POST /admin/v1/deliveries/discard", act(ops.Discard))
}

// DeliveryAction selects dead letters to requeue or discard: by id, or by
// kind, target and exchange; All acts on every dead letter (up to Limit).
type DeliveryAction struct {
	ID         int64  `json:"id,omitempty"`
	Kind       string `json:"kind,omitempty"`
	Target     string `json:"target,omitempty"`
	ExchangeID string `json:"exchange_id,omitempty"`
	All        bool   `json:"all,omitempty"`
	Limit      int    `json:"limit,omitempty"`
}

// outboxFilter reads ?status=&kind=&target=&exchange=&before=&limit=.
func outboxFilter(q url.Values) (store.OutboxFilter, error) {
	f := store.OutboxFilter{Status: q.Get("status"), Kind: q.Get("kind"), Target: q.Get("target"), ExchangeID: q.Get("exchange"), Limit: 200}
	switch f.Status {
	case "":
		f.Status = store.OutboxDead // what operators look for
	case "all":
		f.Status = ""
	}
	for name, p := range map[string]*int64{"before": &f.BeforeID, "id": &f.ID} {
		if v := q.Get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return f, bus.ErrBadRequest.New("%s must be a positive outbox id", name)
			}
			*p = n
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 1000 {
			return f, bus.ErrBadRequest.New("limit must be between 1 and 1000")
		}
		f.Limit = n
	}
	return f, nil
}
